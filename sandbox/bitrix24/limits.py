"""The two Bitrix24 limits: the per-portal leaky bucket and the per-method operating-time window.

Owns the counters and their arithmetic on the portal clock; it must not read wall time.
Sources: bitrix24-rest.md §8.1 (leaky bucket, 503 QUERY_LIMIT_EXCEEDED, 2/50 or Enterprise 5/250),
§8.2 (operating time summed over ten 1-minute buckets, 429 OPERATION_TIME_LIMIT, operating_reset_at).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sandbox.bitrix24.core import RestError

PLANS: dict[str, tuple[float, int]] = {"standard": (2.0, 50), "enterprise": (5.0, 250)}  # §8.1 table
WINDOW_BUCKETS = 10  # §8.2: ten 1-minute buckets, a sliding 10-minute window
BUCKET_SECONDS = 60


class LeakyBucket:
    """Each request adds 1; the level drains by ``rate`` per second; above ``burst`` requests are refused."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.level = 0.0
        self._last: float | None = None
        self._lock = threading.Lock()

    def take(self, now: float) -> None:
        """Count one request or raise 503 QUERY_LIMIT_EXCEEDED (bitrix24-rest.md §8.1, §8.3)."""
        with self._lock:
            if self._last is not None and now > self._last:
                self.level = max(0.0, self.level - (now - self._last) * self.rate)
            self._last = now if self._last is None else max(now, self._last)
            if self.level + 1 > self.burst:
                raise RestError("QUERY_LIMIT_EXCEEDED", "Too many requests", 503)
            self.level += 1

    def reset(self) -> None:
        with self._lock:
            self.level = 0.0
            self._last = None


@dataclass
class _Window:
    buckets: dict[int, float]


class OperatingLedger:
    """Seconds of execution per (caller, method) over the last ten minutes (bitrix24-rest.md §8.2)."""

    def __init__(
        self, limit: float, costs: dict[str, float] | None = None, default_cost: float | None = None
    ):
        self.limit = limit
        self.costs = {k.lower(): v for k, v in (costs or {}).items()}
        self.default_cost = default_cost
        self._windows: dict[tuple[str, str], _Window] = {}
        self._lock = threading.Lock()

    def cost(self, method: str, measured: float) -> float:
        """Simulated seconds one call of ``method`` spends: per method, else the default, else measured."""
        if method in self.costs:
            return self.costs[method]
        return self.default_cost if self.default_cost is not None else measured

    def _current(self, key: tuple[str, str], now: float) -> _Window:
        window = self._windows.setdefault(key, _Window({}))
        oldest = int(now // BUCKET_SECONDS) - WINDOW_BUCKETS + 1
        for minute in [m for m in window.buckets if m < oldest]:
            del window.buckets[minute]
        return window

    def status(self, caller: str, method: str, now: float) -> tuple[float, int | None]:
        """(operating seconds in the window, unix time when the oldest bucket drops out or None)."""
        with self._lock:
            window = self._current((caller, method), now)
            total = sum(window.buckets.values())
            if not window.buckets:
                return 0.0, None
            return total, (min(window.buckets) + WINDOW_BUCKETS) * BUCKET_SECONDS

    def check(self, caller: str, method: str, now: float) -> None:
        """§8.2: once the window's total exceeds the limit, the next call of that method gets 429."""
        total, _reset = self.status(caller, method, now)
        if total > self.limit:
            raise RestError("OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit.", 429)

    def spend(self, caller: str, method: str, now: float, seconds: float) -> tuple[float, int | None]:
        with self._lock:
            window = self._current((caller, method), now)
            minute = int(now // BUCKET_SECONDS)
            window.buckets[minute] = window.buckets.get(minute, 0.0) + seconds
        return self.status(caller, method, now)

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
