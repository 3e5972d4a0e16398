"""Who may do what on which site: the one policy the pages, the API and the exports ask (pure).

A client manager acts only on the sites they are assigned to, with the rights of their role there
(``timesheet_approver``, ``order_submitter``, ``viewer``); a provider manager acts on every site; an
employee sees and fills only their own timesheets and requests. A denial is ``AccessDenied`` (the router
answers 403 with one Russian line) and is logged with the user id, action and site only — no names.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from core.ids import B24UserId

log = logging.getLogger(__name__)

Role = Literal["timesheet_approver", "order_submitter", "viewer"]
ROLES: tuple[Role, ...] = ("timesheet_approver", "order_submitter", "viewer")
ROLE_LABELS = {
    "timesheet_approver": "согласует табели",
    "order_submitter": "подаёт заявки",
    "viewer": "просмотр",
}
Kind = Literal["client_manager", "provider_manager", "employee"]
Action = Literal[
    "view",  # the site's dashboard, team, who is working, orders, history
    "view_resume",
    "approve_timesheet",  # approve, bulk approve, dispute
    "submit_order",  # staff orders and order change requests, comments
    "export",  # billing and summaries
    "fill_timesheet",  # the employee's own sheet
    "manage",  # provider only: sites, client managers, registrations, second-level approval
]
_RIGHTS: dict[Role, frozenset[Action]] = {
    "viewer": frozenset({"view", "view_resume"}),
    "timesheet_approver": frozenset({"view", "view_resume", "approve_timesheet", "export"}),
    "order_submitter": frozenset({"view", "view_resume", "submit_order"}),
}
_EMPLOYEE_RIGHTS: frozenset[Action] = frozenset({"view", "fill_timesheet"})


class AccessDenied(PermissionError):
    """The principal may not do this; ``message`` is what the page shows."""

    def __init__(self, message: str = "Нет доступа к этому объекту") -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified Bitrix24 user behind a page, and what the bridge knows of them."""

    user_id: B24UserId
    kind: Kind
    name: str = ""
    roles: dict[str, frozenset[Role]] = field(default_factory=dict)
    """client managers: site_ref → their roles there."""
    employee_ref: str | None = None
    """employees: their 1C employment ref."""
    employee_site: str | None = None


def allowed(principal: Principal, action: Action, site_ref: str, *, owner: str | None = None) -> bool:
    """May ``principal`` do ``action`` on ``site_ref`` (for ``owner``, the employee a record belongs to)?"""
    if principal.kind == "provider_manager":
        return True
    if principal.kind == "employee":
        own = owner is not None and owner == principal.employee_ref and site_ref == principal.employee_site
        return own and action in _EMPLOYEE_RIGHTS
    return any(action in _RIGHTS[role] for role in principal.roles.get(site_ref, ()))


def require(principal: Principal, action: Action, site_ref: str, *, owner: str | None = None) -> None:
    """``allowed`` or AccessDenied (logged without personal data)."""
    if not allowed(principal, action, site_ref, owner=owner):
        log.warning(
            "portal.access.denied", extra={"user": principal.user_id, "action": action, "site": site_ref}
        )
        raise AccessDenied()


def sites(principal: Principal, action: Action, every_site: Iterable[str]) -> list[str]:
    """The sites of ``every_site`` on which ``principal`` may do ``action`` (employees: their own)."""
    if principal.kind == "provider_manager":
        return sorted(set(every_site))
    if principal.kind == "employee":
        return [principal.employee_site] if principal.employee_site in set(every_site) else []
    return sorted(s for s in set(every_site) if any(action in _RIGHTS[r] for r in principal.roles.get(s, ())))


T = TypeVar("T")


def visible(
    principal: Principal,
    action: Action,
    items: Iterable[T],
    site_of: Callable[[T], str],
    owner_of: Callable[[T], str | None] = lambda _item: None,
) -> list[T]:
    """The items ``principal`` may ``action`` on: the one filter for lists, API answers and exports."""
    return [i for i in items if allowed(principal, action, site_of(i), owner=owner_of(i))]
