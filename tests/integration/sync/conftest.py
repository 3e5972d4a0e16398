"""Both sandboxes over loopback HTTP, a fresh state store, and the bridge wired to them as in production."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from config.settings import Settings
from config.wiring import Bridge, Store, open_bridge
from sandbox.bitrix24.testing import RunningSandbox as B24Sandbox
from sandbox.bitrix24.testing import run_sandbox
from sandbox.onec.testing import RunningSandbox as OneCSandbox
from sandbox.onec.testing import onec_sandbox
from sync.run import SyncContext

TODAY = date(2026, 11, 23)


@dataclass
class World:
    b24: B24Sandbox
    onec: OneCSandbox
    store: Store
    settings: Settings

    def bridge(self) -> Bridge:
        return open_bridge(self.settings, self.store)

    def users(self) -> list[dict[str, Any]]:
        """Every Bitrix24 user's fields, as the sandbox holds them."""
        return [dict(u["fields"]) for u in self.b24.knobs.users()]

    def users_by_xml_id(self) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        for user in self.users():
            if user.get("XML_ID"):
                found.setdefault(user["XML_ID"], []).append(user)
        return found


def settings_for(b24: B24Sandbox, onec: OneCSandbox, db_url: str) -> Settings:
    return Settings(
        database={"url": db_url},
        bitrix24={"webhook_url": b24.webhook_url, "rate": 200, "burst": 2000},
        onec={"endpoint": onec.endpoint, "username": onec.user, "password": onec.password, "page_size": 100},
    )


@pytest.fixture
def world(store: Store, db_url: str) -> Iterator[World]:
    with run_sandbox(rate=200, burst=2000) as b24, onec_sandbox(seed=7, employees=120, today=TODAY) as onec:
        yield World(b24, onec, store, settings_for(b24, onec, db_url))


@pytest.fixture
async def bridge(world: World) -> AsyncIterator[Bridge]:
    opened = world.bridge()
    yield opened
    await opened.close()


@pytest.fixture
def ctx(bridge: Bridge) -> SyncContext:
    return bridge.sync_context(TODAY)
