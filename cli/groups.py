"""Command groups whose commands live in their own modules (one module per area, no shared edits).

Each listed module defines ``register(group: typer.Typer) -> None``; a module not written yet is skipped.
The modules are imported only when the group itself is called (`extranet-bridge bench …`), so that
`extranet-bridge --help` does not pay for the benchmarks' and sandboxes' imports.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperGroup

GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sandbox": (
        "Run the local stand-ins of Bitrix24, 1C and the message gateways.",
        ("cli.sandbox_up", "cli.sandbox_bitrix24", "cli.sandbox_onec"),
    ),
    "regulations": (
        "Local acts: publish to a legal entity, collect confirmations, remind, export the sheet.",
        ("cli.regulations",),
    ),
    "bench": (
        "Measure speed and memory against the sandboxes.",
        (
            "cli.bench_b24",
            "cli.bench_onec",
            "cli.bench_sync",
            "cli.bench_cli",
            "cli.bench_reliability",
            "cli.bench_events",
        ),
    ),
}


def _load(module: str) -> object | None:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return None


class LazyGroup(TyperGroup):
    """A group that imports its command modules the first time its commands are listed or looked up."""

    modules: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded = False

    def _load_commands(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        inner = typer.Typer()
        for module in (_load(name) for name in self.modules):
            if module is not None:
                module.register(inner)  # type: ignore[attr-defined]
        built = typer.main.get_group(inner)
        for name, command in built.commands.items():
            self.add_command(command, name)

    def list_commands(self, ctx: Any) -> list[str]:
        self._load_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        self._load_commands()
        return super().get_command(ctx, cmd_name)


def register(app: typer.Typer) -> None:
    for name, (help_text, modules) in GROUPS.items():
        cls = type(f"{name.title()}Group", (LazyGroup,), {"modules": modules})
        group = typer.Typer(help=help_text, no_args_is_help=True, cls=cls)
        app.add_typer(group, name=name)
