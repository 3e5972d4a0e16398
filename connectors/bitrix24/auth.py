"""OAuth tokens of the local Bitrix24 application: where they are kept and how they are refreshed.

An incoming webhook carries its secret in the URL and needs nothing from here. An application calls
``https://<portal>/rest/<method>`` with ``auth=<access_token>``; the access token lives an hour and is
renewed with the refresh token at the OAuth server (bitrix24-rest.md §8.3:
``GET <oauth_server>/oauth/token/?grant_type=refresh_token&client_id=…&client_secret=…&refresh_token=…``).
Bitrix24 rotates the refresh token on every renewal, so the new pair is saved before it is used.

``TokenVault`` is where the pair lives (``StoreVault``: the ``app_tokens`` table; ``MemoryVault`` for a
process without a store). ``OAuthTokens`` hands out the access token and refreshes it once for all
concurrent callers. Never logs a token, a secret or a refresh URL.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connectors.bitrix24.errors import Action, Bitrix24ApiError, Resolution, api_error, classify
from core.errors import Bitrix24Error, Terminal, Transient
from core.redact import redact_text
from store.models import AppToken

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenPair:
    """The application's tokens for one portal."""

    access_token: str
    refresh_token: str
    member_id: str = ""
    domain: str = ""
    expires_at: float | None = None
    """Unix time; None when unknown (then the token is used until Bitrix24 says ``expired_token``)."""
    scope: str | None = None
    application_token: str | None = None

    def __repr__(self) -> str:  # never print the tokens
        return (
            f"TokenPair(member_id={self.member_id!r}, domain={self.domain!r}, expires_at={self.expires_at})"
        )


class TokenVault(Protocol):
    def load(self) -> TokenPair | None: ...

    def save(self, pair: TokenPair) -> None: ...


class MemoryVault:
    def __init__(self, pair: TokenPair | None = None) -> None:
        self.pair = pair

    def load(self) -> TokenPair | None:
        return self.pair

    def save(self, pair: TokenPair) -> None:
        self.pair = pair


class StoreVault:
    """The ``app_tokens`` row of the portal: matched by domain, else the most recently updated row."""

    def __init__(self, sessions: sessionmaker[Session], domain: str = "") -> None:
        self.sessions = sessions
        self.domain = domain

    def _row(self, session: Session) -> AppToken | None:
        query = select(AppToken).order_by(AppToken.updated_at.desc())
        if self.domain:
            mine = session.scalars(query.where(AppToken.domain == self.domain)).first()
            if mine is not None:
                return mine
        # One bridge serves one portal: the domain the install event reports may differ from the URL host.
        return session.scalars(query).first()

    def load(self) -> TokenPair | None:
        with self.sessions() as session:
            row = self._row(session)
            if row is None:
                return None
            expires = row.expires_at
            return TokenPair(
                access_token=row.access_token,
                refresh_token=row.refresh_token,
                member_id=row.member_id,
                domain=row.domain,
                expires_at=expires.timestamp() if expires else None,
                scope=row.scope,
                application_token=row.application_token,
            )

    def save(self, pair: TokenPair) -> None:
        now = datetime.now(UTC)
        with self.sessions() as session, session.begin():
            row = session.get(AppToken, pair.member_id) if pair.member_id else self._row(session)
            if row is None:
                row = AppToken(member_id=pair.member_id or pair.domain or "default", domain=pair.domain)
                session.add(row)
            row.domain = pair.domain or row.domain
            row.access_token = pair.access_token
            row.refresh_token = pair.refresh_token
            row.scope = pair.scope if pair.scope is not None else row.scope
            if pair.application_token:
                row.application_token = pair.application_token
            row.expires_at = datetime.fromtimestamp(pair.expires_at, UTC) if pair.expires_at else None
            row.updated_at = now


def revoke_tokens(session: Session, member_id: str) -> bool:
    """The application was uninstalled: forget its tokens for ``member_id`` (the row goes, so neither the
    gateway nor an event check can use them). False when there was nothing to revoke."""
    row = session.get(AppToken, member_id)
    if row is None:
        return False
    session.delete(row)
    log.info("bitrix24.tokens.revoked", extra={"member": member_id})
    return True


_NOT_INSTALLED = Resolution(Action.FAIL_CONFIG, "the Bitrix24 application has no stored tokens (install it)")
_REFRESH_FAILED = Resolution(Action.RETRY, "the Bitrix24 OAuth server could not be reached")


