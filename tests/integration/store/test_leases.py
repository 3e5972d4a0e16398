"""Job leases on the test database (SQLite locally, PostgreSQL in CI): one holder at a time, expiry hands
the lease over, racing threads produce exactly one winner per period."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from config.wiring import Store
from store import leases

TTL = timedelta(minutes=5)


class Clock:
    """A settable clock shared by every caller in a test."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_two_holders_one_wins(store: Store, clock: Clock) -> None:
    assert leases.acquire(store.sessions, "sync", "a", TTL, clock=clock)
    assert not leases.acquire(store.sessions, "sync", "b", TTL, clock=clock)
    info = leases.current(store.sessions, "sync")
    assert info is not None
    assert (info.holder, info.expires_at) == ("a", clock.now + TTL)


def test_holder_can_take_it_again_and_extend(store: Store, clock: Clock) -> None:
    assert leases.acquire(store.sessions, "sync", "a", TTL, clock=clock)
    clock.advance(timedelta(minutes=1))
    assert leases.acquire(store.sessions, "sync", "a", TTL, clock=clock)
    info = leases.current(store.sessions, "sync")
    assert info is not None and info.expires_at == clock.now + TTL


def test_expiry_lets_the_other_take_it(store: Store, clock: Clock) -> None:
    assert leases.acquire(store.sessions, "sync", "a", TTL, clock=clock)
    clock.advance(TTL - timedelta(seconds=1))
    assert not leases.acquire(store.sessions, "sync", "b", TTL, clock=clock)
    clock.advance(timedelta(seconds=1))
    assert leases.acquire(store.sessions, "sync", "b", TTL, clock=clock)
    # The former holder has lost it: it can neither renew nor release it.
    assert not leases.renew(store.sessions, "sync", "a", TTL, clock=clock)
    assert not leases.release(store.sessions, "sync", "a")
    info = leases.current(store.sessions, "sync")
    assert info is not None and info.holder == "b"


def test_renew_pushes_the_expiry(store: Store, clock: Clock) -> None:
    assert leases.acquire(store.sessions, "sync", "a", TTL, clock=clock)
    clock.advance(timedelta(minutes=4))
    assert leases.renew(store.sessions, "sync", "a", TTL, clock=clock)
    clock.advance(timedelta(minutes=4))  # 8 minutes after taking it, still ours thanks to the renewal
    assert not leases.acquire(store.sessions, "sync", "b", TTL, clock=clock)
    assert not leases.renew(store.sessions, "other-job", "a", TTL, clock=clock)


def test_release_frees_it_and_hold_until_keeps_it(store: Store, clock: Clock) -> None:
    assert leases.acquire(store.sessions, "sync", "a", TTL, clock=clock)
    assert leases.release(store.sessions, "sync", "a")
    assert leases.current(store.sessions, "sync") is None
    assert leases.acquire(store.sessions, "sync", "b", TTL, clock=clock)
    assert leases.release(store.sessions, "sync", "b", hold_until=clock.now + timedelta(minutes=2))
    clock.advance(timedelta(minutes=1))
    assert not leases.acquire(store.sessions, "sync", "a", TTL, clock=clock)
    clock.advance(timedelta(minutes=1))
    assert leases.acquire(store.sessions, "sync", "a", TTL, clock=clock)


def test_leases_are_per_name(store: Store, clock: Clock) -> None:
    assert leases.acquire(store.sessions, "sync", "a", TTL, clock=clock)
    assert leases.acquire(store.sessions, "reconcile", "b", TTL, clock=clock)


def test_context_manager_releases_only_what_it_took(store: Store, clock: Clock) -> None:
    with leases.lease(store.sessions, "sync", "a", TTL, clock=clock) as held_a:
        assert held_a
        with leases.lease(store.sessions, "sync", "b", TTL, clock=clock) as held_b:
            assert not held_b
        # b's exit must not have released a's lease.
        info = leases.current(store.sessions, "sync")
        assert info is not None and info.holder == "a"
    assert leases.current(store.sessions, "sync") is None


def test_context_manager_releases_on_error(store: Store, clock: Clock) -> None:
    with pytest.raises(RuntimeError), leases.lease(store.sessions, "sync", "a", TTL, clock=clock):
        raise RuntimeError("job failed")
    assert leases.current(store.sessions, "sync") is None


@pytest.mark.parametrize(
    ("name", "holder", "ttl"),
    [("", "a", TTL), ("x" * 65, "a", TTL), ("sync", "", TTL), ("sync", "a", timedelta(0))],
)
def test_bad_arguments(store: Store, clock: Clock, name: str, holder: str, ttl: timedelta) -> None:
    with pytest.raises(ValueError):
        leases.acquire(store.sessions, name, holder, ttl, clock=clock)


def test_racing_threads_exactly_one_winner_per_period(store: Store, clock: Clock) -> None:
    threads, periods = 8, 4
    for period in range(periods):
        barrier = threading.Barrier(threads)

        def contend(index: int, period: int = period, barrier: threading.Barrier = barrier) -> bool:
            barrier.wait()
            return leases.acquire(store.sessions, "race", f"holder-{period}-{index}", TTL, clock=clock)

        with ThreadPoolExecutor(max_workers=threads) as pool:
            results = list(pool.map(contend, range(threads)))
        assert results.count(True) == 1, f"period {period}: {results}"
        winner = f"holder-{period}-{results.index(True)}"
        info = leases.current(store.sessions, "race")
        assert info is not None and info.holder == winner
        clock.advance(TTL)  # the lease expires: the next period has a new winner
