"""`extranet-bridge bench sync`: the mirror at scale against both sandboxes, phase by phase.

The sandboxes run as subprocesses (so peak RSS is the bridge's own), the Bitrix24 one with the leaky
bucket at rate R and burst 25·R. Phases: initial mirror, incremental with 1% of persons changed,
incremental with no change, reconcile. For each: Bitrix24 requests used (every entry of the sandbox's
request log), the honest minimum for that work (``CountingPort``) and the old definition's beside it, wall
seconds, requests ÷ (wall × R), writes sent, refusals by the limiter, the phase's own peak RSS.
``--employees E --no-change-against S`` also times a no-change sync in fresh processes at E and S employees.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, cast

import httpx
import typer

from cli.options import EmployeesCount, PersonsAlias, company_size
from config.logging import configure_logging
from config.settings import Settings
from config.wiring import open_bridge, open_store
from connectors.bitrix24.port import Bitrix24Port, Call, CallOutcome
from connectors.onec.port import ChangeBatch, OneCPort
from sandbox.onec.testing import Knobs as OneCKnobs
from sandbox.server import free_port
from sync import run

READS = {"user.get", "sonet_group.get", "sonet_group.user.get", "user.search", "department.get"}
PER_REQUEST = 50
"""Commands per batch request and rows per list page (bitrix24-rest.md §7, §1.3)."""
STAGE_OF = {
    "department.add": "departments",
    "department.update": "departments",
    "sonet_group.create": "groups",
    "sonet_group.update": "groups",
    "user.add": "users",
    "user.update": "users",
    "sonet_group.user.add": "members",
    "sonet_group.user.update": "members",
    "sonet_group.user.delete": "removals",
}
"""Writes that may share a batch: apply sends one stage at a time (sync.model.STAGES), mixed within it."""


def _requests(commands: int) -> int:
    return math.ceil(commands / PER_REQUEST)


class CountingPort:
    """The real gateway, counting the work per method, for the honest minimum of requests.

    The minimum: writes ⌈commands ÷ 50⌉ per apply stage, batched reads ⌈commands ÷ 50⌉ per method (member
    lists: ⌈groups ÷ 50⌉), and a full list read of n rows ⌈pages ÷ 50⌉ with pages = ⌊n ÷ 50⌋ + 1 (the last
    page, short or empty, proves the end). The old definition (one request per list page) is kept beside.
    """

    def __init__(self, inner: Bitrix24Port) -> None:
        self.inner = inner
        self.segments: list[dict[str, int]] = [{}]
        """Commands per method, one dict per change-feed batch (see ``FeedMarker``)."""
        self.list_rows: list[int] = []
        """Rows of each full list read."""
        self.seconds = 0.0
        """Wall time spent inside the port (the budget's waits, the network, Bitrix24's answer)."""

    @property
    def items(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for segment in self.segments:
            for method, n in segment.items():
                total[method] = total.get(method, 0) + n
        return total

    def new_segment(self) -> None:
        if self.segments[-1]:
            self.segments.append({})

    def _count(self, method: str, n: int = 1) -> None:
        name = method.strip().lower()
        self.segments[-1][name] = self.segments[-1].get(name, 0) + n

    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        self._count(method)
        started = time.monotonic()
        try:
            return await self.inner.call(method, params)
        finally:
            self.seconds += time.monotonic() - started

    async def batch(self, calls: Sequence[Call], *, halt: bool = False) -> list[CallOutcome]:
        for item in calls:
            self._count(item.method)
        started = time.monotonic()
        try:
            return await self.inner.batch(calls, halt=halt)
        finally:
            self.seconds += time.monotonic() - started

    async def list_all(
        self, method: str, params: Mapping[str, Any] | None = None, *, id_key: str = "ID"
    ) -> AsyncIterator[list[dict[str, Any]]]:
        self.list_rows.append(0)
        read = len(self.list_rows) - 1
        pages = aiter(self.inner.list_all(method, params, id_key=id_key))
        while True:
            started = time.monotonic()
            try:
                page = await anext(pages)
            except StopAsyncIteration:
                break
            finally:
                self.seconds += time.monotonic() - started
            self.list_rows[read] += len(page)
            yield page

    async def close(self) -> None:
        await self.inner.close()

    def reset(self) -> None:
        self.segments = [{}]
        self.list_rows.clear()
        self.seconds = 0.0

    def minimum(self) -> int:
        batched = 0
        for segment in self.segments:
            stages: dict[str, int] = {}
            for method, n in segment.items():
                key = method if method in READS else STAGE_OF.get(method, method)
                stages[key] = stages.get(key, 0) + n
            batched += sum(_requests(n) for n in stages.values())
        lists = sum(_requests(rows // PER_REQUEST + 1) for rows in self.list_rows)
        return batched + lists

    def old_minimum(self) -> int:
        """The definition before issue 11: Σ over methods ⌈items ÷ 50⌉ plus one request per non-empty page."""
        pages = sum(math.ceil(rows / PER_REQUEST) for rows in self.list_rows)
        return sum(_requests(n) for n in self.items.values()) + pages

    def writes(self) -> int:
        return sum(n for method, n in self.items.items() if method not in READS)


class FeedMarker:
    """The 1C port, telling the counter where a change-feed batch starts: each batch is its own run,
    committed before the next is asked for (1C's exchange plan acknowledges only then, maxItems ≤ 500:
    onec-zup.md), so the work of two batches can never share a Bitrix24 request."""

    def __init__(self, inner: OneCPort, counting: CountingPort) -> None:
        self.inner = inner
        self.counting = counting

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def changes(self, ack_message_no: int, max_items: int = 500) -> ChangeBatch:
        self.counting.new_segment()
        return await self.inner.changes(ack_message_no, max_items)


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


NO_CHANGE_RUNS = 10
"""No-change runs timed in each fresh process (the first one included)."""
PROBE_ROUNDS = 3
"""Fresh processes per company, alternating between the two."""


def _histogram(values: Iterable[int]) -> dict[str, int]:
    """Requests by the number of commands they carried (a single call carries one)."""
    counts: dict[int, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return {str(k): counts[k] for k in sorted(counts, reverse=True)}


def _reset_peak_rss() -> None:
    """Start a new peak: writing 5 to clear_refs resets the process's high-water RSS (Linux ≥ 4.0)."""
    with contextlib.suppress(OSError):  # elsewhere the peak is the process's since it started
        Path("/proc/self/clear_refs").write_text("5")


