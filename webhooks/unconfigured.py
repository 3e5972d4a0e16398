"""The service before Bitrix24 or 1C is configured: it starts, answers ``/healthz`` and the admin API, is
not ready, and a scheduled job that needs the missing system is skipped with one info line.

``service_bridge`` builds the adapters like ``config.wiring.open_bridge`` but puts a stand-in where a
system is not configured (every call raises ``NotConfigured``) and, for the OAuth application, refuses
calls the same way until the application is installed. The scheduler records ``NotConfigured`` as a
skip (webhooks/scheduler.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, cast

from config.settings import Settings
from config.wiring import Bridge, Store
from connectors.errors import ConfigError

if TYPE_CHECKING:
    from connectors.bitrix24.auth import TokenVault
    from connectors.bitrix24.port import Bitrix24Port, Call, CallOutcome
    from connectors.onec.port import OneCPort

BITRIX24 = "bitrix24"
ONEC = "1c"


class NotConfigured(ConfigError):
    """A system the call needs is not configured (or its application not installed) yet."""


def missing_settings(settings: Settings) -> dict[str, str]:
    """The systems the settings leave out, each with what to set."""
    missing: dict[str, str] = {}
    b24 = settings.bitrix24
    webhook = b24.webhook_url.get_secret_value() if b24.webhook_url else ""
    if not webhook and not (b24.portal_url and b24.app.client_id):
        missing[BITRIX24] = "set bitrix24.webhook_url, or portal_url and the app"
    if not settings.onec.endpoint and not settings.onec.wsdl:
        missing[ONEC] = "set onec.endpoint or onec.wsdl"
    return missing


def uses_application(settings: Settings) -> bool:
    """Bitrix24 is reached through the OAuth application (its tokens come with the install)."""
    b24 = settings.bitrix24
    return not (b24.webhook_url and b24.webhook_url.get_secret_value()) and bool(b24.app.client_id)


class Unconfigured:
    """Stands in for the adapter of a system that is not configured: every call refuses."""

    def __init__(self, system: str) -> None:
        self.system = system

    def _refuse(self, *_args: Any, **_kwargs: Any) -> NoReturn:
        raise NotConfigured(f"{self.system}: not configured")

    def __getattr__(self, name: str) -> Any:
        return self._refuse

    async def close(self) -> None:
        return None


class InstalledOnly:
    """The Bitrix24 gateway of the OAuth application, refusing with ``NotConfigured`` until the
    application's tokens are in the store (the install brings them)."""

    def __init__(self, gateway: Bitrix24Port, vault: TokenVault) -> None:
        self._gateway = gateway
        self._vault = vault
        self._installed = False

    async def _check(self) -> None:
        if not self._installed:
            self._installed = await asyncio.to_thread(self._vault.load) is not None
        if not self._installed:
            raise NotConfigured("bitrix24: the application is not installed yet")

    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        await self._check()
        return await self._gateway.call(method, params)

    async def batch(self, calls: Sequence[Call], *, halt: bool = False) -> list[CallOutcome]:
        await self._check()
        return await self._gateway.batch(calls, halt=halt)

    async def list_all(
        self, method: str, params: Mapping[str, Any] | None = None, *, id_key: str = "ID"
    ) -> AsyncIterator[list[dict[str, Any]]]:
        await self._check()
        async for page in self._gateway.list_all(method, params, id_key=id_key):
            yield page

    async def close(self) -> None:
        await self._gateway.close()


def service_bridge(settings: Settings, store: Store) -> Bridge:
    """The adapters of the service, with stand-ins for what is not configured (no network I/O here)."""
    from connectors.bitrix24 import build_bitrix24
    from connectors.bitrix24.auth import StoreVault
    from connectors.bitrix24.factory import portal_key
    from connectors.messaging import build_messaging
    from connectors.onec import build_onec
    from mappings import load_mapping

    missing = missing_settings(settings)
    mapping = load_mapping(settings.sync.mapping or None)
    b24: Bitrix24Port
    if BITRIX24 in missing:
        b24 = cast("Bitrix24Port", Unconfigured(BITRIX24))
    elif uses_application(settings):
        vault = StoreVault(store.sessions, portal_key(settings.bitrix24.portal_url))
        b24 = cast("Bitrix24Port", InstalledOnly(build_bitrix24(settings, store), vault))
    else:
        b24 = build_bitrix24(settings, store)
    onec = cast("OneCPort", Unconfigured(ONEC)) if ONEC in missing else build_onec(settings)
    messaging = (
        build_messaging(settings)
        if settings.messaging.smtp.host or settings.messaging.sms.provider != "none"
        else None
    )
    return Bridge(settings, store, b24, onec, messaging, mapping)
