"""FastAPI dependencies as ``Annotated`` aliases: the store, the settings, the admin caller."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from config.settings import Settings
from config.wiring import Store


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def require_admin(settings: SettingsDep, authorization: Annotated[str | None, Header()] = None) -> str:
    expected = settings.server.admin_token.get_secret_value()
    if not expected:
        raise HTTPException(503, "the admin API is disabled: set server.admin_token")
    given = (authorization or "").removeprefix("Bearer ").strip()
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(401, "wrong or missing admin token", headers={"WWW-Authenticate": "Bearer"})
    return "admin"


AdminUser = Annotated[str, Depends(require_admin)]
