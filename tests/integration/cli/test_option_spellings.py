"""One spelling for one idea (issue 12): the generated company's size is ``--employees`` everywhere."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer

from cli.main import _register_commands, app
from cli.options import EMPLOYEES_HELP, company_size, persons_about


def _commands(command: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path, command
    if hasattr(command, "list_commands"):  # a group (typer carries its own click: duck-typed)
        ctx = typer.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None:
                yield from _commands(sub, f"{path} {name}".strip())


def _visible_options(command: Any) -> dict[str, Any]:
    return {
        name: param
        for param in command.params
        if param.param_type_name == "option" and not param.hidden
        for name in param.opts
    }


def test_company_size_is_employees_everywhere_with_one_help_text() -> None:
    _register_commands()
    sized = {}
    for path, command in _commands(typer.main.get_command(app)):
        options = _visible_options(command)
        assert "--persons" not in options, path
        if "--employees" in options:
            sized[path] = options["--employees"].help
    expected = {"sandbox onec", "sandbox up", "demo", "bench onec", "bench sync", "bench crash"}
    assert expected <= set(sized), sized
    assert set(sized.values()) == {EMPLOYEES_HELP}, sized


def test_the_deprecated_persons_spelling_makes_the_same_company() -> None:
    assert company_size(54_000, None) == 54_000
    assert company_size(1, 50_000) == 54_000  # the recorded `bench sync --persons 50000`
    assert company_size(1, 10_000) == 10_800
    assert persons_about(10_800) == 10_000
