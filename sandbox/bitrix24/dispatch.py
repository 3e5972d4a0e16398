"""One REST call from authenticated caller to envelope: limits, method lookup, scope, handler, timing.

Owns the order of the checks and the request log. It must not parse HTTP (app.py does) nor know any
method's rules (the handlers do). Sources: bitrix24-rest.md §1.2 (envelope), §8.1 (every request counts
once against the leaky bucket; a batch counts once), §8.2 (each call — also inside a batch — spends its
method's operating time), §8.3 (error codes and statuses), §11.20 (method names are case-insensitive).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sandbox.bitrix24.auth import authorise, caller_key
from sandbox.bitrix24.core import METHODS, CallContext, Caller, MethodSpec, Page, RestError
from sandbox.bitrix24.envelope import Timing, error_body, success
from sandbox.bitrix24.limits import BUCKET_SECONDS, WINDOW_BUCKETS, LeakyBucket, OperatingLedger
from sandbox.bitrix24.state import Portal
from sandbox.bitrix24.system_errors import ForcedErrors


@dataclass
class Outcome:
    status: int
    body: dict[str, Any]
    error: str | None = None
    method: str = ""
    zero_total: bool = False
    """A list page whose ``result_total`` a batch reports even when 0 (see ``Page.zero_total_in_batch``)."""


def method_name(raw: str) -> str:
    """``User.Get.json`` → ``user.get`` (§1.1: optional ``.json`` suffix; §11.20: case-insensitive)."""
    name = raw.strip().lower()
    return name[:-5] if name.endswith(".json") else name


def lookup(name: str) -> MethodSpec:
    spec = METHODS.get(name)
    if spec is None:
        # §8.3: ERROR_METHOD_NOT_FOUND 404 ([S] "Method not found!").
        raise RestError("ERROR_METHOD_NOT_FOUND", "Method not found!", 404)
    return spec


class Dispatcher:
    """Runs calls against one portal with its bucket and operating ledger."""

    def __init__(self, portal: Portal, bucket: LeakyBucket, ledger: OperatingLedger) -> None:
        self.portal = portal
        self.bucket = bucket
        self.ledger = ledger
        self.forced = ForcedErrors()

    def run_method(
        self, caller: Caller, name: str, params: dict[str, Any], *, in_batch: bool = False
    ) -> Outcome:
        """Run one method (no bucket): scope/app checks, the operating limit, the handler, the time block."""
        now = self.portal.clock.now()
        wall = time.perf_counter()
        try:
            spec = lookup(name)
            authorise(spec, caller, in_batch=in_batch)
            key = caller_key(caller)
            self.ledger.check(key, name, now)
            ctx = CallContext(self.portal, caller, {"in_batch": in_batch, "method": name})
            result = spec.handler(ctx, params)
        except RestError as exc:
            return Outcome(exc.status, error_body(exc), exc.code, name)
        measured = time.perf_counter() - wall
        cost = self.ledger.cost(name, measured)
        operating, reset_at = self.ledger.spend(key, name, now, cost)
        if reset_at is None:
            # nothing spent in the window: the doc examples show start + 600 (limits.md, data-types.md#time)
            reset_at = int(now) + WINDOW_BUCKETS * BUCKET_SECONDS
        timing = Timing(now, now + measured, measured, operating, reset_at)
        zero_total = isinstance(result, Page) and result.zero_total_in_batch
        return Outcome(200, success(result, timing), None, name, zero_total)

    def call(self, caller: Caller, raw_method: str, params: dict[str, Any]) -> Outcome:
        """A top-level HTTP call: counts once against the bucket (§8.1), then runs (or runs a batch)."""
        from sandbox.bitrix24.batch import run_batch  # batch needs the dispatcher; avoid an import cycle

        name = method_name(raw_method)
        try:
            self.forced.check(name)
            self.bucket.take(self.portal.clock.now())
        except RestError as exc:
            return Outcome(exc.status, error_body(exc), exc.code, name)
        if name == "batch":
            return run_batch(self, caller, params)
        return self.run_method(caller, name, params)

    def log(self, outcome: Outcome, *, via: str, duration: float, commands: int | None = None) -> None:
        """Request log entry: method, status, error code, duration — never parameters or credentials."""
        entry: dict[str, Any] = {
            "at": self.portal.clock.now(),
            "method": outcome.method,
            "status": outcome.status,
            "error": outcome.error,
            "duration": round(duration, 6),
            "via": via,
        }
        if commands is not None:
            entry["commands"] = commands
        self.portal.request_log.append(entry)
