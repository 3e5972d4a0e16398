"""The admin API: status and client managers, behind the admin bearer token."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from sync import managers
from sync.report import status as read_status
from webhooks.deps import AdminUser, StoreDep
from webhooks.errors import responses

router = APIRouter(prefix="/admin", tags=["admin"], responses=responses(401, 413, 503))


class ManagerIn(BaseModel):
    email: str = Field(max_length=254)
    sites: list[str] = Field(min_length=1, max_length=500)
    role: Literal["timesheet_approver", "order_submitter", "viewer"] = "viewer"
    name: str | None = Field(default=None, max_length=255)


@router.get("/status")
def status(_: AdminUser, store: StoreDep) -> dict[str, Any]:
    with store.sessions() as session:
        return dataclasses.asdict(read_status(session))


@router.get("/managers")
def list_managers(_: AdminUser, store: StoreDep) -> list[dict[str, Any]]:
    with store.sessions() as session:
        return [dataclasses.asdict(a) for a in managers.listing(session)]


@router.post("/managers", status_code=201, responses=responses(400, 422))
def add_manager(body: ManagerIn, _: AdminUser, store: StoreDep) -> dict[str, Any]:
    """Assign; the scheduled manager job (or `extranet-bridge managers add`) applies it in Bitrix24."""
    with store.sessions.begin() as session:
        changed = managers.add(session, body.email, body.sites, body.role, body.name)
    return {"changed": changed}


@router.delete("/managers/{email}", responses=responses(422))
def remove_manager(email: str, _: AdminUser, store: StoreDep, site: str | None = None) -> dict[str, Any]:
    with store.sessions.begin() as session:
        removed = managers.remove(session, email, [site] if site else None)
    return {"removed": removed}
