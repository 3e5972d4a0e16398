"""`serve` (the HTTP service with its scheduled jobs), `install` and `uninstall` (the portal's setup for the
process catalog: processes/install.py plans, processes/portal_setup.py applies).

Imports of the bridge happen inside the commands, so that `extranet-bridge --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.options import ConfigOption


def route_uvicorn_logs() -> None:
    """uvicorn's access lines become `http.request` events with fields (client, method, path, status)
    in the bridge's structlog pipeline; its error lines propagate there as they are (log_config=None)."""
    import logging

    import structlog

    class AccessAsEvent(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            args = record.args
            if not (isinstance(args, tuple) and len(args) == 5):
                return True  # already an event (ours, re-emitted below) or an unknown shape
            client, method, path, version, status = args
            structlog.get_logger("uvicorn.access").info(
                "http.request", client=client, method=method, path=path, http_version=version, status=status
            )
            return False

    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # undo uvicorn's own dictConfig, if any ran
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    if not any(type(f).__name__ == "AccessAsEvent" for f in access.filters):
        access.addFilter(AccessAsEvent())


def serve(
    config: ConfigOption = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Listen on this address instead of server.host.")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", min=1, max=65535, help="Listen on this port instead of server.port."),
    ] = None,
    no_jobs: Annotated[
        bool, typer.Option("--no-jobs", help="Serve HTTP only; run no scheduled jobs.")
    ] = False,
) -> None:
    """Run the service: Bitrix24 events, admin API, /healthz, /readyz, /metrics and the scheduled jobs.
    It starts before Bitrix24 and 1C are configured: healthy, not ready, and the jobs that need them wait."""
    import asyncio
    import logging

    import uvicorn

    from cli.common import probe_store
    from config.wiring import open_store, settings_from
    from webhooks.app import create_app
    from webhooks.jobs import schedule_jobs
    from webhooks.scheduler import JobScheduler, default_holder
    from webhooks.unconfigured import missing_settings, service_bridge

    settings = settings_from(config)
    route_uvicorn_logs()
    probe_store(settings.database.url)
    store = open_store(settings)
    for system, fix in missing_settings(settings).items():
        logging.getLogger(__name__).info("serve.not_configured", extra={"system": system, "fix": fix})

    async def main() -> None:
        bridge = service_bridge(settings, store)
        app = create_app(settings, store)
        scheduler = JobScheduler(
            store.sessions,
            default_holder(),
            timezone=settings.schedule.timezone,
            on_run=app.state.metrics.observe_job,
        )
        if not no_jobs:
            schedule_jobs(scheduler, bridge)
            scheduler.start()
        server = uvicorn.Server(
            # log_config=None: uvicorn's error and access lines propagate to the root logger, i.e. through
            # the same structlog pipeline as ours (JSON off-terminal, redacted), not its own handlers.
            uvicorn.Config(
                app,
                host=host or settings.server.host,
                port=port or settings.server.port,
                log_config=None,
            )
        )
        try:
            await server.serve()
        finally:
            await scheduler.shutdown()
            await bridge.close()

    try:
        asyncio.run(main())
    finally:
        store.dispose()


DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Only print what would change.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the operations as JSON.")]


def _setup(config: Path | None, dry_run: bool, as_json: bool, *, removing: bool) -> None:
    """Read the portal, plan from the catalog, print the plan or apply it (processes/portal_setup.py)."""
    import asyncio
    import json

    from rich.table import Table

    from cli.common import console, probe_store
    from config.wiring import open_store, settings_from
    from processes import install as planning
    from processes import portal_setup as setup
    from processes.catalog import default_catalog

    settings = settings_from(config)
    probe_store(settings.database.url)
    store = open_store(settings)

    async def main() -> tuple[list[planning.Operation], list[planning.Operation]]:
        gateway = setup.app_gateway(settings, store)
        want = planning.desired(
            default_catalog(), settings.bitrix24.app.client_id, settings.server.public_url
        )

        def planner(have: planning.PortalState) -> list[planning.Operation]:
            if removing:
                return planning.plan_uninstall(want, have)
            return planning.plan_install(want, have, setup.FIELD_TYPES)

        try:
            if dry_run:
                ops = planner(await setup.read_portal(gateway))
                conflicts: list[planning.Operation] = [
                    op for op in ops if isinstance(op, planning.FieldConflict)
                ]
                return [op for op in ops if op not in conflicts], conflicts
            done = await setup.apply(gateway, planner)
            return done.applied, done.conflicts
        finally:
            await gateway.close()

    try:
        ops, conflicts = asyncio.run(main())
    finally:
        store.dispose()
    rows = [planning.describe(op) for op in [*ops, *conflicts]]
    if as_json:
        keys = ("action", "object", "detail")
        console.print_json(
            json.dumps({"dry_run": dry_run, "operations": [dict(zip(keys, r, strict=True)) for r in rows]})
        )
        return
    verb = "would" if dry_run else "did"
    if not rows:
        console.print(
            "the portal is already set up" if not removing else "nothing of the bridge is on the portal"
        )
        return
    table = Table(
        "action",
        "object",
        "detail",
        title=f"what install {verb} change" if not removing else f"what uninstall {verb} remove",
    )
    for row in rows:
        table.add_row(*row)
    console.print(table)


def install(config: ConfigOption = None, dry_run: DryRunOption = False, as_json: JsonOption = False) -> None:
    """Prepare the portal for the HR process catalog (lists, activities, templates, events, placements);
    a second run changes nothing. Needs the OAuth application and server.public_url. The service does
    not serve the process pages yet, so people cannot use the processes until it does."""
    _setup(config, dry_run, as_json, removing=False)


def uninstall(
    config: ConfigOption = None, dry_run: DryRunOption = False, as_json: JsonOption = False
) -> None:
    """Remove what install added (and only that), leaving the portal as it was."""
    _setup(config, dry_run, as_json, removing=True)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("install")(install)
    app.command("uninstall")(uninstall)
