"""`extranet-bridge bench b24`: drive the Bitrix24 connector against an in-process sandbox and measure it.

Starts the Bitrix24 sandbox on loopback with the given leaky bucket (rate, burst), then sends a mix of
work through ``Bitrix24Gateway``: bulk invitations (``user.add`` batched by 50) and, at the same time,
single calls (``user.get`` by ID, ``user.update``) from a few concurrent workers. Prints one JSON object:
requests sent, requests the portal refused with QUERY_LIMIT_EXCEEDED (in all and after the warm-up burst),
items per request on bulk work, the achieved request rate after warm-up ÷ the allowed rate, wall seconds.
Owns only the measurement; the sandbox and the gateway are used as they are.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer

from connectors.bitrix24.budget import MemoryBudget
from connectors.bitrix24.gateway import Bitrix24Gateway
from connectors.bitrix24.port import Call

SINGLE_WORKERS = 8
BULK_SHARE = 0.8


class RecordingBudget(MemoryBudget):
    """The gateway's budget, noting when each request was let through."""

    def __init__(self, rate: float, burst: int) -> None:
        super().__init__(rate, burst)
        self.admitted: list[float] = []

    async def acquire(self, cost: float = 1.0) -> float:
        waited = await super().acquire(cost)
        self.admitted.append(time.monotonic())
        return waited


@dataclass
class Workload:
    singles: int
    bulk: int
    errors: dict[str, int] = field(default_factory=dict)

    def note(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1


async def _drive(gateway: Bitrix24Gateway, work: Workload, department: int) -> None:
    stamp = int(time.time())
    invites = [
        Call(
            "user.add",
            {"EMAIL": f"bench{stamp}.{i}@example.test", "NAME": f"Bench{i}", "UF_DEPARTMENT": [department]},
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
            except Exception as exc:  # counted, the bench goes on
                work.note(getattr(exc, "code", type(exc).__name__))

    async def bulk() -> None:
        for outcome in await gateway.batch(invites):
            if outcome.error is not None:
                work.note(getattr(outcome.error, "code", "error"))

    await asyncio.gather(bulk(), *(single_worker() for _ in range(SINGLE_WORKERS)))


def run_bench(calls: int, rate: float, burst: int) -> dict[str, Any]:
    """Run the bench; returns the figures printed by the command."""
    from sandbox.bitrix24.testing import run_sandbox

    bulk = int(calls * BULK_SHARE)
    work = Workload(singles=calls - bulk, bulk=bulk)
    budget = RecordingBudget(rate, burst)
    with run_sandbox(rate=rate, burst=burst) as sb:
        department = _root_department(sb)
        gateway = Bitrix24Gateway(sb.webhook_url, budget=budget)

        async def main() -> None:
            try:
                await _drive(gateway, work, department)
            finally:
                await gateway.close()

        started = time.monotonic()
        asyncio.run(main())
        wall = time.monotonic() - started
        log = sb.knobs.log()
    warm = int(budget.capacity)
    refused = [i for i, entry in enumerate(log) if entry.get("error") == "QUERY_LIMIT_EXCEEDED"]
    steady = budget.admitted[warm:]
    span = steady[-1] - steady[0] if len(steady) > 1 else 0.0
    achieved = (len(steady) - 1) / span if span > 0 else 0.0
    counters = gateway.counters
    served = [float(e["at"]) for e in log if "at" in e][warm:]
    server_span = served[-1] - served[0] if len(served) > 1 else 0.0
    achieved_server = (len(served) - 1) / server_span if server_span > 0 else 0.0
    return {
        "calls": calls,
        "single_calls": work.singles,
        "bulk_items": work.bulk,
        "rate_allowed": rate,
        "burst": burst,
        "requests_sent": counters.requests,
        "query_limit_exceeded": len(refused),
        "query_limit_exceeded_after_warmup": sum(1 for i in refused if i >= warm),
        "retries": counters.retries,
        "bulk_items_per_request": round(counters.batch_commands / counters.batch_requests, 2)
        if counters.batch_requests
        else 0,
        "steady_requests": len(steady),
        "achieved_rate": round(achieved, 3),
        "achieved_over_allowed": round(achieved / rate, 3) if rate else 0,
        "achieved_rate_seen_by_portal": round(achieved_server, 3),
        "overall_rate": round(counters.requests / wall, 3) if wall else 0,
        "wall_seconds": round(wall, 2),
        "errors": work.errors,
        "note": "achieved_rate: requests after the warm-up burst (burst-2) up to the last, per second",
    }


def _root_department(sb: Any) -> int:
    departments = sb.knobs.departments()
    return int(departments[0]["ID"]) if departments else 1


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
    ) -> None:
        """Drive N mixed calls through the Bitrix24 connector against a sandbox with that rate; print JSON."""
        typer.echo(json.dumps(run_bench(calls, rate, burst), indent=2))
