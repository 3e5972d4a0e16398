"""`extranet-bridge`: the command line. Thin: each command parses options, calls wiring, prints.

Start-up stays fast: this module and the command modules import only typer at the top; a command imports
what it uses when it runs, and the `bench` and `sandbox` groups load their modules only when called.
A user's mistake prints one line (``error: …``, see cli/errors.py) and exits 1.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cli.options import ConfigOption

CONTEXT = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    name="extranet-bridge",
    help="Mirror 1C:ZUP into the Bitrix24 extranet: people, client sites' groups, managers, invitations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings=CONTEXT,
    rich_markup_mode=None,
)
config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)
db_app = typer.Typer(help="Manage the state store.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"extranet-bridge {version('extranet-bridge')}")
        except PackageNotFoundError:
            typer.echo("extranet-bridge (not installed)")
        raise typer.Exit()


@app.callback()
def main(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="YAML settings for every command (default: $EXTRANET_BRIDGE_CONFIG "
            "or ./extranet-bridge.yaml).",
        ),
    ] = None,
    show_version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Mirror 1C:ZUP into the Bitrix24 extranet: people, client sites' groups, managers, invitations."""
    if config is not None:
        from config.settings import choose_config

        choose_config(config)
    elif "config.settings" in sys.modules:  # a previous invocation in this process chose one: forget it
        sys.modules["config.settings"].choose_config(None)


@config_app.command("check")
def config_check(config: ConfigOption = None) -> None:
    """Validate the settings and the files they name; list every problem, exit 1 if any."""
    from config.check import check_config

    _settings, problems = check_config(config)
    if problems:
        for problem in problems:
            typer.echo(f"error: {problem}", err=True)
        typer.echo(f"{len(problems)} problem(s) found", err=True)
        raise typer.Exit(1)
    typer.echo("configuration is valid")


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Apply pending migrations to the state store."""
    from cli.common import probe_store
    from config.wiring import settings_from
    from store.db import make_engine, upgrade

    settings = settings_from(config)
    probe_store(settings.database.url)
    engine = make_engine(settings.database.url)
    try:
        before, after = upgrade(engine)
    finally:
        engine.dispose()
    if before == after:
        typer.echo(f"state store is current (revision {after})")
    else:
        typer.echo(f"state store upgraded from {before or 'empty'} to {after}")


def _register_commands() -> None:
    """Commands that live beside their areas add themselves here (their modules import only typer)."""
    import importlib

    for module in ("cli.groups", "cli.mirror", "cli.service", "cli.demo", "cli.doctor", "cli.reports"):
        try:
            importlib.import_module(module).register(app)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def run(args: list[str] | None = None) -> None:
    """Console entry point: one error format for usage mistakes and for failures the user can fix."""
    from cli.errors import click_exceptions, explain, print_error

    _register_commands()
    command = typer.main.get_command(app)
    try:
        code = command.main(args, prog_name="extranet-bridge", standalone_mode=False)
    except click_exceptions.NoArgsIsHelpError as exc:  # a bare group: its help, not an error
        typer.echo(exc.format_message())
        sys.exit(0)
    except click_exceptions.UsageError as exc:
        hint = f" (see `{exc.ctx.command_path} -h`)" if exc.ctx is not None else ""
        print_error(
            exc.format_message().removeprefix("Value error, ").replace(": Value error, ", ": ") + hint
        )
        sys.exit(1)
    except typer.Abort:
        print_error("interrupted")
        sys.exit(130)
    except click_exceptions.ClickException as exc:
        print_error(exc.format_message())
        sys.exit(exc.exit_code)
    except Exception as exc:
        lines = explain(exc)
        if lines is None:
            raise
        for line in lines:
            print_error(line)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    run()
