"""`extranet-bridge`: the command line. Thin: each command parses options, calls wiring, prints.

Errors the bridge raises on purpose (BridgeError) and bad configuration print one line and exit 1.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from config.check import check_config, problems_from_validation
from connectors.errors import BridgeError

app = typer.Typer(
    name="extranet-bridge",
    help="Mirror 1C:ZUP into the Bitrix24 extranet and drive HR processes between them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)
db_app = typer.Typer(help="Manage the state store.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")

console = Console()
err = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="YAML settings (default: $EXTRANET_BRIDGE_CONFIG or ./extranet-bridge.yaml)."
    ),
]


@config_app.command("check")
def config_check(config: ConfigOption = None) -> None:
    """Validate the settings and the files they name; list every problem, exit 1 if any."""
    _settings, problems = check_config(config)
    if problems:
        for problem in problems:
            err.print(f"[red]error[/red] {problem}", highlight=False, markup=True)
        err.print(f"{len(problems)} problem(s) found")
        raise typer.Exit(1)
    console.print("configuration is valid")


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Apply pending migrations to the state store."""
    from config.wiring import settings_from
    from store.db import make_engine, upgrade

    settings = settings_from(config)
    engine = make_engine(settings.database.url)
    try:
        before, after = upgrade(engine)
    finally:
        engine.dispose()
    if before == after:
        console.print(f"state store is current (revision {after})")
    else:
        console.print(f"state store upgraded from {before or 'empty'} to {after}")


def _register_commands() -> None:
    """Commands that live beside their areas add themselves here (kept lazy to start fast)."""
    import importlib

    for module in ("cli.groups", "cli.mirror", "cli.service", "cli.demo"):
        try:
            importlib.import_module(module).register(app)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def run() -> None:
    """Console entry point."""
    _register_commands()
    try:
        app()
    except ValidationError as exc:
        for problem in problems_from_validation(exc):
            err.print(f"error {problem}", highlight=False, markup=False)
        sys.exit(1)
    except FileNotFoundError as exc:
        err.print(f"error: file not found: {exc.filename or exc}", highlight=False, markup=False)
        sys.exit(1)
    except BridgeError as exc:
        err.print(f"error: {exc.operator_message}", highlight=False, markup=False)
        sys.exit(1)


if __name__ == "__main__":
    run()
