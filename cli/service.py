"""`serve` (the HTTP service with its scheduled jobs) and `install` (event bindings of the app)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import with_bridge
from cli.options import ConfigOption

if TYPE_CHECKING:
    from config.wiring import Bridge


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
    no_jobs: Annotated[
        bool, typer.Option("--no-jobs", help="Serve HTTP only; run no scheduled jobs.")
    ] = False,
) -> None:
    """Run the service: Bitrix24 events, admin API and the scheduled sync, reconcile and invitations."""
    import asyncio

    import uvicorn

    from cli.common import probe_store
    from config.wiring import open_bridge, open_store, settings_from
    from webhooks.app import create_app
    from webhooks.jobs import schedule_jobs
    from webhooks.scheduler import JobScheduler, default_holder

    settings = settings_from(config)
    route_uvicorn_logs()
    probe_store(settings.database.url)
    store = open_store(settings)

    async def main() -> None:
        bridge = open_bridge(settings, store)
        scheduler = JobScheduler(store.sessions, default_holder(), timezone=settings.schedule.timezone)
        if not no_jobs:
            schedule_jobs(scheduler, bridge)
            scheduler.start()
        server = uvicorn.Server(
            # log_config=None: uvicorn's error and access lines propagate to the root logger, i.e. through
            # the same structlog pipeline as ours (JSON off-terminal, redacted), not its own handlers.
            uvicorn.Config(
                create_app(settings, store),
                host=settings.server.host,
                port=settings.server.port,
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


def install(config: ConfigOption = None) -> None:
    """Bind the Bitrix24 events the bridge listens to (needs the OAuth application and server.public_url)."""
    from cli.common import console
    from connectors.errors import ConfigError

    async def body(bridge: Bridge) -> list[str]:
        settings = bridge.settings
        if not settings.bitrix24.app.client_id:
            raise ConfigError(
                "install needs the Bitrix24 application: set bitrix24.app.client_id and client_secret"
            )
        if not settings.server.public_url:
            raise ConfigError("install needs server.public_url: where Bitrix24 can reach this bridge")
        handler = settings.server.public_url.rstrip("/") + "/bitrix24/events"
        bound = []
        for event in ("ONUSERADD", "ONAPPUNINSTALL"):
            # bitrix24-rest.md §6.1: event.bind is app-only; binding twice is refused, so unbind first.
            await bridge.b24.call("event.unbind", {"event": event, "handler": handler})
            await bridge.b24.call("event.bind", {"event": event, "handler": handler})
            bound.append(event)
        return bound

    for event in with_bridge(config, body):
        console.print(f"bound {event}")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("install")(install)
