"""`extranet-bridge bench sync`: the mirror at scale against both sandboxes, phase by phase.

The sandboxes run as subprocesses (so peak RSS is the bridge's own), the Bitrix24 one with the leaky
bucket at rate R and burst 25·R. Phases: initial mirror, incremental with 1% of persons changed,
incremental with no change, reconcile. For each: Bitrix24 requests used (the sandbox's request log),
the minimum for that work (Σ over methods of ⌈items ÷ 50⌉), wall seconds, requests ÷ (wall × R),
writes sent, refusals by the limiter, peak RSS.
"""

from __future__ import annotations

import asyncio
import json
import math
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from config.logging import configure_logging
from config.settings import Settings
from config.wiring import open_bridge, open_store
from connectors.bitrix24.port import Bitrix24Port, Call, CallOutcome
from sandbox.onec.testing import Knobs as OneCKnobs
from sandbox.server import free_port
from sync import run

READS = {"user.get", "sonet_group.get", "sonet_group.user.get", "user.search"}


class CountingPort:
    """The real gateway, counting the items of work per method (for the minimal-request figure)."""

    def __init__(self, inner: Bitrix24Port) -> None:
        self.inner = inner
        self.items: dict[str, int] = {}
        self.list_pages: dict[str, int] = {}

    def _count(self, method: str, n: int = 1) -> None:
        self.items[method] = self.items.get(method, 0) + n

    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        self._count(method)
        return await self.inner.call(method, params)

    async def batch(self, calls: Sequence[Call], *, halt: bool = False) -> list[CallOutcome]:
        for item in calls:
            self._count(item.method)
        return await self.inner.batch(calls, halt=halt)

    async def list_all(
        self, method: str, params: Mapping[str, Any] | None = None, *, id_key: str = "ID"
    ) -> AsyncIterator[list[dict[str, Any]]]:
        async for page in self.inner.list_all(method, params, id_key=id_key):
            self.list_pages[method] = self.list_pages.get(method, 0) + 1
            yield page

    async def close(self) -> None:
        await self.inner.close()

    def reset(self) -> None:
        self.items.clear()
        self.list_pages.clear()

    def minimum(self) -> int:
        batched = sum(math.ceil(n / 50) for n in self.items.values())
        return batched + sum(self.list_pages.values())

    def writes(self) -> int:
        return sum(n for method, n in self.items.items() if method not in READS)


def _wait_up(url: str, process: subprocess.Popen[bytes], seconds: float = 600) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sandbox exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"sandbox at {url} did not come up")


@contextmanager
def _sandboxes(employees: int, seed: int, rate: float) -> Iterator[tuple[str, str, str]]:
    b24_port, onec_port, code = free_port(), free_port(), secrets.token_hex(8)
    cli = [sys.executable, "-m", "cli.main", "sandbox"]
    b24 = subprocess.Popen(
        [
            *cli,
            "bitrix24",
            "--port",
            str(b24_port),
            "--rate",
            str(rate),
            "--burst",
            str(int(25 * rate)),
            "--webhook-code",
            code,
        ],
        stdout=subprocess.DEVNULL,
    )
    onec = subprocess.Popen(
        [*cli, "onec", "--port", str(onec_port), "--seed", str(seed), "--employees", str(employees)],
        stdout=subprocess.DEVNULL,
    )
    try:
        b24_base, onec_base = f"http://127.0.0.1:{b24_port}", f"http://127.0.0.1:{onec_port}"
        _wait_up(f"{b24_base}/_sandbox/state", b24)
        _wait_up(f"{onec_base}/_sandbox/health", onec)
        yield b24_base, f"{b24_base}/rest/1/{code}/", onec_base
    finally:
        for process in (b24, onec):
            process.terminate()
            process.wait(timeout=30)


def _log_size(b24_base: str) -> list[dict[str, Any]]:
    text = httpx.get(f"{b24_base}/_sandbox/log", timeout=120).text
    return [json.loads(line) for line in text.splitlines() if line.strip()]


async def _bench(persons: int, rate: float, seed: int, store_dir: Path) -> list[dict[str, Any]]:
    employees = math.ceil(persons * 1.08)  # the generator makes about 0.93 persons per employment
    phases: list[dict[str, Any]] = []
    with _sandboxes(employees, seed, rate) as (b24_base, webhook, onec_base):
        settings = Settings(
            database={"url": f"sqlite:///{store_dir / 'bench.db'}"},
            bitrix24={"webhook_url": webhook, "rate": rate, "burst": int(25 * rate)},
            onec={
                "endpoint": f"{onec_base}/zup/ws/ExtranetBridge.1cws",
                "username": "Интеграция",
                "password": "Пароль-1С",
            },
        )
        store = open_store(settings)
        bridge = open_bridge(settings, store)
        counting = CountingPort(bridge.b24)
        bridge.b24 = counting
        ctx = bridge.sync_context()
        knobs = OneCKnobs(onec_base)
        seen = len(_log_size(b24_base))

        async def phase(name: str, body: Callable[[], Awaitable[Any]], **extra: Any) -> None:
            nonlocal seen
            counting.reset()
            started = time.monotonic()
            await body()
            wall = time.monotonic() - started
            log = _log_size(b24_base)
            mine = log[seen:]
            seen = len(log)
            requests = len(mine)
            minimum = counting.minimum()
            phases.append(
                {
                    "phase": name,
                    **extra,
                    "requests": requests,
                    "minimal_requests": minimum,
                    "requests_over_minimum": round(requests / minimum, 3) if minimum else None,
                    "wall_seconds": round(wall, 2),
                    "requests_over_wall_x_rate": round(requests / (wall * rate), 3) if wall else None,
                    "writes": counting.writes(),
                    "refused_by_limiter": sum(1 for e in mine if e.get("error") == "QUERY_LIMIT_EXCEEDED"),
                    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                }
            )
            print(json.dumps(phases[-1], ensure_ascii=False), flush=True)

        try:
            await phase("initial", lambda: run.full(ctx), persons_in_1c=knobs.stats()["counts"]["Person"])
            # 1% of the persons; only those are fetched, so the harness adds nothing to the bridge's RSS.
            total = int(knobs.stats()["counts"]["Person"])
            changed = knobs.pick("Person", n=max(1, total // 100))
            for person in changed:
                knobs.edit_person(person["ref"], lastName=person["last_name"] + "-Изм")
            await phase("incremental_1pct", lambda: run.incremental(ctx), persons_changed=len(changed))
            await phase("no_change", lambda: run.incremental(ctx))
            await phase("reconcile", lambda: run.reconcile(ctx))
        finally:
            knobs.close()
            await bridge.close()
            store.dispose()
    return phases


def bench_sync(
    persons: Annotated[int, typer.Option(help="Persons in the generated company (about).")] = 50_000,
    rate: Annotated[float, typer.Option(help="Bitrix24 requests per second (burst is 25×rate).")] = 5.0,
    seed: Annotated[int, typer.Option(help="Seed of the generated company.")] = 1,
) -> None:
    """Initial mirror, 1% incremental, no-change run and reconcile against the sandboxes; JSON per phase."""
    configure_logging("ERROR")
    with tempfile.TemporaryDirectory(prefix="eb-bench-") as tmp:
        phases = asyncio.run(_bench(persons, rate, seed, Path(tmp)))
    print(json.dumps({"persons": persons, "rate": rate, "phases": phases}, ensure_ascii=False))


def register(group: typer.Typer) -> None:
    group.command("sync")(bench_sync)
