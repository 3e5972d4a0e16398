"""The portal inside the bridge's service: ``mount_portal(app, settings, store)`` (webhooks/app.py calls it).

Served under ``/portal`` when ``portal.session_secret`` is set. Each request opens one unit of work and a
``SqlPortalData`` on it (committed when the page's handler returns, rolled back when it raises), so an
approval and the ``SubmitTimesheet`` it queues in the outbox are one commit. Placement calls are checked
with the configured portal's ``user.current`` through a gateway without the application's tokens, under
the portal's shared request budget; once the application is installed, a call from another portal
(``member_id``) is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from urllib.parse import urlparse

from fastapi import FastAPI

from config.settings import PortalSettings as PortalConfig
from config.settings import Settings
from config.wiring import Store
from connectors.bitrix24.auth import StoreVault
from connectors.bitrix24.budget import DbBudget
from connectors.bitrix24.factory import build_bitrix24, portal_key
from connectors.errors import ConfigError
from connectors.onec import build_onec
from core.clock import utcnow
from core.ids import B24UserId
from portal.auth import PlacementVerifier, user_gateway
from portal.data import PortalData
from portal.pages import PortalPorts
from portal.store import SqlPortalData
from portal.throttle import SharedRegistrationLimit
from portal.web import DataScope, PortalSettings, create_portal_router
from store.uow import UnitOfWork
from timesheets.billing import RateCard

PREFIX = "/portal"


def portal_url(settings: Settings) -> str:
    """The Bitrix24 portal's origin: ``bitrix24.portal_url``, else the webhook's host."""
    b24 = settings.bitrix24
    if b24.portal_url:
        return b24.portal_url.rstrip("/")
    parsed = urlparse(b24.webhook_url.get_secret_value() if b24.webhook_url else "")
    return f"{parsed.scheme}://{parsed.netloc}" if parsed.netloc else ""


def rate_card(config: PortalConfig) -> RateCard:
    """The configured sites' rates: per site and time kind, and per site, position and time kind."""
    rates: dict[tuple[str, str], Decimal] = {}
    by_position: dict[tuple[str, str, str], Decimal] = {}
    for site in config.sites:
        for rate in site.rates:
            if rate.position:
                by_position[(site.site, rate.position, rate.time_kind)] = rate.rate
            else:
                rates[(site.site, rate.time_kind)] = rate.rate
    return RateCard({s.site: s.client for s in config.sites}, rates, by_position)


def data_scope(store: Store, config: PortalConfig) -> DataScope:
    managers = [B24UserId(i) for i in config.provider_managers]

    @contextmanager
    def opened() -> Iterator[PortalData]:
        with UnitOfWork(store.sessions) as uow:
            yield SqlPortalData(uow.session, provider_managers=managers, outbox=uow.outbox)

    return DataScope(opened)


def mount_portal(app: FastAPI, settings: Settings, store: Store) -> bool:
    """Include the portal's router under ``/portal``; False (nothing mounted) without a session secret."""
    config = settings.portal
    secret = config.session_secret.get_secret_value()
    base = portal_url(settings)
    if not secret or not base:
        return False
    b24 = settings.bitrix24
    budget = DbBudget(store.engine, portal_key(base), b24.rate, b24.burst)
    vault = StoreVault(store.sessions, portal_key(base))

    def installed_member() -> str | None:
        pair = vault.load()
        return pair.member_id if pair is not None and pair.member_id else None

    gateway = user_gateway(base, budget, timeout_seconds=b24.timeout_seconds)
    app.router.on_shutdown.append(gateway.close)
    verifier = PlacementVerifier(gateway, member_id=installed_member)
    router = create_portal_router(
        data=data_scope(store, config),
        verifier=verifier,
        settings=PortalSettings(
            secret,
            cookie_secure=config.cookie_secure,
            frame_ancestors=config.frame_ancestors or base,
            zones={s.site: s.timezone for s in config.sites if s.timezone},
            default_zone=settings.schedule.timezone,
        ),
        rates=rate_card(config),
        clock=utcnow,
        registration_limit=SharedRegistrationLimit(
            store.sessions, config.registrations_per_hour, secret.encode()
        ),
    )
    app.include_router(router, prefix=PREFIX)
    app.state.portal_ports = _ports(settings, store)
    for port in (app.state.portal_ports.onec, app.state.portal_ports.bitrix24):
        if port is not None:
            app.router.on_shutdown.append(port.close)
    return True


def _ports(settings: Settings, store: Store) -> PortalPorts:
    """What the added pages call (the cabinet's schedule, who is working today, resumes): 1C, and Bitrix24
    as the application; a side that is not configured is absent and its pages say so."""
    try:
        onec = build_onec(settings) if settings.onec.endpoint else None
    except ConfigError:
        onec = None
    try:
        b24 = build_bitrix24(settings, store)
    except ConfigError:
        b24 = None
    return PortalPorts(store.sessions, onec, b24)
