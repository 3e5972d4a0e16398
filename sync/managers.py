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
from typing import TYPE_CHECKING, Literal

from connectors.bitrix24 import directory
from connectors.bitrix24.port import Bitrix24Port
from core.clock import utcnow
from core.errors import SyncError
from core.ids import B24UserId, DepartmentRef
from mappings import Mapping
from mappings.schema import ManagerRoles, TGroupRole
from mappings.transforms import TransformError, normalize_email
from sync.repositories import Managers, Replica
from sync.uow import SyncUnitOfWork

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

TRole = Literal["timesheet_approver", "order_submitter", "viewer"]
ROLES: tuple[str, ...] = ("timesheet_approver", "order_submitter", "viewer")


class ManagerError(SyncError):
    """A manager assignment that cannot be made (bad e-mail, unknown site, unknown role)."""


@dataclass(frozen=True)
class Assignment:
    email: str
    name: str | None
    site_ref: DepartmentRef
    role: str
    b24_user_id: B24UserId | None
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
    known = Replica(session).known_sites(sites)
    unknown = sorted(set(sites) - known)
    if unknown:
        raise ManagerError(f"unknown site(s): {', '.join(unknown)} — run a sync first, or check the 1C refs")
    changed = 0
    rows = Managers(session)
    for site in sites:
        row = rows.assignment(address, site)
        if row is None:
            rows.add(address, name, site, role)
            changed += 1
        elif row.removed_at is not None or row.role != role:
            row.removed_at, row.role = None, role
            row.name = name or row.name
            changed += 1
    return changed


def remove(session: Session, email: str, sites: Sequence[str] | None = None) -> int:
    rows = Managers(session).active(_email(email), sites)
    for row in rows:
        row.removed_at = utcnow()
    return len(rows)


def listing(session: Session) -> list[Assignment]:
    rows = Managers(session).all()
    return [
        Assignment(
            r.email,
            r.name,
            DepartmentRef(r.site_ref),
            r.role,
            B24UserId(r.b24_user_id) if r.b24_user_id is not None else None,
            r.removed_at is not None,
        )
        for r in rows
    ]


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
    with SyncUnitOfWork(sessions) as uow:
        assignments = listing(uow.session)
        groups = {a.site_ref: uow.links.group_of_site(a.site_ref) for a in assignments}
    by_email: dict[str, list[Assignment]] = {}
    for item in assignments:
        by_email.setdefault(item.email, []).append(item)
    for email, items in sorted(by_email.items()):
        active = [a for a in items if not a.removed and groups.get(a.site_ref)]
        counts["waiting_for_group"] += sum(1 for a in items if not a.removed and not groups.get(a.site_ref))
        user_id: B24UserId | None = next((a.b24_user_id for a in items if a.b24_user_id), None)
        if user_id is None:
            found = await directory.find_user_by_email(b24, email)
            if found is not None:
                user_id = B24UserId(found.id)
                counts["adopted"] += 1
            elif active:
                first_group = groups[active[0].site_ref] or 0
                user_id = B24UserId(await directory.invite(b24, email, active[0].name or "", [first_group]))
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
        with SyncUnitOfWork(sessions) as uow:
            uow.managers.set_user(email, user_id)
    return counts
