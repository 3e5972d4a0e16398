"""Faults for the reliability benches, through the sandboxes' own knobs: 1C faults per attempt, one
OPERATION_TIME_LIMIT window on the Bitrix24 side, and what the bridge recorded about it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import select

from cli.reliability_harness import Endpoints
from store.db import make_engine


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
    """One OPERATION_TIME_LIMIT window (bitrix24-rest.md §8.2) through the sandbox's limit knobs: after
    ``start_after`` seconds every call of ``method`` costs more than the whole budget, so Bitrix24
    blocks it; after ``seconds`` the costs are restored and the ledger drained."""

    def __init__(
        self,
        b24_base: str,
        method: str = "sonet_group.user.add",
        start_after: float = 20,
        seconds: float = 30,
    ) -> None:
        self.b24_base, self.method = b24_base, method
        self.start_after, self.seconds = start_after, seconds
        self.opened_at: float | None = None
        self.closed_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _limits(self, body: dict[str, Any]) -> None:
        httpx.post(f"{self.b24_base}/_sandbox/limits", json=body, timeout=30).raise_for_status()

    def _run(self) -> None:
        if self._stop.wait(self.start_after):
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
    """The methods the bridge recorded as blocked by Bitrix24 (its shared budget row), read back."""
    from store.models import RateBudget

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(RateBudget.blocked)).all()
    finally:
        engine.dispose()
    blocked = sorted({method for (entry,) in rows for method in (entry or {})})
    return {"bridge_recorded_blocked_methods": blocked}
