"""`extranet-bridge bench b24`: drive the Bitrix24 connector against an in-process sandbox and measure it.

Starts the Bitrix24 sandbox on loopback with the given leaky bucket (rate, burst), then sends a mix of
work through ``Bitrix24Gateway``: bulk invitations (``user.add`` batched by 50) and, at the same time,
single calls (``user.get`` by ID, ``user.update``) from a few concurrent workers. With ``--instances K``
the work is split over K gateways, each on its own thread and event loop, sharing one budget through a
state store (``--db``, default a temporary SQLite file) — as K bridge instances on one database would.
With ``--read-all`` the first instance then reads every user once (a full list read, 50 pages per request).
Prints one JSON object: requests sent, every request the sandbox logged ÷ the honest minimum (a
``user.current`` per instance, each single call, ⌈bulk ÷ 50⌉, a list read ⌈pages ÷ 50⌉), requests the
portal refused with QUERY_LIMIT_EXCEEDED (in all and after the warm-up burst), items per request on bulk
work, the achieved request rate after warm-up ÷ the allowed rate (as the portal saw it), wall seconds.
Owns only the measurement.
"""

from __future__ import annotations

import asyncio
import json
import math
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from connectors.bitrix24.budget import Budget, DbBudget, MemoryBudget, capacity_for
from connectors.bitrix24.gateway import Bitrix24Gateway, Counters
from connectors.bitrix24.port import Call

SINGLE_WORKERS = 8
BULK_SHARE = 0.8
PER_REQUEST = 50
"""Commands per batch request and rows per list page (bitrix24-rest.md §7, §1.3)."""


