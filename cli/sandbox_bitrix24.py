"""`extranet-bridge sandbox bitrix24`: serve the Bitrix24 REST sandbox in the foreground.

Thin: parses options into a SandboxConfig, prints the incoming-webhook URL(s) it accepts, serves.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from cli.options import LimitsPlan


def register(group: typer.Typer) -> None:
    group.command("bitrix24")(bitrix24)


def bitrix24(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8724,
    rate: Annotated[
        float | None, typer.Option(help="Leaky-bucket drain per second (plan default: 2, 5).")
    ] = None,
    burst: Annotated[
        int | None, typer.Option(help="Requests allowed in a burst (plan default: 50, 250).")
    ] = None,
    plan: Annotated[
        LimitsPlan, typer.Option(help="Plan limits (bitrix24-rest.md §8.1).")
    ] = LimitsPlan.standard,
    op_budget: Annotated[float, typer.Option(help="Operating seconds per method per 10 minutes.")] = 480.0,
    op_cost: Annotated[
        float | None, typer.Option(help="Simulated operating seconds per call (default: measured).")
    ] = None,
    faults: Annotated[
        str | None,
        typer.Option(help="Fault profile: none, flaky, rough or key=value pairs (error_500=0.1,seed=7)."),
    ] = None,
    state_file: Annotated[
        Path | None, typer.Option(help="Load state from / save state to this JSON file.")
    ] = None,
    domain: Annotated[str, typer.Option(help="Portal domain reported to apps.")] = "sandbox.bitrix24.test",
    webhook_code: Annotated[str | None, typer.Option(help="Code of the admin's incoming webhook.")] = None,
    client_id: Annotated[
        str, typer.Option(help="The local application's client_id.")
    ] = "local.sandbox0000000000.00000000",
    client_secret: Annotated[str | None, typer.Option(help="The local application's client_secret.")] = None,
    token_lifetime: Annotated[int, typer.Option(help="OAuth access-token lifetime in seconds.")] = 3600,
    app_handler: Annotated[
        str | None, typer.Option(help="Install the app on start, POSTing ONAPPINSTALL here.")
    ] = None,
) -> None:
    """Run the Bitrix24 REST sandbox until stopped."""
    from sandbox.bitrix24.app import create_app
    from sandbox.bitrix24.config import SandboxConfig, WebhookConfig
    from sandbox.bitrix24.faults import parse_profile
    from sandbox.server import serve_forever

    try:
        profile = parse_profile(faults)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{exc}; e.g. flaky, rough or error_500=0.1,seed=7", param_hint="--faults"
        ) from None
    hook = WebhookConfig(user_id=1, code=webhook_code) if webhook_code else WebhookConfig()
    config = SandboxConfig(
        domain=domain,
        plan=plan.value,
        rate=rate,
        burst=burst,
        op_budget=op_budget,
        op_default_cost=op_cost,
        faults=profile,
        state_file=state_file,
        webhooks=(hook,),
        client_id=client_id,
        app_handler_url=app_handler,
        install_on_start=app_handler is not None,
        token_lifetime=token_lifetime,
        public_url=f"http://{host}:{port}",
    )
    if client_secret:
        config = dataclasses.replace(config, client_secret=client_secret)
    from cli.sandbox_up import ensure_free

    ensure_free(host, port, "bitrix24")
    app = create_app(config)
    sandbox = app.state.sandbox
    r, b = config.limits()
    typer.echo(f"Bitrix24 sandbox on http://{host}:{port} (rate {r}/s, burst {b}, op budget {op_budget}s)")
    for url in sandbox.webhook_urls():
        typer.echo(f"incoming webhook: {url}")
    typer.echo(f"app client_id: {config.client_id} (secret: GET /_sandbox/app)  oauth: /oauth/token/")
    typer.echo(
        f"users, groups and memberships: http://{host}:{port}/  knobs: http://{host}:{port}/_sandbox/state"
    )
    typer.echo("the portal's state is kept only with --state-file; `sandbox up` keeps it for you")
    serve_forever(app, host, port)
