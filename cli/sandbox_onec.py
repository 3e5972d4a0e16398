"""`extranet-bridge sandbox onec`: serve the 1C:ZUP sandbox (ExtranetBridge web service + knobs).

Thin: parses options, builds the app, serves in the foreground. The generated company is deterministic
per --seed and dated relative to the sandbox clock (--today pins it).
"""

from __future__ import annotations

import time
from datetime import date
from typing import Annotated

import typer

from cli.options import EMPLOYEES_HELP, parse_day
from connectors.onec.contract import ADVERTISED_ADDRESS


def register(group: typer.Typer) -> None:
    @group.command("onec")
    def sandbox_onec(
        host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=1, max=65535, help="Port to bind.")] = 8081,
        seed: Annotated[int, typer.Option(help="Generator seed (same seed, same company).")] = 1,
        employees: Annotated[int, typer.Option(min=1, max=1_000_000, help=EMPLOYEES_HELP)] = 1000,
        user: Annotated[str, typer.Option(help="Basic-auth login (Cyrillic allowed, UTF-8).")] = "Интеграция",
        password: Annotated[str, typer.Option(help="Basic-auth password.")] = "Пароль-1С",
        timezone: Annotated[
            str, typer.Option("--timezone", help="The 1C server's time zone (IANA name).")
        ] = "Europe/Moscow",
        today: Annotated[
            date | None,
            typer.Option(parser=parse_day, metavar="YYYY-MM-DD", help="Pin the clock's start date."),
        ] = None,
        advertised_address: Annotated[
            str, typer.Option(help="soap:address in the served WSDL ('echo' = the request's own URL).")
        ] = ADVERTISED_ADDRESS,
        knob_token: Annotated[
            str | None, typer.Option(help="Require X-Sandbox-Token on /_sandbox/….")
        ] = None,
        review_delay: Annotated[
            float, typer.Option(help="Seconds (sandbox clock) before HR reviews a request.")
        ] = 600,
    ) -> None:
        """Serve the 1C:ZUP sandbox: WSDL at /zup/ws/ExtranetBridge.1cws?wsdl, knobs at /_sandbox/…."""
        from sandbox.onec import SandboxConfig, create_app
        from sandbox.server import serve_forever

        config = SandboxConfig(
            seed=seed,
            employees=employees,
            user=user,
            password=password,
            tz=timezone,
            today=today,
            advertised_address=advertised_address,
            knob_token=knob_token,
            review_delay_seconds=review_delay,
        )
        from cli.sandbox_up import ensure_free

        ensure_free(host, port, "1C")
        started = time.perf_counter()
        app = create_app(config)
        took = time.perf_counter() - started
        counts = {e: len(t) for e, t in app.state.company.tables.items()}
        typer.echo(f"1C sandbox: generated {counts} in {took:.2f}s (seed {seed})")
        endpoint = f"http://{host}:{port}/zup/ws/ExtranetBridge.1cws"
        typer.echo(f"WSDL: {endpoint}?wsdl  knobs: http://{host}:{port}/_sandbox/")
        typer.echo(f"login: {user}  password: {password}  time zone: {timezone}")
        typer.echo(
            "the WSDL advertises the address of a real 1C behind a proxy; point the bridge at this one:\n"
            f"  onec: {{endpoint: {endpoint}, username: {user}, password: {password}}}"
        )
        serve_forever(app, host, port)
