"""FastAPI dependencies as ``Annotated`` aliases: the store, the settings, the admin caller."""

from __future__ import annotations

import hmac
import logging
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from config.settings import Settings
from config.wiring import Store
from webhooks.errors import Refusal

log = logging.getLogger(__name__)


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

_bearer = HTTPBearer(
    auto_error=False, description="server.admin_token, sent as `Authorization: Bearer <token>`"
)


def require_admin(
    settings: SettingsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> str:
    """The admin token in the ``Bearer`` scheme (RFC 6750), compared in constant time; nothing else."""
    expected = settings.server.admin_token.get_secret_value()
    if not expected:
        raise Refusal(503, "admin_disabled", "the admin API is disabled: set server.admin_token")
    given = credentials.credentials if credentials is not None else ""
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        log.warning(
            "admin_api.refused", extra={"reason": "wrong admin token" if given else "no Bearer token"}
        )
        raise Refusal(
            401,
            "unauthorized",
            "wrong or missing admin token (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return "admin"


AdminUser = Annotated[str, Depends(require_admin)]
