"""Faults for the reliability benches, through the sandboxes' own knobs: 1C faults per attempt, one
OPERATION_TIME_LIMIT window on the Bitrix24 side, and what the bridge recorded about it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import func, select

from cli.reliability_harness import Endpoints
from store.db import make_engine
from store.models import PlanItem, RateBudget


@contextmanager
def nothing() -> Iterator[None]:
    yield


def arm_onec_faults(onec_base: str, faults: Iterable[tuple[str, int]]) -> None:
    """Arm 1C faults (kind, number of calls) for the next attempt, e.g. "sessions locked" 503s."""
    for kind, count in faults:
        body = {"kind": kind, "operations": None, "count": count}
        if kind == "slow":
            body["delaySeconds"] = 1
        httpx.post(f"{onec_base}/_sandbox/faults", json=body, timeout=30).raise_for_status()


def clear_faults(endpoints: Endpoints) -> None:
    httpx.post(f"{endpoints.onec_base}/_sandbox/faults/clear", json={}, timeout=30).raise_for_status()
    httpx.post(f"{endpoints.b24_base}/_sandbox/faults", json={}, timeout=30).raise_for_status()


class OperationLimitWindow:
    """One OPERATION_TIME_LIMIT window (bitrix24-rest.md §8.2) through the sandbox's limit knobs: once
    ``opens_when()`` is true (polled each second) every call of ``method`` costs more than the whole
    budget, so Bitrix24 blocks it; after ``seconds`` the costs are restored and the ledger drained."""

    def __init__(
        self, b24_base: str, opens_when: Callable[[], bool], method: str = "user.add", seconds: float = 60
    ) -> None:
        self.b24_base, self.method = b24_base, method
        self.opens_when, self.seconds = opens_when, seconds
        self.opened_at: float | None = None
        self.closed_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _limits(self, body: dict[str, Any]) -> None:
        httpx.post(f"{self.b24_base}/_sandbox/limits", json=body, timeout=30).raise_for_status()

    def _run(self) -> None:
        while not self.opens_when():
            if self._stop.wait(1.0):
                return
        self._limits({"op_costs": {self.method: 10_000.0}})
        self.opened_at = time.time()
        self._stop.wait(self.seconds)
        self._limits({"op_costs": {}, "drain": True})
        self.closed_at = time.time()

    def __enter__(self) -> OperationLimitWindow:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self.opened_at is not None and self.closed_at is None:
            self._limits({"op_costs": {}, "drain": True})
            self.closed_at = time.time()

    def figures(self) -> dict[str, Any]:
        answered = 0
        if self.opened_at is not None:
            log = httpx.get(f"{self.b24_base}/_sandbox/log", timeout=300).text.splitlines()
            answered = sum(1 for line in log if "OPERATION_TIME_LIMIT" in line)
        return {
            "method": self.method,
            "opened": self.opened_at is not None,
            "seconds": round((self.closed_at or 0) - (self.opened_at or 0), 1) if self.opened_at else 0,
            "operation_time_limit_answers": answered,
        }


def recorded_blocks(db_url: str) -> dict[str, Any]:
    """What the bridge recorded about Bitrix24's blocks: the methods in its shared budget row, and the
    plan items that failed on one (the harness reads the store, as `status` would)."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(RateBudget.blocked)).all()
            failed = select(func.count()).select_from(PlanItem)
            hit = conn.scalar(failed.where(PlanItem.error.like("%OPERATION_TIME_LIMIT%")))
    finally:
        engine.dispose()
    blocked = sorted({method for (entry,) in rows for method in (entry or {})})
    return {"bridge_recorded_blocked_methods": blocked, "plan_items_failed_on_the_block": int(hit or 0)}
