"""The per-portal request budget: a leaky bucket every HTTP call to Bitrix24 acquires from first.

Bitrix24 counts requests per portal in a bucket that drains at ``rate`` per second and refuses with
503 ``QUERY_LIMIT_EXCEEDED`` above ``burst`` (bitrix24-rest.md §8.1: 2/s and 50, Enterprise 5/s and 250).
Our bucket mirrors it so the portal never has to refuse us; a batch counts once. The budget also keeps
the methods Bitrix24 blocked for operating time (§8.2) until their reset time.

``MemoryBudget`` serves one process without a store. ``DbBudget`` keeps the bucket in the ``rate_budget``
row of the state store, so several bridge instances on one PostgreSQL share one budget: each acquisition
is one short transaction holding the row lock (``SELECT … FOR UPDATE``; on SQLite ``BEGIN IMMEDIATE``,
which takes the database's write lock). The clock and the sleep are injectable; the clock is wall time
(unix seconds) because instances on different hosts compare it. Retry and backoff are not here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import RateBudget

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
SAFETY = 2.0
"""Requests kept free below the portal's burst, for the jitter between our clock and the portal's."""


@dataclass(frozen=True)
class Admission:
    """The bucket after an attempt to add ``cost``: admitted with the new level, or the wait needed."""

    level: float
    wait: float

    @property
    def admitted(self) -> bool:
        return self.wait <= 0


def drained(level: float, elapsed: float, rate: float) -> float:
    """The bucket's level after ``elapsed`` seconds of draining at ``rate``."""
    return max(0.0, level - max(0.0, elapsed) * rate)


def admit(level: float, elapsed: float, *, rate: float, capacity: float, cost: float = 1.0) -> Admission:
    """Add ``cost`` if it fits under ``capacity`` after draining; otherwise say how long to wait."""
    current = drained(level, elapsed, rate)
    over = current + cost - capacity
    if over <= 1e-9:
        return Admission(current + cost, 0.0)
    return Admission(current, over / rate)


def capacity_for(burst: int) -> float:
    """Our usable bucket: the portal's burst less a small safety margin (never below one request)."""
    return max(1.0, burst - SAFETY)


class Budget(Protocol):
    rate: float
    burst: int

    async def acquire(self, cost: float = 1.0) -> float:
        """Wait until ``cost`` requests fit; returns the seconds waited."""
        ...

    async def saturate(self) -> None:
        """The portal said QUERY_LIMIT_EXCEEDED: treat the bucket as full."""
        ...

    async def block(self, method: str, until: float) -> None:
        """Record that Bitrix24 blocks ``method`` until unix time ``until``."""
        ...

    async def blocked_until(self, method: str) -> float | None:
        """Unix time until which ``method`` is blocked, or None."""
        ...


class _Common:
    def __init__(self, rate: float, burst: int, clock: Clock | None, sleep: Sleep | None) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError("rate and burst must be positive")
        self.rate = rate
        self.burst = burst
        self.capacity = capacity_for(burst)
        self.clock: Clock = clock or time.time
        self.sleep: Sleep = sleep or asyncio.sleep


class MemoryBudget(_Common):
    """One process, no store: the bucket and the blocked methods live in this object."""

    def __init__(
        self, rate: float = 2.0, burst: int = 50, *, clock: Clock | None = None, sleep: Sleep | None = None
    ) -> None:
        super().__init__(rate, burst, clock, sleep)
        self._level = 0.0
        self._at = self.clock()
        self._blocked: dict[str, float] = {}
        self._lock = asyncio.Lock()

    async def acquire(self, cost: float = 1.0) -> float:
        waited = 0.0
        while True:
            async with self._lock:
                now = self.clock()
                decision = admit(
                    self._level, now - self._at, rate=self.rate, capacity=self.capacity, cost=cost
                )
                self._level, self._at = decision.level, now
                if decision.admitted:
                    return waited
            await self.sleep(decision.wait)
            waited += decision.wait

    async def saturate(self) -> None:
        self._level, self._at = self.capacity, self.clock()

    async def block(self, method: str, until: float) -> None:
        self._blocked[method.lower()] = max(until, self._blocked.get(method.lower(), 0.0))

    async def blocked_until(self, method: str) -> float | None:
        until = self._blocked.get(method.lower())
        if until is None:
            return None
        if until <= self.clock():
            self._blocked.pop(method.lower(), None)
            return None
        return until


