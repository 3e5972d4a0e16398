"""``PortalAuth``: the dependency every Bitrix24 route shares to know that a POST comes from the portal.

An event must carry the ``application_token`` kept from the install (bitrix24-rest.md §6.2: there is no
HMAC; the token comparison is the check) and, when it names one, the installed ``member_id``; both are
compared in constant time. An install (the install route, or ONAPPINSTALL at the event route) must
prove itself before anything is stored or replaced:

1. the bridge is configured for an OAuth application (``bitrix24.portal_url`` and ``app.client_id``);
2. ``auth[client_endpoint]`` and ``auth[domain]`` name the configured portal;
3. an installed ``member_id`` can only be installed again, never replaced by another one;
4. the configured portal, called back with the offered access token, says the token is our
   application's and an administrator's (``connectors.bitrix24.auth.verify_install``).

Only then are the tokens and the (possibly new) ``application_token`` saved. Every refusal is logged
with its reason and never with a token.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from dataclasses import dataclass
from typing import Annotated, TypeVar
from urllib.parse import urlparse

from fastapi import Depends, Request

from config.settings import Settings
from config.wiring import Store
from connectors.bitrix24.auth import (
    InstallRefused,
    PortalUnreachable,
    StoreVault,
    TokenPair,
    verify_install,
)
from webhooks.bodies import INSTALL_EVENT, BodyError, EventBody, InstallBody, parse_body
from webhooks.deps import SettingsDep, StoreDep
from webhooks.errors import Refusal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PortalCall:
    """A POST that passed ``PortalAuth``: the parsed body; ``installed`` for a verified install."""

    body: EventBody
    member_id: str
    """The installed portal's member_id (from the stored install when the event does not name it)."""
    installed: bool = False


def _same(given: str | None, expected: str | None) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def _refuse(status: int, error: str, reason: str, what: str) -> Refusal:
    log.warning(f"bitrix24.{what}.refused", extra={"reason": reason})
    return Refusal(status, error, reason)


M = TypeVar("M", bound=EventBody)


async def _parse(request: Request, model: type[M], what: str) -> M:
    try:
        return parse_body(model, await request.body())
    except BodyError as exc:
        raise _refuse(400, "bad_body", str(exc), what) from None


def _portal_host(url: str) -> tuple[str, str]:
    parsed = urlparse(url)
    return parsed.scheme.lower(), parsed.netloc.lower()


async def accept_install(body: InstallBody, settings: Settings, store: Store) -> None:
    """Verify an offered install and keep its tokens, or raise ``Refusal`` (see the module's rules)."""
    b24 = settings.bitrix24
    if not b24.portal_url or not b24.app.client_id:
        raise _refuse(
            503,
            "not_configured",
            "installs need bitrix24.portal_url and bitrix24.app.client_id in the bridge's settings",
            "install",
        )
    auth = body.auth
    scheme, host = _portal_host(b24.portal_url)
    if _portal_host(auth.client_endpoint) != (scheme, host):
        raise _refuse(403, "foreign_portal", "auth[client_endpoint] is not the configured portal", "install")
    if auth.domain.lower() != host:
        raise _refuse(403, "foreign_portal", "auth[domain] is not the configured portal", "install")
    vault = StoreVault(store.sessions, host)
    current = await asyncio.to_thread(vault.load)
    if current is not None and current.member_id and not _same(auth.member_id, current.member_id):
        raise _refuse(
            403, "foreign_portal", "the bridge is installed on another portal (member_id)", "install"
        )
    try:
        await verify_install(b24.portal_url, b24.app.client_id, auth.access_token)
    except InstallRefused as exc:
        raise _refuse(403, "install_not_verified", exc.operator_message, "install") from None
    except PortalUnreachable as exc:
        raise _refuse(503, "portal_unreachable", exc.operator_message, "install") from None
    if current is not None and not _same(auth.application_token, current.application_token):
        log.info("bitrix24.install.verified", extra={"member": auth.member_id, "token": "replaced"})
    await asyncio.to_thread(
        vault.save,
        TokenPair(
            access_token=auth.access_token,
            refresh_token=auth.refresh_token or "",
            member_id=auth.member_id,
            domain=auth.domain.lower(),
            expires_at=time.time() + (auth.expires_in or 3600),
            scope=auth.scope,
            application_token=auth.application_token,
        ),
    )
    log.info("bitrix24.install.verified", extra={"member": auth.member_id, "token": "stored"})


async def check_event(body: EventBody, store: Store) -> str:
    """An event must carry the installed application_token (and the installed member_id, if it names one).
    Returns the installed member_id."""
    stored = await asyncio.to_thread(StoreVault(store.sessions).load)
    if stored is None or not stored.application_token:
        raise _refuse(401, "not_installed", "no application is installed: install the bridge first", "event")
    if not _same(body.auth.application_token, stored.application_token):
        raise _refuse(401, "unknown_application_token", "unknown or missing application_token", "event")
    member = body.auth.member_id
    if member is not None and stored.member_id and not _same(member, stored.member_id):
        raise _refuse(401, "foreign_portal", "the event names another portal (member_id)", "event")
    return stored.member_id


async def portal_event(request: Request, settings: SettingsDep, store: StoreDep) -> PortalCall:
    """The event route: an event with the installed application_token, or a verified ONAPPINSTALL."""
    body = await _parse(request, EventBody, "event")
    if body.event == INSTALL_EVENT:
        install = await _parse(request, InstallBody, "install")
        await accept_install(install, settings, store)
        return PortalCall(install, install.auth.member_id, installed=True)
    return PortalCall(body, await check_event(body, store))


async def portal_install(request: Request, settings: SettingsDep, store: StoreDep) -> PortalCall:
    """The install route: only a verified ONAPPINSTALL."""
    body = await _parse(request, InstallBody, "install")
    if body.event != INSTALL_EVENT:
        raise _refuse(400, "bad_body", "event: the install handler takes ONAPPINSTALL only", "install")
    await accept_install(body, settings, store)
    return PortalCall(body, body.auth.member_id, installed=True)


PortalAuth = Annotated[PortalCall, Depends(portal_event)]
PortalInstall = Annotated[PortalCall, Depends(portal_install)]