def _peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _settings(store_dir: Path, webhook: str, onec_base: str, rate: float) -> Settings:
    return Settings(
        database={"url": f"sqlite:///{store_dir / 'bench.db'}"},
        bitrix24={"webhook_url": webhook, "rate": rate, "burst": int(25 * rate)},
        onec={
            "endpoint": f"{onec_base}/zup/ws/ExtranetBridge.1cws",
            "username": "Интеграция",
            "password": "Пароль-1С",
        },
    )


Target = tuple[str, Path, str, str, float]
"""One mirrored company: its Bitrix24 sandbox base URL, store directory, webhook, 1C base URL, rate."""


def _child(mode: str, target: Target) -> dict[str, Any]:
    """Run ``probe`` in a fresh process; its figures, with the requests the sandbox logged meanwhile."""
    b24_base, store_dir, webhook, onec_base, rate = target
    seen = len(_log_size(b24_base))
    args = json.dumps([mode, str(store_dir), webhook, onec_base, rate])
    child = subprocess.run(
        [sys.executable, "-c", "import sys, cli.bench_sync as b; b.probe(sys.argv[1])", args],
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    figures["requests"] = len(_log_size(b24_base)) - seen
    return figures


def probe(raw: str) -> None:
    """The child of ``_child``: a full mirror, or no-change syncs timed (wall and this process's CPU)."""
    mode, store_dir, webhook, onec_base, rate = json.loads(raw)
    configure_logging("ERROR")
    settings = _settings(Path(store_dir), webhook, onec_base, float(rate))

    async def main() -> list[tuple[float, float]]:
        store = open_store(settings)
        bridge = open_bridge(settings, store)
        times: list[tuple[float, float]] = []
        try:
            if mode == "full":
                await run.full(bridge.sync_context())
                return times
            for _ in range(NO_CHANGE_RUNS):
                wall, cpu = time.monotonic(), time.process_time()
                await run.incremental(bridge.sync_context())
                times.append((round(time.monotonic() - wall, 3), round(time.process_time() - cpu, 3)))
            return times
        finally:
            await bridge.close()
            store.dispose()

    times = asyncio.run(main())
    # The best of the runs: on a shared machine one run's wall is mostly other processes' noise.
    figures: dict[str, Any] = {"peak_rss_mb": _peak_rss_mb()}
    if times:
        figures.update(
            wall_seconds=min(w for w, _ in times),
            cpu_seconds=min(c for _, c in times),
            walls=[w for w, _ in times],
        )
    print(json.dumps(figures))


def _compare_no_change(larger: Target, smaller: Target, employees: tuple[int, int]) -> dict[str, Any]:
    """Fresh no-change syncs of both companies, alternating, so both meet the same machine load."""
    rounds: dict[str, list[dict[str, Any]]] = {"smaller": [], "larger": []}
    for _ in range(PROBE_ROUNDS):
        rounds["smaller"].append(_child("no_change", smaller))
        rounds["larger"].append(_child("no_change", larger))
    sizes: dict[str, Any] = {"employees": list(employees)}
    for name, runs in rounds.items():
        walls = [w for r in runs for w in r["walls"]]
        sizes[name] = {
            key: min(r[key] for r in runs) for key in ("wall_seconds", "cpu_seconds", "peak_rss_mb")
        } | {"wall_median_seconds": statistics.median(walls), "requests": sum(r["requests"] for r in runs)}
        sizes[name]["walls"] = walls
    for key in ("wall_seconds", "wall_median_seconds", "cpu_seconds", "peak_rss_mb"):
        low, high = sizes["smaller"][key], sizes["larger"][key]
        sizes[f"{key}_larger_over_smaller"] = round(high / low, 3) if low else None
    return sizes


async def _bench(
    employees: int, rate: float, seed: int, store_dir: Path, *, against: tuple[int, Target] | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    phases: list[dict[str, Any]] = []
    sizes: dict[str, Any] | None = None
    with _sandboxes(employees, seed, rate) as (b24_base, webhook, onec_base):
        settings = _settings(store_dir, webhook, onec_base, rate)
        store = open_store(settings)
        bridge = open_bridge(settings, store)
        counting = CountingPort(bridge.b24)
        bridge.b24 = counting
        ctx = replace(bridge.sync_context(), onec=cast(OneCPort, FeedMarker(bridge.onec, counting)))
        knobs = OneCKnobs(onec_base)
        seen = len(_log_size(b24_base))

        async def phase(name: str, body: Callable[[], Awaitable[Any]], **extra: Any) -> None:
            nonlocal seen
            counting.reset()
            _reset_peak_rss()
            started = time.monotonic()
            await body()
            wall = time.monotonic() - started
            peak = _peak_rss_mb()
            log = _log_size(b24_base)
            mine = log[seen:]
            seen = len(log)
            requests = len(mine)  # every request the sandbox logged: empty pages, faults and refusals too
            minimum, old = counting.minimum(), counting.old_minimum()
            phases.append(
                {
                    "phase": name,
                    **extra,
                    "requests": requests,
                    "minimal_requests": minimum,
                    "requests_over_minimum": round(requests / minimum, 3) if minimum else None,
                    "old_minimal_requests": old,
                    "wall_seconds": round(wall, 2),
                    "requests_over_wall_x_rate": round(requests / (wall * rate), 3) if wall else None,
                    # The rest of the wall is the bridge's own work (1C's snapshot, mapping, the store).
                    "seconds_in_bitrix24_port": round(counting.seconds, 2),
                    "writes": counting.writes(),
                    "refused_by_limiter": sum(1 for e in mine if e.get("error") == "QUERY_LIMIT_EXCEEDED"),
                    "peak_rss_mb": peak,
                    "work": dict(sorted(counting.items.items())),
                    "list_reads_rows": list(counting.list_rows),
                    "commands_per_request": _histogram(int(e.get("commands", 1)) for e in mine),
                }
            )
            print(json.dumps(phases[-1], ensure_ascii=False), flush=True)

        try:
            await phase("initial", lambda: run.full(ctx), persons_in_1c=knobs.stats()["counts"]["Person"])
            if against is not None:
                small_employees, small = against
                big: Target = (b24_base, store_dir, webhook, onec_base, rate)
                sizes = _compare_no_change(big, small, (small_employees, employees))
                print(json.dumps({"no_change_sizes": sizes}, ensure_ascii=False), flush=True)
                seen = len(_log_size(b24_base))
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
    return phases, sizes


def bench_sync(
    employees: EmployeesCount = 54_000,
    persons: PersonsAlias = None,
    rate: Annotated[float, typer.Option(help="Bitrix24 requests per second (burst is 25×rate).")] = 5.0,
    seed: Annotated[int, typer.Option(help="Seed of the generated company.")] = 1,
    no_change_against: Annotated[
        int,
        typer.Option(
            help="Also mirror a company of this many employees (persons, with the deprecated --persons) and, "
            "after the initial mirror, time no-change syncs of both in fresh processes, alternating; "
            "prints the larger ÷ the smaller (0: skip)."
        ),
    ] = 0,
) -> None:
    """Initial mirror, 1% incremental, no-change run and reconcile against the sandboxes; JSON per phase."""
    configure_logging("ERROR")
    size = company_size(employees, persons)
    # With the deprecated --persons, --no-change-against counts persons too (as the recorded runs did).
    smaller_size = company_size(no_change_against, no_change_against if persons is not None else None)
    with tempfile.TemporaryDirectory(prefix="eb-bench-") as tmp, contextlib.ExitStack() as stack:
        big_dir, small_dir = Path(tmp) / "big", Path(tmp) / "small"
        big_dir.mkdir()
        small_dir.mkdir()
        against: tuple[int, Target] | None = None
        if no_change_against:
            # Mirrored first, in a child (so this process's RSS stays the big run's), kept up to the end.
            b24_base, webhook, onec_base = stack.enter_context(_sandboxes(smaller_size, seed, rate))
            small: Target = (b24_base, small_dir, webhook, onec_base, rate)
            _child("full", small)
            against = (smaller_size, small)
        phases, sizes = asyncio.run(_bench(size, rate, seed, big_dir, against=against))
        summary: dict[str, Any] = {"employees": size, "rate": rate, "phases": phases}
        if sizes is not None:
            summary["no_change_sizes"] = sizes
    print(json.dumps(summary, ensure_ascii=False))


def register(group: typer.Typer) -> None:
    group.command("sync")(bench_sync)
