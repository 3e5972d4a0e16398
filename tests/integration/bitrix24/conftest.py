"""Fixtures for the Bitrix24 connector tests: a real sandbox over loopback HTTP, fast-retrying gateways."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from connectors.bitrix24.budget import MemoryBudget
from connectors.bitrix24.gateway import Bitrix24Gateway, RetryPolicy
from sandbox.bitrix24.testing import RunningSandbox, run_sandbox

FAST_RETRY = RetryPolicy(attempts=10, unmapped_attempts=2, initial_seconds=0.001, max_seconds=0.01)


@pytest.fixture
def sb() -> Iterator[RunningSandbox]:
    """A fresh sandbox per test, with a bucket large enough not to interfere unless a test says so."""
    with run_sandbox(rate=1000, burst=1000) as running:
        yield running


@dataclass
class Clock:
    """Wall time plus the offset a test moved the sandbox's clock by (so both sides agree)."""

    offset: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_gateway(clock: Clock) -> Callable[..., Bitrix24Gateway]:
    """Build a gateway on the test's clock with fast retries; use it as ``async with``."""

    def build(url: str, **kwargs: Any) -> Bitrix24Gateway:
        kwargs.setdefault("budget", MemoryBudget(1000, 1000, clock=clock))
        kwargs.setdefault("retry", FAST_RETRY)
        return Bitrix24Gateway(url, clock=clock, **kwargs)

    return build


def requests_for(sb: RunningSandbox, method: str) -> list[dict[str, object]]:
    """Entries of the sandbox's request log for one method (faults included)."""
    return [entry for entry in sb.knobs.log() if str(entry.get("method", "")).lower() == method]
