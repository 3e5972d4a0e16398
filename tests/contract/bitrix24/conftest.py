"""Fixtures: a running Bitrix24 sandbox (over HTTP), its webhook URL, and a REST helper — or a real portal.

The sandbox starts once per module (fast) and is reset before every test; the clock is frozen so that
limits and token lifetimes move only when a test advances it.

With ``EXTRANET_BRIDGE_CONTRACT_WEBHOOK`` set (an admin's incoming-webhook URL), the tests marked
``any_portal`` run against that portal instead and every other test here is skipped (it needs a sandbox
knob or a fresh portal). docs/contract-suite.md says how to run it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from sandbox.bitrix24.testing import T0, Knobs, Rest, RunningSandbox, run_sandbox

from .procs_helpers import App, Bridge, install_app, loopback_bridge

REAL_WEBHOOK = os.environ.get("EXTRANET_BRIDGE_CONTRACT_WEBHOOK", "").strip()
"""An admin's webhook on a real portal: ``https://<portal>/rest/<user>/<code>/`` (scopes: user, sonet_group,
department, timeman)."""
REAL_EXTRANET_WEBHOOK = os.environ.get("EXTRANET_BRIDGE_CONTRACT_EXTRANET_WEBHOOK", "").strip()
"""Optional: a webhook of an extranet user on that portal (scope timeman)."""
REAL_LIMITED_WEBHOOK = os.environ.get("EXTRANET_BRIDGE_CONTRACT_USER_ONLY_WEBHOOK", "").strip()
"""Optional: a webhook with the ``user`` scope only."""
HERE = os.path.dirname(__file__)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "any_portal: a contract test that can also run against a real portal (docs/contract-suite.md)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not REAL_WEBHOOK:
        return
    skip = pytest.mark.skip(reason="needs the sandbox (a knob or a fresh portal); not run on a real portal")
    for item in items:
        if str(item.path).startswith(HERE) and item.get_closest_marker("any_portal") is None:
            item.add_marker(skip)


def _slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


@dataclass
class Portal:
    """The portal a test talks to: the admin webhook, the REST root, and a run-unique tag."""

    webhook_url: str
    rest_root: str
    """``https://<portal>/rest/`` (OAuth-style calls put ``auth`` in the body)."""
    tag: str
    """Unique per test: e-mails, XML_IDs and group names made with it never collide on a real portal."""
    real: bool


@pytest.fixture(scope="module")
def b24_server() -> Iterator[RunningSandbox]:
    with run_sandbox(rate=1000.0, burst=100_000, frozen_clock=T0) as running:
        yield running


@pytest.fixture
def b24(b24_server: RunningSandbox) -> Iterator[RunningSandbox]:
    """A fresh portal: reset, clock frozen at T0, no faults, generous limits."""
    knobs = b24_server.knobs
    knobs.reset()
    knobs.clock(set=T0)
    knobs.faults()
    knobs.limits(rate=1000.0, burst=100_000, op_budget=480.0, op_costs={}, op_default_cost=None, drain=True)
    yield b24_server


@pytest.fixture
def knobs(b24: RunningSandbox) -> Knobs:
    return b24.knobs


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture
def portal(request: pytest.FixtureRequest) -> Portal:
    tag = uuid.uuid4().hex[:10]
    if REAL_WEBHOOK:
        url = _slash(REAL_WEBHOOK)
        return Portal(url, url.split("/rest/", 1)[0] + "/rest/", tag, True)
    b24: RunningSandbox = request.getfixturevalue("b24")
    return Portal(b24.webhook_url, f"{b24.base_url}/rest/", tag, False)


@pytest.fixture
def rest(portal: Portal, http: httpx.Client) -> Rest:
    return Rest(portal.webhook_url, http)


@pytest.fixture
def extranet_webhook(portal: Portal, request: pytest.FixtureRequest) -> str:
    """A webhook whose user is an extranet user (the sandbox makes one; a real portal's comes from env)."""
    if portal.real:
        if not REAL_EXTRANET_WEBHOOK:
            pytest.skip("set EXTRANET_BRIDGE_CONTRACT_EXTRANET_WEBHOOK to check extranet users' calls")
        return _slash(REAL_EXTRANET_WEBHOOK)
    knobs: Knobs = request.getfixturevalue("knobs")
    uid = knobs.add_user({"EMAIL": f"ext-{portal.tag}@example.com", "USER_TYPE": "extranet"})
    return knobs.webhook(user_id=uid, scopes=["timeman", "user"])


@pytest.fixture
def user_only_webhook(portal: Portal, request: pytest.FixtureRequest) -> str:
    """A webhook with the ``user`` scope only."""
    if portal.real:
        if not REAL_LIMITED_WEBHOOK:
            pytest.skip("set EXTRANET_BRIDGE_CONTRACT_USER_ONLY_WEBHOOK to check scope errors")
        return _slash(REAL_LIMITED_WEBHOOK)
    knobs: Knobs = request.getfixturevalue("knobs")
    return knobs.webhook(scopes=["user"])


@pytest.fixture
def bridge() -> Iterator[Bridge]:
    """A loopback stand-in for the bridge's activity handler (business-process tests)."""
    with loopback_bridge() as running:
        yield running


@pytest.fixture
def app(b24: RunningSandbox, http: httpx.Client, bridge: Bridge) -> App:
    """The local application installed with its handler on the loopback bridge."""
    return install_app(b24, http, f"{bridge.url}/install")
