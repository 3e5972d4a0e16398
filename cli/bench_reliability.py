"""`extranet-bridge bench crash|faults|deliveries|instances`: the long reliability proofs (issue 8).

Each starts its own sandboxes (subprocesses) and drives the bridge from outside — its `sync` command
killed with SIGKILL, its HTTP service fed deliveries — then checks Bitrix24 for duplicates, reconciles
for drift and plans afresh from 1C for changes that never arrived. One JSON document on stdout; the
figures go to docs/RELIABILITY.md with the command and the date.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import tempfile
import time
from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from cli import reliability_crash as crash
from cli import reliability_faults as faults_kit
from cli import reliability_harness as harness
from cli.options import EmployeesCount, PersonsAlias, company_size, persons_about

Kills = Annotated[int, typer.Option(help="SIGKILLs, spread over extract, apply and commit.")]
Seed = Annotated[int, typer.Option(help="Seed of the company and of the kill points.")]
Rate = Annotated[float, typer.Option(help="Bitrix24 requests per second (burst 25×rate).")]
DatabaseUrl = Annotated[
    str | None, typer.Option(help="State store URL (default: a fresh SQLite file in a temporary folder).")
]

ONEC_FAULTS = ("proxy_502", "drop", "licence", "soap_fault", "slow", "sessions_locked")
"""1C faults (onec-zup.md §1.1): before each attempt of the fault bench one "sessions locked" and the
next of these are armed for one call each (after an attempt that failed, the next one runs clean)."""

B24_FAULTS = "error_500=0.04,error_503=0.04,html=0.03,timeout=0.01,reset=0.03,seed={seed},timeout_seconds=3"


def _report(name: str, command: str, started: float, **figures: Any) -> None:
    document = {
        "bench": name,
        "command": command,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "wall_seconds": round(time.monotonic() - started, 1),
        **figures,
    }
    print(json.dumps(document, ensure_ascii=False, default=str), flush=True)


def _campaign_figures(campaign: crash.Campaign) -> dict[str, Any]:
    landed: dict[str, int] = {}
    for kill in campaign.kills:
        landed[kill.landed] = landed.get(kill.landed, 0) + 1
    return {
        "kills": len(campaign.kills),
        "kills_landed": landed,
        "kill_points": [asdict(k) for k in campaign.kills],
        "attempts": campaign.attempts,
        "runs_completed_between_kills": campaign.completed_runs,
        "1c_churns": campaign.churns,
        "attempts_failed_by_themselves": dict(Counter(campaign.failures)),
    }


def _verify(config: Path, b24_base: str, *, patience_seconds: float = 0) -> dict[str, Any]:
    summaries = harness.finish(config, patience_seconds=patience_seconds)
    figures: dict[str, Any] = {
        "completion_runs": len(summaries),
        "completion_runs_planned": [s.get("planned") for s in summaries],
        "completion_runs_applied": [s.get("applied") for s in summaries],
    }
    figures.update(harness.duplicates(b24_base))
    figures.update(asyncio.run(harness.drift_and_lost(config)))
    return figures


def bench_crash(
    employees: EmployeesCount = 10_800,
    persons: PersonsAlias = None,
    kills: Kills = 20,
    seed: Seed = 1,
    rate: Rate = 20.0,
    database_url: DatabaseUrl = None,
) -> None:
    """Kill a real `sync` with SIGKILL at random points, restart until done; count duplicates and drift."""
    size = company_size(employees, persons)
    command = f"extranet-bridge bench crash --employees {size} --kills {kills} --seed {seed} --rate {rate}"
    _run_campaign("crash", command, size, persons, kills, seed, rate, database_url, faults=False)


def bench_faults(
    employees: EmployeesCount = 10_800,
    persons: PersonsAlias = None,
    kills: Kills = 6,
    seed: Seed = 1,
    rate: Rate = 20.0,
    database_url: DatabaseUrl = None,
) -> None:
    """A full mirror under both sandboxes' fault profiles and one OPERATION_TIME_LIMIT window, with kills."""
    size = company_size(employees, persons)
    command = f"extranet-bridge bench faults --employees {size} --kills {kills} --seed {seed} --rate {rate}"
    _run_campaign("faults", command, size, persons, kills, seed, rate, database_url, faults=True)


