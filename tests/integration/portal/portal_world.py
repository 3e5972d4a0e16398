"""A portal world for the tests: the portal behind FastAPI, its placements verified by a Bitrix24 sandbox.

Each person is a sandbox user; their token is one the sandbox's OAuth server issues for that user
(``Portal.issue_tokens``, what ``/oauth/token/`` hands out), so ``user.current`` answers for them only.
When the sandbox's placement knob lands, ``open_as`` becomes one knob call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from fastapi import FastAPI
from fastapi.testclient import TestClient

from connectors.bitrix24.budget import MemoryBudget
from portal.auth import PlacementVerifier, user_gateway
from portal.data import MemoryData
from portal.demo import DemoUsers, demo_app, demo_data
from portal.service import PortalService
from sandbox.bitrix24.testing import RunningSandbox

TODAY = date(2026, 3, 20)
SECRET = "portal-test-secret-0123456789abcdef"


@dataclass
class World:
    sb: RunningSandbox
    users: DemoUsers
    data: MemoryData
    service: PortalService
    app: FastAPI

    def placement_body(self, user_id: str, **overrides: str) -> dict[str, str]:
        token, refresh = self.sb.sandbox.portal.issue_tokens(int(user_id))
        body = {
            "AUTH_ID": token,
            "AUTH_EXPIRES": "3600",
            "REFRESH_ID": refresh,
            "member_id": self.sb.sandbox.portal.member_id,
            "status": "L",
            "PLACEMENT": "LEFT_MENU",
            "PLACEMENT_OPTIONS": "{}",
        }
        return {**body, **overrides}

    def open_as(self, client: TestClient, user_id: str) -> None:
        """What Bitrix24 does when the user opens the placement: POST the documented body."""
        query = "DOMAIN=portal.test&PROTOCOL=0&LANG=ru&APP_SID=s1"
        response = client.post(f"/portal/placement?{query}", data=self.placement_body(user_id))
        assert response.status_code == 200, response.text


def _add(sb: RunningSandbox, first: str, last: str) -> str:
    email = f"{first.lower()}.{last.lower()}@example.test"
    return str(sb.knobs.add_user({"NAME": first, "LAST_NAME": last, "EMAIL": email}))


def build_world(sb: RunningSandbox) -> World:
    sb.knobs.install()
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
