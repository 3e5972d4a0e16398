"""Fixtures: a running Bitrix24 sandbox (over HTTP), its webhook URL, and a REST helper.

The sandbox starts once per module (fast) and is reset before every test; the clock is frozen so that
limits and token lifetimes move only when a test advances it.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.bitrix24.testing import T0, Knobs, Rest, RunningSandbox, run_sandbox

from .procs_helpers import App, Bridge, install_app, loopback_bridge


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
def rest(b24: RunningSandbox, http: httpx.Client) -> Rest:
    return Rest(b24.webhook_url, http)


@pytest.fixture
def bridge() -> Iterator[Bridge]:
    """A loopback stand-in for the bridge's activity handler (business-process tests)."""
    with loopback_bridge() as running:
        yield running


@pytest.fixture
def app(b24: RunningSandbox, http: httpx.Client, bridge: Bridge) -> App:
    """The local application installed with its handler on the loopback bridge."""
    return install_app(b24, http, f"{bridge.url}/install")
