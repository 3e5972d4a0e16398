"""The world of the HR-process tests: both sandboxes and the served bridge, the application installed and
the process catalog set up in the portal (tests/integration/processes/_flow.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from config.wiring import Store
from tests.integration.processes._flow import World, close, set_up_portal, world


@pytest.fixture
async def w(db_url: str, store: Store) -> AsyncIterator[World]:
    with world(db_url, store) as running:
        await set_up_portal(running)
        try:
            yield running
        finally:
            await close(running)
