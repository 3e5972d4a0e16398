"""A running Bitrix24 sandbox for tests of its own knobs and helpers (not conformance: tests/contract/)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.bitrix24.testing import T0, Knobs, Rest, RunningSandbox, run_sandbox


@pytest.fixture(scope="module")
def b24_server() -> Iterator[RunningSandbox]:
    with run_sandbox(rate=1000.0, burst=100_000, frozen_clock=T0) as running:
        yield running


@pytest.fixture
def b24(b24_server: RunningSandbox) -> RunningSandbox:
    """A fresh portal: reset, clock frozen at T0, no faults, no forced errors."""
    b24_server.knobs.reset()
    b24_server.knobs.clock(set=T0)
    b24_server.knobs.faults()
    return b24_server


@pytest.fixture
def knobs(b24: RunningSandbox) -> Knobs:
    return b24.knobs


@pytest.fixture
def rest(b24: RunningSandbox) -> Iterator[Rest]:
    with httpx.Client(timeout=10) as http:
        yield Rest(b24.webhook_url, http)