def _run_campaign(
    name: str,
    command: str,
    employees: int,
    persons: int | None,
    kills: int,
    seed: int,
    rate: float,
    database_url: str | None,
    *,
    faults: bool,
) -> None:
    started = time.monotonic()
    b24_faults = B24_FAULTS.format(seed=seed) if faults else None
    with (
        tempfile.TemporaryDirectory(prefix="eb-reliability-") as tmp,
        harness.sandboxes(employees, seed, rate=rate, burst=int(25 * rate), faults=b24_faults) as endpoints,
    ):
        db_url = database_url or f"sqlite:///{Path(tmp) / 'state.db'}"
        config = harness.write_config(
            Path(tmp) / "bridge.yaml",
            harness.bridge_config(endpoints, db_url, rate=rate, burst=int(25 * rate)),
        )
        window = None
        if faults:  # the window opens once the first run is applying (user.add is then in use)
            observer = crash.Observer(db_url)

            def applying() -> bool:
                now = observer.progress()
                return now.unfinished and now.settled > 0

            window = faults_kit.OperationLimitWindow(endpoints.b24_base, applying, seconds=60)
        rotation = itertools.cycle(ONEC_FAULTS)

        def arm() -> None:
            faults_kit.arm_onec_faults(endpoints.onec_base, [("sessions_locked", 1), (next(rotation), 1)])

        people = persons if persons is not None else persons_about(employees)  # as the old --persons
        churn = {"hires": people // 100, "transfers": people // 100, "dismissals": people // 200}
        churn["personEdits"] = people // 100
        with window or faults_kit.nothing():
            campaign = crash.crash_campaign(
                config,
                db_url,
                endpoints.onec_base,
                kills,
                seed=seed,
                churn=churn,
                before_attempt=arm if faults else None,
            )
        faults_kit.clear_faults(endpoints)
        figures = _campaign_figures(campaign)
        if window is not None:
            blocks = faults_kit.recorded_blocks(db_url)
            figures["operation_time_limit_window"] = {**window.figures(), **blocks}
        # After an OPERATION_TIME_LIMIT the bridge honours the block until the portal's reset time (up
        # to 10 min), so completion may take that long.
        figures.update(_verify(config, endpoints.b24_base, patience_seconds=900 if faults else 0))
    _report(name, command, started, employees=employees, **figures)


def bench_deliveries(
    deliveries: Annotated[int, typer.Option(help="Deliveries to send (a third are duplicates).")] = 1000,
    seed: Seed = 1,
    concurrency: Annotated[int, typer.Option(help="Deliveries in flight at once.")] = 8,
    database_url: DatabaseUrl = None,
) -> None:
    """Bitrix24's event deliveries replayed to the service, a third duplicated, shuffled: each effect once."""
    from cli.reliability_deliveries import disorder_proof

    command = f"extranet-bridge bench deliveries --deliveries {deliveries} --seed {seed}"
    command += f" --concurrency {concurrency}"
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="eb-reliability-") as tmp,
        harness.sandboxes(20, seed, rate=50, burst=250) as endpoints,
    ):
        db_url = database_url or f"sqlite:///{Path(tmp) / 'state.db'}"
        figures = disorder_proof(
            endpoints, db_url, Path(tmp), deliveries=deliveries, seed=seed, concurrency=concurrency
        )
    _report("deliveries", command, started, **figures)


def bench_instances(
    database_url: Annotated[
        str, typer.Option(help="The one store all instances share (PostgreSQL: postgresql+psycopg://…).")
    ],
    employees: EmployeesCount = 2160,
    persons: PersonsAlias = None,
    seconds: Annotated[float, typer.Option(help="How long the two services run (ticks are 1 min).")] = 200,
    rate: Annotated[
        float, typer.Option(help="Bitrix24 requests per second, sandbox and bridge alike.")
    ] = 2.0,
    burst: Annotated[int, typer.Option(help="Bitrix24 burst, sandbox and bridge alike.")] = 50,
    seed: Seed = 1,
) -> None:
    """Two services (jobs every minute) and two `sync` commands on one store: jobs once, budget kept."""
    from cli.reliability_instances import instances_proof

    size = company_size(employees, persons)
    command = f"extranet-bridge bench instances --database-url <postgresql> --employees {size}"
    command += f" --seconds {seconds:g} --rate {rate:g} --burst {burst} --seed {seed}"
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="eb-reliability-") as tmp,
        harness.sandboxes(size, seed, rate=rate, burst=burst) as endpoints,
    ):
        figures = instances_proof(endpoints, database_url, Path(tmp), seconds=seconds, rate=rate, burst=burst)
    _report("instances", command, started, employees=size, **figures)


def register(group: typer.Typer) -> None:
    group.command("crash")(bench_crash)
    group.command("faults")(bench_faults)
    group.command("deliveries")(bench_deliveries)
    group.command("instances")(bench_instances)
