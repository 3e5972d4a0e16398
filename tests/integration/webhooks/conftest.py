"""The service against a Bitrix24 sandbox on loopback: bridge settings for its OAuth application, the
service in-process (ASGI) and served over HTTP (tests/integration/webhooks/harness.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from config.settings import Settings
from config.wiring import Store
from sandbox.bitrix24.params import encode_form
from sandbox.bitrix24.testing import RunningSandbox
from tests.integration.webhooks.harness import ADMIN, bridge_settings, serve_bridge, serve_portal
from webhooks.app import create_app

__all__ = ["ADMIN", "FORM", "bridge_settings", "event_body", "install_body"]

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="session")
def running_portal() -> Iterator[RunningSandbox]:
    with serve_portal() as running:
        yield running


@pytest.fixture
def portal(running_portal: RunningSandbox) -> RunningSandbox:
    """The shared sandbox, reset to a fresh portal (no install, no users but the admin, no faults)."""
    running_portal.knobs.reset()
    running_portal.knobs.faults()
    return running_portal


@pytest.fixture
def settings(db_url: str, portal: RunningSandbox) -> Settings:
    return bridge_settings(db_url, portal)


@pytest.fixture
async def client(settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bridge") as http:
        yield http


@dataclass
class ServedBridge:
    url: str
    http: httpx.Client


@pytest.fixture
def served(settings: Settings, store: Store) -> Iterator[ServedBridge]:
    with serve_bridge(settings, store) as url, httpx.Client(base_url=url, timeout=30) as http:
        yield ServedBridge(url, http)


def install_body(auth: dict[str, Any], **top: Any) -> str:
    """ONAPPINSTALL as the portal posts it (sandbox/bitrix24/app_knobs.py, bitrix24-rest.md §6.2)."""
    payload = {
        "event": "ONAPPINSTALL",
        "event_handler_id": 1,
        "data": {"VERSION": "1", "ACTIVE": "Y", "INSTALLED": "Y", "LANGUAGE_ID": "en"},
        "ts": "1767225600",
        "auth": auth,
        **top,
    }
    return encode_form(payload)


def event_body(event: str, application_token: str, data: dict[str, Any], **top: Any) -> str:
    payload = {"event": event, "data": data, "auth": {"application_token": application_token}, **top}
    return encode_form(payload)