@dataclass(frozen=True)
class _Row:
    level: float
    updated_at: datetime
    blocked: dict[str, Any] | None


def _as_datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class DbBudget(_Common):
    """The bucket in the ``rate_budget`` row of ``portal``, shared by every instance on the database."""

    def __init__(
        self,
        engine: Engine,
        portal: str,
        rate: float = 2.0,
        burst: int = 50,
        *,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        super().__init__(rate, burst, clock, sleep)
        self.engine = engine
        self.portal = portal[:255]
        self._sqlite = engine.dialect.name == "sqlite"
        self._row_ready = False

    # -- the locked transaction ------------------------------------------------------------------------
    def _ensure_row(self) -> None:
        if self._row_ready:
            return
        with Session(self.engine) as session:
            if session.get(RateBudget, self.portal) is None:
                session.add(
                    RateBudget(
                        portal=self.portal, level=0.0, updated_at=_as_datetime(self.clock()), blocked={}
                    )
                )
                try:
                    session.commit()
                except IntegrityError:  # another instance created it first
                    session.rollback()
        self._row_ready = True

    def _locked(self, change: Callable[[_Row, float], tuple[dict[str, Any], Any]]) -> Any:
        """Run ``change(row, now)`` in one transaction holding the row's lock; write its updates; commit."""
        self._ensure_row()
        query = select(RateBudget.level, RateBudget.updated_at, RateBudget.blocked).where(
            RateBudget.portal == self.portal
        )
        write = update(RateBudget).where(RateBudget.portal == self.portal)
        if self._sqlite:
            # BEGIN IMMEDIATE takes SQLite's write lock at once: the read below cannot go stale.
            with self.engine.connect() as raw:
                conn = raw.execution_options(isolation_level="AUTOCOMMIT")
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    found = conn.execute(query).one()
                    updates, result = change(_Row(found.level, found.updated_at, found.blocked), self.clock())
                    if updates:
                        conn.execute(write.values(**updates))
                    conn.exec_driver_sql("COMMIT")
                except BaseException:
                    conn.exec_driver_sql("ROLLBACK")
                    raise
                return result
        with self.engine.begin() as conn:
            found = conn.execute(query.with_for_update()).one()
            updates, result = change(_Row(found.level, found.updated_at, found.blocked), self.clock())
            if updates:
                conn.execute(write.values(**updates))
            return result

    def _try_acquire(self, cost: float) -> float:
        def change(row: _Row, now: float) -> tuple[dict[str, Any], float]:
            decision = admit(
                row.level, now - row.updated_at.timestamp(), rate=self.rate, capacity=self.capacity, cost=cost
            )
            return {"level": decision.level, "updated_at": _as_datetime(now)}, decision.wait

        return float(self._locked(change))

    def _saturate(self) -> None:
        self._locked(lambda _row, now: ({"level": self.capacity, "updated_at": _as_datetime(now)}, None))

    def _block(self, method: str, until: float) -> None:
        def change(row: _Row, now: float) -> tuple[dict[str, Any], None]:
            blocked = {k: v for k, v in dict(row.blocked or {}).items() if _parse(v) > now}
            current = _parse(blocked.get(method.lower(), ""))
            blocked[method.lower()] = _as_datetime(max(until, current)).isoformat()
            return {"blocked": blocked}, None

        self._locked(change)

    def _blocked_until(self, method: str) -> float | None:
        with Session(self.engine) as session:
            row = session.get(RateBudget, self.portal)
            if row is None:
                return None
            until = _parse((row.blocked or {}).get(method.lower(), ""))
        return until if until > self.clock() else None

    # -- the async face ----------------------------------------------------------------------------------
    async def acquire(self, cost: float = 1.0) -> float:
        waited = 0.0
        while True:
            wait = await asyncio.to_thread(self._try_acquire, cost)
            if wait <= 0:
                return waited
            await self.sleep(wait)
            waited += wait

    async def saturate(self) -> None:
        await asyncio.to_thread(self._saturate)

    async def block(self, method: str, until: float) -> None:
        await asyncio.to_thread(self._block, method, until)

    async def blocked_until(self, method: str) -> float | None:
        return await asyncio.to_thread(self._blocked_until, method)


def _parse(value: Any) -> float:
    if not value:
        return 0.0
    try:
        return datetime.fromisoformat(str(value)).timestamp()  # written by _block as aware UTC
    except ValueError:
        return 0.0
