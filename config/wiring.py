"""The composition root: settings → logging → engine → adapters. The CLI, `serve`, jobs and tests call it.

Nothing else builds clients, engines or settings; nothing here runs at import time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from config.logging import configure_logging
from config.settings import Settings, load_settings
from store.db import ensure_current, make_engine, session_factory


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
