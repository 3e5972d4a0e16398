"""A portal world for the tests: the portal behind FastAPI, its placements verified by a Bitrix24 sandbox.

The app is installed and binds ``LEFT_MENU`` to the portal's handler; each person is a sandbox user, and
``open_as`` is the sandbox's placement knob (``/_sandbox/placement/open``): the documented body with a
fresh token of that user, which ``user.current`` answers for them only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from connectors.bitrix24.budget import MemoryBudget
from core.ids import B24UserId
from portal.auth import PlacementVerifier, user_gateway
from portal.data import MemoryData
from portal.demo import DemoUsers, demo_app, demo_data
from portal.service import PortalService
from sandbox.bitrix24.testing import RunningSandbox

TODAY = date(2026, 3, 20)
SECRET = "portal-test-secret-0123456789abcdef"
HANDLER_BASE = "http://testserver"  # the TestClient's host


@dataclass
class World:
    sb: RunningSandbox
    users: DemoUsers
    data: MemoryData
    service: PortalService
    app: FastAPI

    def placement_call(self, user_id: B24UserId) -> tuple[str, dict[str, str]]:
        """What Bitrix24 POSTs when the user opens the bound LEFT_MENU page (the sandbox's knob)."""
        call = self.sb.knobs.open_placement("LEFT_MENU", user_id, post=False)
        return str(call["url"]), dict(call["form"])

    def placement_body(self, user_id: B24UserId, **overrides: str) -> dict[str, str]:
        return {**self.placement_call(user_id)[1], **overrides}

    def open_as(self, client: TestClient, user_id: B24UserId) -> None:
        url, form = self.placement_call(user_id)
        response = client.post(url, data=form)
        assert response.status_code == 200, response.text


def bind_placement(sb: RunningSandbox, app_token: str, handler: str) -> None:
    """``placement.bind`` as the installer does it (app context; bitrix24-rest.md §9.2)."""
    body = {"PLACEMENT": "LEFT_MENU", "HANDLER": handler, "TITLE": "Кабинет", "auth": app_token}
    answer = httpx.post(f"{sb.base_url}/rest/placement.bind.json", json=body, timeout=10)
    assert answer.json().get("result") is True, answer.text


def _add(sb: RunningSandbox, first: str, last: str) -> B24UserId:
    email = f"{first.lower()}.{last.lower()}@example.test"
    return B24UserId(sb.knobs.add_user({"NAME": first, "LAST_NAME": last, "EMAIL": email}))


def build_world(sb: RunningSandbox) -> World:
    auth = sb.knobs.install()["auth"]
    bind_placement(sb, auth["access_token"], f"{HANDLER_BASE}/portal/placement")
    users = DemoUsers(
        employee=_add(sb, "Petr", "Ivanov"),
        approver_a=_add(sb, "Anna", "Klientova"),
        submitter_a=_add(sb, "Oleg", "Zakazov"),
        approver_b=_add(sb, "Boris", "Yuzhny"),
        provider=_add(sb, "Maria", "Postavshchikova"),
    )
    data, service = demo_data(users, TODAY)
    verifier = PlacementVerifier(
        user_gateway(sb.base_url, MemoryBudget(100, 100)), member_id=sb.sandbox.portal.member_id
    )
    app = demo_app(data, service, verifier, session_secret=SECRET, cookie_secure=False)
    return World(sb, users, data, service, app)
