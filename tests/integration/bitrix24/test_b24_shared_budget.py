"""Two budgets on one database (SQLite here, PostgreSQL in CI) together never exceed the portal's rate."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from connectors.bitrix24.budget import DbBudget, admit
from store.db import make_engine


class SharedClock:
    """One fake wall clock for every instance; it moves only when a budget sleeps."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    async def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


class Stop(Exception):
    pass


async def _refuse(_seconds: float) -> None:
    raise Stop


@pytest.fixture
def engines(db_url: str) -> Iterator[list[Engine]]:
    made = [make_engine(db_url), make_engine(db_url)]
    yield made
    for engine in made:
        engine.dispose()


def test_concurrent_instances_share_one_bucket(engines: list[Engine]) -> None:
    """Frozen clock, two instances in two threads grabbing all they can: together exactly the bucket."""
    clock = SharedClock()
    budgets = [DbBudget(e, "portal.example", rate=2.0, burst=30, clock=clock, sleep=_refuse) for e in engines]
    admitted = [0, 0]

    def grab(index: int) -> None:
        async def run() -> None:
            try:
                while True:
                    await budgets[index].acquire()
                    admitted[index] += 1
            except Stop:
                return

        asyncio.run(run())

    threads = [threading.Thread(target=grab, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(admitted) == int(budgets[0].capacity)
    assert min(admitted) >= 0


async def test_interleaved_instances_never_exceed_the_rate(engines: list[Engine]) -> None:
    clock = SharedClock()
    rate, burst = 2.0, 10
    budgets = [
        DbBudget(e, "portal.example", rate=rate, burst=burst, clock=clock, sleep=clock.sleep) for e in engines
    ]
    stamps: list[float] = []
    for i in range(40):
        await budgets[i % 2].acquire()
        stamps.append(clock())
    # Replay the admissions through an ideal bucket of the portal's real size: it never overflows.
    level, last = 0.0, stamps[0]
    for stamp in stamps:
        decision = admit(level, stamp - last, rate=rate, capacity=burst)
        assert decision.admitted
        level, last = decision.level, stamp
    after_burst = stamps[int(budgets[0].capacity) :]
    achieved = (len(after_burst) - 1) / (after_burst[-1] - after_burst[0])
    assert achieved == pytest.approx(rate, rel=0.01)


async def test_blocked_methods_are_shared(engines: list[Engine]) -> None:
    clock = SharedClock()
    first, second = (DbBudget(e, "portal.example", clock=clock, sleep=clock.sleep) for e in engines)
    await first.block("user.add", clock.now + 600)
    await first.block("user.update", clock.now + 60)
    assert await second.blocked_until("USER.ADD") == pytest.approx(clock.now + 600)
    await clock.sleep(61)
    assert await second.blocked_until("user.update") is None
    assert await second.blocked_until("user.add") is not None


async def test_saturation_is_seen_by_the_other_instance(engines: list[Engine]) -> None:
    clock = SharedClock()
    first, second = (
        DbBudget(e, "p.example", rate=4.0, burst=20, clock=clock, sleep=clock.sleep) for e in engines
    )
    await first.saturate()
    assert await second.acquire() == pytest.approx(0.25)
