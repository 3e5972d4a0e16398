"""Command groups whose commands live in their own modules (one module per area, no shared edits).

Each listed module defines ``register(group: typer.Typer) -> None``; a module not written yet is skipped.
"""

from __future__ import annotations

import importlib

import typer

GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sandbox": ("Run the local stand-ins of Bitrix24 and 1C.", ("cli.sandbox_bitrix24", "cli.sandbox_onec")),
    "bench": (
        "Measure speed and memory against the sandboxes.",
        ("cli.bench_b24", "cli.bench_onec", "cli.bench_sync", "cli.bench_reliability"),
    ),
}


def _load(module: str) -> object | None:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return None


def register(app: typer.Typer) -> None:
    for name, (help_text, modules) in GROUPS.items():
        group = typer.Typer(help=help_text, no_args_is_help=True)
        loaded = [m for m in (_load(module) for module in modules) if m is not None]
        for module in loaded:
            module.register(group)  # type: ignore[attr-defined]
        if loaded:
            app.add_typer(group, name=name)
