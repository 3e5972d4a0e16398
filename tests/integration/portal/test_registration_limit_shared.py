"""The self-registration limit is one window per deployment: counted in the store, so a second instance
of the service (another limiter on the same store) continues the first one's count, and attempts made
at the same moment from several threads admit exactly the limit."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from config.wiring import Store
from portal.throttle import SharedRegistrationLimit
from store.rate_limits import RateLimitHit

SECRET = b"s" * 32
T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def test_two_instances_share_one_window_and_it_moves(store: Store) -> None:
    clock = [T0]
    first, second = (SharedRegistrationLimit(store.sessions, 2, SECRET, lambda: clock[0]) for _ in "ab")
    assert first.retry_after("10.0.0.1", "A@example.test") is None
    clock[0] = T0 + timedelta(minutes=10)
    assert second.retry_after("10.0.0.2", "a@example.test ") is None  # the same address, another instance
    assert second.retry_after("10.0.0.3", "a@example.test") == 50 * 60  # the first attempt leaves at 10:00
    assert first.retry_after("10.0.0.3", "b@example.test") is None  # only the e-mail was limited
    clock[0] = T0 + timedelta(hours=1, seconds=1)
    with store.sessions() as session:
        keys = session.scalars(select(RateLimitHit.key)).all()
    assert len(keys) == 7 and not any("example" in k or "10.0.0" in k for k in keys)  # hashes only
    assert first.retry_after("10.0.0.4", "a@example.test") is None  # the window moved on
    clock[0] = T0 + timedelta(hours=3)
    assert first.retry_after("10.0.0.5", "c@example.test") is None
    with store.sessions() as session:  # what left the window is gone, whatever its key
        assert session.scalar(select(func.count()).select_from(RateLimitHit)) == 2


def test_simultaneous_attempts_admit_exactly_the_limit(store: Store) -> None:
    limits = [SharedRegistrationLimit(store.sessions, 3, SECRET, lambda: T0) for _ in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        waits = list(pool.map(lambda n: limits[n % 4].retry_after("", "x@example.test"), range(8)))
    assert sum(w is None for w in waits) == 3 and all(w == 3600 for w in waits if w is not None)
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(RateLimitHit)) == 3