class OAuthTokens:
    """Hands out the access token; refreshes it (once for all concurrent callers) and saves the new pair."""

    EARLY_SECONDS = 60.0
    """Refresh this long before ``expires_at`` rather than wait for ``expired_token``."""

    def __init__(
        self,
        vault: TokenVault,
        *,
        oauth_server: str,
        client_id: str,
        client_secret: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.vault = vault
        self.token_url = oauth_server.rstrip("/") + "/oauth/token/"
        self.client_id = client_id
        self._client_secret = client_secret
        self.clock = clock
        self._lock = asyncio.Lock()
        self._pair: TokenPair | None = None
        self.refreshes = 0

    async def access_token(self, session: aiohttp.ClientSession) -> str:
        """The current access token (refreshed first if it is about to expire)."""
        pair = self._pair or await asyncio.to_thread(self.vault.load)
        if pair is None:
            raise api_error(_NOT_INSTALLED, method="oauth")
        self._pair = pair
        if pair.expires_at is not None and pair.expires_at - self.EARLY_SECONDS <= self.clock():
            return await self.refresh(session, rejected=pair.access_token)
        return pair.access_token

    async def refresh(self, session: aiohttp.ClientSession, *, rejected: str | None) -> str:
        """A fresh access token. Reads the vault first: if another caller or another bridge instance
        already replaced ``rejected``, that token is used and the (rotated) refresh token is not spent."""
        async with self._lock:
            pair = await asyncio.to_thread(self.vault.load)
            if pair is None:
                raise api_error(_NOT_INSTALLED, method="oauth")
            if rejected is not None and pair.access_token != rejected:
                self._pair = pair
                return pair.access_token
            try:
                fresh = await self._exchange(session, pair)
            except Bitrix24ApiError as exc:
                # Two instances raced: the other one spent the refresh token first and saved the new pair.
                again = await asyncio.to_thread(self.vault.load)
                if (
                    exc.code == "invalid_grant"
                    and again is not None
                    and again.access_token != pair.access_token
                ):
                    self._pair = again
                    return again.access_token
                raise
            await asyncio.to_thread(self.vault.save, fresh)
            self._pair = fresh
            self.refreshes += 1
            log.info("bitrix24.token.refreshed", extra={"member": fresh.member_id or "-"})
            return fresh.access_token

    async def _exchange(self, session: aiohttp.ClientSession, pair: TokenPair) -> TokenPair:
        query = {
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "refresh_token": pair.refresh_token,
        }
        try:
            async with session.get(self.token_url, params=query, raise_for_status=False) as response:
                status = response.status
                body: Any = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise api_error(
                _REFRESH_FAILED, code=type(exc).__name__, description=redact_text(str(exc)), method="oauth"
            ) from None
        if status >= 400 or not isinstance(body, dict) or "access_token" not in body:
            code = str(body.get("error", "")) if isinstance(body, dict) else ""
            description = str(body.get("error_description", "")) if isinstance(body, dict) else ""
            raise api_error(classify(status, code, description), code=code, status=status, method="oauth")
        expires_in = body.get("expires_in")
        return replace(
            pair,
            access_token=str(body["access_token"]),
            refresh_token=str(body.get("refresh_token") or pair.refresh_token),
            member_id=str(body.get("member_id") or pair.member_id),
            # The answer's `domain` is the OAuth server's ("oauth.bitrix.info", settings/oauth/
            # auto-renewal.md), never the portal's: the portal stays the one the pair was saved for.
            domain=pair.domain or _host(body.get("client_endpoint")),
            expires_at=self.clock() + float(expires_in) if expires_in else None,
            scope=str(body["scope"]) if body.get("scope") else pair.scope,
        )


def _host(url: Any) -> str:
    """The host[:port] of ``client_endpoint`` (the portal's domain), or ''."""
    return urlsplit(str(url or "")).netloc


class InstallRefused(Bitrix24Error, Terminal):
    """An install whose access token does not prove it comes from the configured portal and application."""


class PortalUnreachable(Bitrix24Error, Transient):
    """The portal could not be asked whether an install is genuine."""


async def verify_install(
    portal_url: str, client_id: str, access_token: str, *, timeout_seconds: float = 15.0
) -> None:
    """Prove an offered install: call the configured portal back with the offered access token.

    ``app.info`` must answer there with our application's code (api-reference/common/system/app-info.md:
    ``CODE`` is the application code; a local application's is its ``client_id``), and ``profile`` must
    name an administrator (only an administrator installs an application, bitrix24-rest.md §6.2:
    ONAPPINSTALL's tokens are the installing admin's). The URL is the configured one, never the
    ``client_endpoint`` of the request, so an attacker's body cannot send the bridge elsewhere.
    Raises ``InstallRefused`` (with the reason, no token) or ``PortalUnreachable``.
    """
    base = portal_url.rstrip("/") + "/rest/"
    timeout = aiohttp.ClientTimeout(total=timeout_seconds)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        info = await _call_with(session, base, "app.info", access_token)
        if str(info.get("CODE", "")) != client_id:
            raise InstallRefused("the offered token belongs to another application of the portal")
        profile = await _call_with(session, base, "profile", access_token)
        if profile.get("ADMIN") is not True:
            raise InstallRefused("the offered token is not an administrator's")


async def _call_with(session: aiohttp.ClientSession, base: str, method: str, token: str) -> dict[str, Any]:
    try:
        async with session.post(base + method, json={"auth": token}) as response:
            status = response.status
            body: Any = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise PortalUnreachable(
            f"the portal did not answer {method} while an install was verified ({type(exc).__name__})"
        ) from None
    if isinstance(body, dict) and isinstance(body.get("result"), dict) and status < 400:
        result: dict[str, Any] = body["result"]
        return result
    code = str(body.get("error", "")) if isinstance(body, dict) else ""
    if status >= 500 or not code:
        raise PortalUnreachable(
            f"the portal answered {method} with HTTP {status} while an install was verified"
        )
    raise InstallRefused(f"the portal refused the offered token ({method}: {code[:64]}, HTTP {status})")
