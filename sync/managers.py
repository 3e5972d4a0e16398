"""Client managers: a person (by e-mail) assigned to client sites with a role. The bridge invites them
as extranet users and puts them into exactly their sites' groups; removal takes them out.

Roles: timesheet_approver, order_submitter, viewer (product brief §1). The mapping gives each its
workgroup role (default: timesheet approver → moderator E; order submitter and viewer → member K); a role
change moves it. Rows live in client_managers; applying is idempotent (adding skips existing members,
bitrix24-rest.md §4.5, and setting a role to the one held changes nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connectors.bitrix24 import directory
from connectors.bitrix24.port import Bitrix24Port
from core.clock import utcnow
from core.errors import SyncError
from mappings import Mapping
from mappings.schema import ManagerRoles, TGroupRole
from mappings.transforms import TransformError, normalize_email
from store.models import ClientManager, IdentityLink, SourceRecord

TRole = Literal["timesheet_approver", "order_submitter", "viewer"]
ROLES: tuple[str, ...] = ("timesheet_approver", "order_submitter", "viewer")


class ManagerError(SyncError):
    """A manager assignment that cannot be made (bad e-mail, unknown site, unknown role)."""


@dataclass(frozen=True)
class Assignment:
    email: str
    name: str | None
    site_ref: str
    role: str
    b24_user_id: int | None
    removed: bool


def _email(raw: str) -> str:
    try:
        return normalize_email(raw)
    except TransformError as exc:
        raise ManagerError(f"{exc.reason}: {raw!r} cannot be used") from exc


def add(session: Session, email: str, sites: Sequence[str], role: str, name: str | None = None) -> int:
    """Assign a manager to sites (idempotent); returns how many assignments are new or re-opened."""
    address = _email(email)
    if role not in ROLES:
        raise ManagerError(f"unknown role {role!r}; use one of: {', '.join(ROLES)}")
    known = set(
        session.scalars(
            select(SourceRecord.ref).where(SourceRecord.entity == "Department", SourceRecord.ref.in_(sites))
        )
    )
    unknown = sorted(set(sites) - known)
    if unknown:
        raise ManagerError(f"unknown site(s): {', '.join(unknown)} — run a sync first, or check the 1C refs")
    changed = 0
    for site in sites:
        row = session.scalar(
            select(ClientManager).where(ClientManager.email == address, ClientManager.site_ref == site)
        )
        if row is None:
            session.add(
                ClientManager(
                    email=address, name=name, site_ref=site, role=role, created_at=utcnow(), removed_at=None
                )
            )
            changed += 1
        elif row.removed_at is not None or row.role != role:
            row.removed_at, row.role = None, role
            row.name = name or row.name
            changed += 1
    return changed


def remove(session: Session, email: str, sites: Sequence[str] | None = None) -> int:
    address = _email(email)
    query = select(ClientManager).where(ClientManager.email == address, ClientManager.removed_at.is_(None))
    if sites:
        query = query.where(ClientManager.site_ref.in_(sites))
    rows = list(session.scalars(query))
    for row in rows:
        row.removed_at = utcnow()
    return len(rows)


def listing(session: Session) -> list[Assignment]:
    rows = session.scalars(select(ClientManager).order_by(ClientManager.email, ClientManager.site_ref))
    return [
        Assignment(
            r.email,
            r.name,
            r.site_ref,
            r.role,
            int(r.b24_user_id) if r.b24_user_id else None,
            r.removed_at is not None,
        )
        for r in rows
    ]


def _site_group(session: Session, site_ref: str) -> int | None:
    b24_id = session.scalar(
        select(IdentityLink.b24_id).where(
            IdentityLink.kind == "department", IdentityLink.source_ref == site_ref
        )
    )
    return int(b24_id) if b24_id else None


def _group_role(mapping: Mapping | None, role: str) -> TGroupRole:
    if mapping is not None:
        return mapping.manager_group_role(role)
    chosen: TGroupRole = getattr(ManagerRoles(), role)
    return chosen


async def apply(
    b24: Bitrix24Port, sessions: sessionmaker[Session], mapping: Mapping | None = None
) -> dict[str, int]:
    """Make Bitrix24 match the assignments: invite, add with the role's group role, remove. Returns counts.

    ``mapping`` gives the group role of each manager role (None: the default mapping's roles).
    """
    counts = {
        "invited": 0,
        "adopted": 0,
        "moderator_of": 0,
        "member_of": 0,
        "removed_from": 0,
        "waiting_for_group": 0,
    }
    with sessions() as session:
        assignments = listing(session)
        groups = {a.site_ref: _site_group(session, a.site_ref) for a in assignments}
    by_email: dict[str, list[Assignment]] = {}
    for item in assignments:
        by_email.setdefault(item.email, []).append(item)
    for email, items in sorted(by_email.items()):
        active = [a for a in items if not a.removed and groups.get(a.site_ref)]
        counts["waiting_for_group"] += sum(1 for a in items if not a.removed and not groups.get(a.site_ref))
        user_id: int | None = next((a.b24_user_id for a in items if a.b24_user_id), None)
        if user_id is None:
            found = await directory.find_user_by_email(b24, email)
            if found is not None:
                user_id = found.id
                counts["adopted"] += 1
            elif active:
                first_group = groups[active[0].site_ref] or 0
                user_id = await directory.invite(b24, email, active[0].name or "", [first_group])
                counts["invited"] += 1
            else:
                continue
        for item in active:
            group_id = groups[item.site_ref] or 0
            group_role = _group_role(mapping, item.role)
            await directory.join_with_role(b24, group_id, user_id, group_role)
            counts["moderator_of" if group_role == directory.MODERATOR else "member_of"] += 1
        for item in items:
            leave = groups.get(item.site_ref)
            if item.removed and leave:
                await directory.leave(b24, leave, user_id)
                counts["removed_from"] += 1
        with sessions.begin() as session:
            for row in session.scalars(select(ClientManager).where(ClientManager.email == email)):
                row.b24_user_id = str(user_id)
    return counts