@dataclass
class Workload:
    singles: int
    bulk: int
    tag: str
    read_all: bool = False
    """Read every user once after the work (a full list read, 50 pages per request)."""
    errors: dict[str, int] = field(default_factory=dict)
    list_rows: int = -1
    list_requests: int = 0

    def minimum(self) -> int:
        """Requests this work needs at least: one ``user.current``, each single call, ⌈bulk ÷ 50⌉, and
        for the list read ⌈pages ÷ 50⌉ with pages = ⌊rows ÷ 50⌋ + 1 (the last page proves the end)."""
        listing = math.ceil((self.list_rows // PER_REQUEST + 1) / PER_REQUEST) if self.list_rows >= 0 else 0
        return 1 + self.singles + math.ceil(self.bulk / PER_REQUEST) + listing

    def note(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1


async def _drive(gateway: Bitrix24Gateway, work: Workload, department: int) -> None:
    invites = [
        Call(
            "user.add",
            {"EMAIL": f"bench.{work.tag}.{i}@example.test", "NAME": f"B{i}", "UF_DEPARTMENT": [department]},
        )
        for i in range(work.bulk)
    ]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(work.singles):
        queue.put_nowait(i)
    me = await gateway.call("user.current")
    my_id = int(me["ID"]) if isinstance(me, dict) and "ID" in me else 1

    async def single_worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            try:
                if i % 2:
                    await gateway.call("user.get", {"ID": my_id})
                else:
                    await gateway.call("user.update", {"ID": my_id, "WORK_POSITION": f"Position {i}"})
            except Exception as exc:  # counted; the bench goes on
                work.note(getattr(exc, "code", type(exc).__name__))

    async def bulk() -> None:
        for outcome in await gateway.batch(invites):
            if outcome.error is not None:
                work.note(getattr(outcome.error, "code", "error"))

    await asyncio.gather(bulk(), *(single_worker() for _ in range(SINGLE_WORKERS)))
    if work.read_all:
        before = gateway.counters.requests
        work.list_rows = sum([len(page) async for page in gateway.list_all("user.get", {"ADMIN_MODE": True})])
        work.list_requests = gateway.counters.requests - before


@contextmanager
def _budgets(instances: int, rate: float, burst: int, db_url: str | None) -> Iterator[list[Budget]]:
    """One budget per instance: in memory for one instance without --db, else shared through a store."""
    if instances == 1 and not db_url:
        yield [MemoryBudget(rate, burst)]
        return
    from store.db import make_engine, upgrade

    with tempfile.TemporaryDirectory() as scratch:
        url = db_url or f"sqlite:///{Path(scratch) / 'bench.db'}"
        engines = [make_engine(url) for _ in range(instances)]
        upgrade(engines[0])
        try:
            yield [DbBudget(engine, "bench.portal", rate, burst) for engine in engines]
        finally:
            for engine in engines:
                engine.dispose()


def _run_instance(url: str, budget: Budget, work: Workload, department: int, out: list[Counters]) -> None:
    async def main() -> None:
        async with Bitrix24Gateway(url, budget=budget) as gateway:
            try:
                await _drive(gateway, work, department)
            finally:
                out.append(gateway.counters)

    asyncio.run(main())


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def run_bench(
    calls: int,
    rate: float,
    burst: int,
    *,
    instances: int = 1,
    db_url: str | None = None,
    faults: str = "",
    read_all: bool = False,
) -> dict[str, Any]:
    """Run the bench; returns the figures printed by the command."""
    import logging

    from sandbox.bitrix24.faults import parse_profile
    from sandbox.bitrix24.testing import run_sandbox

    # Injected connection drops make the in-process server print tracebacks; the figures say it all.
    logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
    bulk_total = int(calls * BULK_SHARE)
    stamp = str(int(time.time()))
    works = [
        Workload(singles, bulk, f"{stamp}.{n}", read_all=read_all and n == 0)
        for n, (singles, bulk) in enumerate(
            zip(_split(calls - bulk_total, instances), _split(bulk_total, instances), strict=True)
        )
    ]
    counters: list[Counters] = []
    with (
        run_sandbox(rate=rate, burst=burst, faults=parse_profile(faults)) as sb,
        _budgets(instances, rate, burst, db_url) as budgets,
    ):
        departments = sb.knobs.departments()
        department = int(departments[0]["ID"]) if departments else 1
        threads = [
            threading.Thread(target=_run_instance, args=(sb.webhook_url, budget, work, department, counters))
            for budget, work in zip(budgets, works, strict=True)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - started
        log = sb.knobs.log()
    return _figures(calls, rate, burst, instances, works, counters, log, wall, faults)


def _figures(
    calls: int,
    rate: float,
    burst: int,
    instances: int,
    works: list[Workload],
    counters: list[Counters],
    log: list[dict[str, Any]],
    wall: float,
    faults: str,
) -> dict[str, Any]:
    warm = int(capacity_for(burst))
    refused = [i for i, entry in enumerate(log) if entry.get("error") == "QUERY_LIMIT_EXCEEDED"]
    served = [float(entry["at"]) for entry in log if "at" in entry][warm:]
    span = served[-1] - served[0] if len(served) > 1 else 0.0
    achieved = (len(served) - 1) / span if span > 0 else 0.0
    total = Counters()
    for item in counters:
        for name in vars(total):
            setattr(total, name, getattr(total, name) + getattr(item, name))
    errors: dict[str, int] = {}
    for work in works:
        for code, count in work.errors.items():
            errors[code] = errors.get(code, 0) + count
    minimum = sum(work.minimum() for work in works)
    reader = works[0]
    return {
        "calls": calls,
        "single_calls": sum(w.singles for w in works),
        "bulk_items": sum(w.bulk for w in works),
        "instances": instances,
        "faults": faults or "none",
        "rate_allowed": rate,
        "burst": burst,
        "requests_sent": total.requests,
        "requests_logged": len(log),
        "minimal_requests": minimum,
        "requests_over_minimum": round(len(log) / minimum, 3) if minimum else None,
        "list_rows": reader.list_rows if reader.read_all else None,
        "list_requests": reader.list_requests if reader.read_all else None,
        "query_limit_exceeded": len(refused),
        "query_limit_exceeded_after_warmup": sum(1 for i in refused if i >= warm),
        "faults_injected": sum(1 for entry in log if "fault" in entry),
        "retries": total.retries,
        "bulk_items_per_request": round(total.batch_commands / total.batch_requests, 2)
        if total.batch_requests
        else 0,
        "steady_requests": len(served),
        "achieved_rate": round(achieved, 3),
        "achieved_over_allowed": round(achieved / rate, 3) if rate else 0,
        "overall_rate": round(total.requests / wall, 3) if wall else 0,
        "wall_seconds": round(wall, 2),
        "errors": errors,
        "note": "achieved_rate: requests the portal received after the warm-up burst (burst-2), per second",
    }


def register(group: typer.Typer) -> None:
    @group.command("b24")
    def bench_b24(
        calls: Annotated[
            int, typer.Option("--calls", min=1, help="Logical calls: 80% bulk items, 20% singles.")
        ] = 1000,
        rate: Annotated[
            float, typer.Option("--rate", min=0.1, help="Requests per second the portal allows.")
        ] = 2.0,
        burst: Annotated[
            int, typer.Option("--burst", min=1, help="Leaky-bucket size (50; Enterprise 250).")
        ] = 50,
        instances: Annotated[
            int, typer.Option("--instances", min=1, help="Gateways sharing one budget through the store.")
        ] = 1,
        database_url: Annotated[
            str,
            typer.Option(
                "--database-url", help="State store URL for the shared budget (default: temp SQLite)."
            ),
        ] = "",
        faults: Annotated[
            str, typer.Option("--faults", help="Sandbox fault profile: none, flaky, rough, k=v,…")
        ] = "",
        read_all: Annotated[
            bool, typer.Option("--read-all", help="Then read every user once (a full list read).")
        ] = False,
    ) -> None:
        """Drive N mixed calls through the Bitrix24 connector against a sandbox with that rate; print JSON."""
        figures = run_bench(
            calls,
            rate,
            burst,
            instances=instances,
            db_url=database_url or None,
            faults=faults,
            read_all=read_all,
        )
        typer.echo(json.dumps(figures, indent=2))
