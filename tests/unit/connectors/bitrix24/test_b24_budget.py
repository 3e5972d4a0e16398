"""Leaky-bucket arithmetic and the in-memory budget, driven by a fake clock (no sleeping)."""

from __future__ import annotations

import pytest

from connectors.bitrix24.budget import SAFETY, MemoryBudget, admit, capacity_for, drained


class FakeClock:
    """Time that moves only when something sleeps."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_drain_never_goes_below_zero() -> None:
    assert drained(10, 2, 2.0) == 6
    assert drained(3, 10, 2.0) == 0
    assert drained(3, -5, 2.0) == 3  # a clock that went back drains nothing


def test_admit_until_capacity_then_wait_for_one_slot() -> None:
    assert admit(0, 0, rate=2, capacity=48).level == 1
    full = admit(48, 0, rate=2, capacity=48)
    assert not full.admitted and full.wait == pytest.approx(0.5)
    later = admit(48, 0.5, rate=2, capacity=48)
    assert later.admitted and later.level == pytest.approx(48)


def test_capacity_keeps_a_margin_but_at_least_one() -> None:
    assert capacity_for(50) == 50 - SAFETY
    assert capacity_for(1) == 1


async def test_burst_then_sustained_rate() -> None:
    clock = FakeClock()
    budget = MemoryBudget(rate=2.0, burst=50, clock=clock, sleep=clock.sleep)
    start = clock.now
    for _ in range(int(budget.capacity)):
        assert await budget.acquire() == 0
    assert clock.now == start  # the burst passes without waiting
    for _ in range(20):
        await budget.acquire()
    assert clock.now - start == pytest.approx(10.0)  # then exactly 2 per second


async def test_saturate_fills_the_bucket() -> None:
    clock = FakeClock()
    budget = MemoryBudget(rate=5.0, burst=10, clock=clock, sleep=clock.sleep)
    await budget.saturate()
    waited = await budget.acquire()
    assert waited == pytest.approx(0.2)


async def test_blocks_expire_with_the_clock() -> None:
    clock = FakeClock()
    budget = MemoryBudget(clock=clock, sleep=clock.sleep)
    await budget.block("User.Add", clock.now + 600)
    assert await budget.blocked_until("user.add") == clock.now + 600
    assert await budget.blocked_until("user.get") is None
    clock.now += 601
    assert await budget.blocked_until("user.add") is None


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        MemoryBudget(rate=0, burst=50)
