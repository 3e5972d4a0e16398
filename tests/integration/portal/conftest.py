"""Fixtures: a fresh sandbox and portal world per test (portal_world.py builds it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from portal_world import World, build_world

from sandbox.bitrix24.testing import run_sandbox


@pytest.fixture
def world() -> Iterator[World]:
    with run_sandbox(rate=1000, burst=1000) as sb:
        yield build_world(sb)


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(world.app) as test_client:
        yield test_client
