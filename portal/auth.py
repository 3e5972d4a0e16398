"""Who is behind a page: the placement call verified with Bitrix24, then a signed session cookie.

Bitrix24 opens a placement by POSTing the user's ``AUTH_ID`` (and ``member_id``, ``PLACEMENT``…) to the
handler (bitrix24-rest.md §9.2, widgets/_includes/widget_data.md). Nothing in that body is trusted: the
bridge asks **its configured portal** (never the ``DOMAIN`` of the query string) ``user.current`` with that
token, and the answer names the user. The call goes through the connector's gateway built *without* the
application's tokens — a gateway with them would send the app's own token instead (fast-bitrix24 puts
its token into ``auth``) and every page would open as the installing admin.

The session is a cookie signed with itsdangerous (user id, a CSRF token, the language), valid for
``max_age`` seconds; every form carries the CSRF token and every POST is checked against it.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from itsdangerous import BadSignature, URLSafeTimedSerializer

from connectors.bitrix24.budget import Budget
from connectors.bitrix24.errors import Bitrix24ApiError
from connectors.bitrix24.gateway import Bitrix24Gateway, RetryPolicy
from core.ids import B24UserId

log = logging.getLogger(__name__)
COOKIE = "eb_portal"


class PlacementRejected(PermissionError):
    """The placement call could not be verified; the message is safe to show."""


class CallsBitrix24(Protocol):
    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any: ...


@dataclass(frozen=True, slots=True)
class B24User:
    user_id: B24UserId
    name: str


class PlacementVerifier:
    """Checks a placement POST with ``user.current`` and returns the user it belongs to."""

    def __init__(
        self, gateway: CallsBitrix24, *, member_id: str | Callable[[], str | None] | None = None
    ) -> None:
        self.gateway = gateway
        self.member_id = member_id
        """The installed portal's ``member_id``, or how to read it (it exists once the app is installed)."""

    async def verify(self, form: Mapping[str, str]) -> B24User:
        token = (form.get("AUTH_ID") or "").strip()
        if not token:
            raise PlacementRejected("Откройте страницу из Битрикс24: нет данных авторизации")
        expected = await asyncio.to_thread(self.member_id) if callable(self.member_id) else self.member_id
        if expected and not hmac.compare_digest(form.get("member_id") or "", expected):
            log.warning("portal.placement.refused", extra={"reason": "another portal"})
            raise PlacementRejected("Страница открыта из другого портала Битрикс24")
        try:
            user = await self.gateway.call("user.current", {"auth": token})
        except Bitrix24ApiError as exc:
            log.warning(
                "portal.placement.refused", extra={"reason": "token refused by bitrix24", "code": exc.code}
            )
            raise PlacementRejected("Битрикс24 не подтвердил вход: откройте страницу заново") from None
        user_id = _user_id(user.get("ID") if isinstance(user, dict) else None)
        if user_id is None or not isinstance(user, dict):
            raise PlacementRejected("Битрикс24 не подтвердил вход: откройте страницу заново")
        name = " ".join(str(user.get(k) or "").strip() for k in ("NAME", "LAST_NAME")).strip()
        return B24User(user_id, name)


def _user_id(value: object) -> B24UserId | None:
    """``user.current`` sends ``ID`` as a decimal string (bitrix24-rest.md §2.5); inside it is an integer."""
    text = str(value if value is not None else "").strip()
    return B24UserId(int(text)) if text.isascii() and text.isdecimal() and int(text) > 0 else None


def user_gateway(portal_url: str, budget: Budget, *, timeout_seconds: float = 15.0) -> Bitrix24Gateway:
    """A gateway for calls made with a user's own token (``auth`` in the body): no app tokens, few retries."""
    base = portal_url.rstrip("/") + "/rest/"
    retry = RetryPolicy(attempts=3, unmapped_attempts=1, initial_seconds=0.2, max_seconds=1.0)
    return Bitrix24Gateway(base, budget=budget, retry=retry, timeout_seconds=timeout_seconds)


@dataclass(frozen=True, slots=True)
class Session:
    user_id: B24UserId | None
    """None for a visitor (the self-registration form)."""
    csrf: str
    lang: str = "ru"


class Sessions:
    """Signed, timed session cookies."""

    def __init__(self, secret: str, *, max_age: int = 8 * 3600) -> None:
        if len(secret) < 32:
            raise ValueError("portal session secret: at least 32 characters")
        self._signer = URLSafeTimedSerializer(secret, salt="extranet-bridge-portal")
        self.max_age = max_age

    def new(self, user_id: B24UserId | None, lang: str = "ru") -> Session:
        return Session(user_id, secrets.token_urlsafe(24), lang if lang in ("ru", "en") else "ru")

    def dump(self, session: Session) -> str:
        return str(self._signer.dumps({"u": session.user_id, "c": session.csrf, "l": session.lang}))

    def load(self, cookie: str | None) -> Session | None:
        if not cookie:
            return None
        try:
            body = self._signer.loads(cookie, max_age=self.max_age)
        except BadSignature:
            return None
        if not isinstance(body, dict) or not isinstance(body.get("c"), str):
            return None
        user = body.get("u")
        if user is not None and (not isinstance(user, int) or isinstance(user, bool)):
            return None  # a cookie from before user ids were integers: open the page from Bitrix24 again
        return Session(B24UserId(user) if user is not None else None, body["c"], str(body.get("l") or "ru"))


def csrf_ok(session: Session | None, submitted: str | None) -> bool:
    return session is not None and bool(submitted) and hmac.compare_digest(session.csrf, submitted or "")
