"""The composition root: settings → logging → engine → adapters. The CLI, `serve`, jobs and tests call it.

Nothing else builds clients, engines or settings; nothing here runs at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from config.logging import configure_logging
from config.settings import Settings, load_settings
from store.db import ensure_current, make_engine, session_factory

if TYPE_CHECKING:
    from connectors.bitrix24.port import Bitrix24Port
    from connectors.messaging.port import MessagingPort
    from connectors.onec.port import OneCPort
    from mappings import Mapping
    from sync.run import SyncContext


@dataclass
class Store:
    """An opened, current state store."""

    engine: Engine
    sessions: sessionmaker[Session]

    def dispose(self) -> None:
        self.engine.dispose()


def settings_from(path: str | Path | None = None) -> Settings:
    settings = load_settings(path)
    configure_logging(settings.logging.level, settings.logging.format, settings.logging.library_level)
    return settings


def open_store(settings: Settings, *, upgrade: bool | None = None) -> Store:
    """Open the database and make sure its schema is current (or refuse, see store.db.ensure_current)."""
    engine = make_engine(settings.database.url)
    ensure_current(engine, auto_upgrade=settings.database.auto_upgrade if upgrade is None else upgrade)
    return Store(engine, session_factory(engine))


@dataclass
class Bridge:
    """The opened adapters a command or the service works with. Close it when done."""

    settings: Settings
    store: Store
    b24: Bitrix24Port
    onec: OneCPort
    messaging: MessagingPort | None
    mapping: Mapping

    @property
    def portal_url(self) -> str:
        """Where invitees log in: the portal's address (from portal_url or the webhook's host)."""
        from urllib.parse import urlparse

        if self.settings.bitrix24.portal_url:
            return self.settings.bitrix24.portal_url.rstrip("/") + "/"
        webhook = self.settings.bitrix24.webhook_url
        parsed = urlparse(webhook.get_secret_value() if webhook else "")
        return f"{parsed.scheme}://{parsed.netloc}/" if parsed.netloc else ""

    async def close(self) -> None:
        await self.b24.close()
        await self.onec.close()
        if self.messaging is not None:
            await self.messaging.close()

    def sync_context(
        self, today: date | None = None, on_progress: Callable[[int], None] | None = None
    ) -> SyncContext:
        from sync.run import SyncContext

        return SyncContext(
            onec=self.onec,
            b24=self.b24,
            sessions=self.store.sessions,
            mapping=self.mapping,
            today=today,
            batch_size=self.settings.sync.batch_size,
            on_progress=on_progress,
        )


def open_bridge(settings: Settings, store: Store) -> Bridge:
    """Build every adapter from settings (no network I/O happens until the first call)."""
    from connectors.bitrix24 import build_bitrix24
    from connectors.messaging import build_messaging
    from connectors.onec import build_onec
    from mappings import load_mapping

    mapping = load_mapping(settings.sync.mapping or None)
    messaging = (
        build_messaging(settings)
        if settings.messaging.smtp.host or settings.messaging.sms.provider != "none"
        else None
    )
    return Bridge(settings, store, build_bitrix24(settings, store), build_onec(settings), messaging, mapping)
