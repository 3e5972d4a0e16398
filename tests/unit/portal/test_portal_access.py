"""The access policy: a manager of site A reaches nothing of site B; roles limit what they do on A."""

from __future__ import annotations

import logging
from typing import get_args

import pytest

from core.ids import B24UserId
from portal.access import AccessDenied, Action, Principal, allowed, require, sites, visible
from tests.log_fields import record_text

ACTIONS: tuple[Action, ...] = get_args(Action)
APPROVER_A = Principal(
    B24UserId(20), "client_manager", "Клиентова Анна", {"site-A": frozenset({"timesheet_approver"})}
)
VIEWER_A = Principal(B24UserId(21), "client_manager", roles={"site-A": frozenset({"viewer"})})
PROVIDER = Principal(B24UserId(30), "provider_manager")
EMPLOYEE = Principal(B24UserId(10), "employee", employee_ref="emp-1", employee_site="site-A")


def test_a_manager_of_site_a_reaches_nothing_of_site_b() -> None:
    for action in ACTIONS:
        assert not allowed(APPROVER_A, action, "site-B"), action
        with pytest.raises(AccessDenied):
            require(APPROVER_A, action, "site-B")
    records = [("site-A", 1), ("site-B", 2), ("site-B", 3)]
    for action in ACTIONS:
        assert all(r[0] == "site-A" for r in visible(APPROVER_A, action, records, lambda r: r[0]))
    assert sites(APPROVER_A, "view", ["site-A", "site-B"]) == ["site-A"]


def test_roles_limit_actions_on_the_assigned_site() -> None:
    assert allowed(APPROVER_A, "approve_timesheet", "site-A")
    assert allowed(APPROVER_A, "export", "site-A")
    assert not allowed(APPROVER_A, "submit_order", "site-A")
    assert not allowed(APPROVER_A, "manage", "site-A")
    assert allowed(VIEWER_A, "view", "site-A") and allowed(VIEWER_A, "view_resume", "site-A")
    assert not any(allowed(VIEWER_A, a, "site-A") for a in ("approve_timesheet", "submit_order", "export"))
    assert sites(VIEWER_A, "approve_timesheet", ["site-A"]) == []


def test_employees_see_their_own_and_providers_everything() -> None:
    assert allowed(EMPLOYEE, "fill_timesheet", "site-A", owner="emp-1")
    assert not allowed(EMPLOYEE, "fill_timesheet", "site-A", owner="emp-2")
    assert not allowed(EMPLOYEE, "approve_timesheet", "site-A", owner="emp-1")
    assert all(allowed(PROVIDER, a, "site-Z") for a in ACTIONS)


def test_a_denial_is_logged_without_names(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="portal.access"), pytest.raises(AccessDenied):
        require(APPROVER_A, "view", "site-B")
    logged = "\n".join(record_text(record) for record in caplog.records)
    assert "portal.access.denied user=20 action=view site=site-B" in logged
    assert "Анна" not in logged and "Анна" not in caplog.text
