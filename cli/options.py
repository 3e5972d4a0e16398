"""Options shared by several commands, typed so that typer refuses a bad value with one clear line."""

from __future__ import annotations

import math
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="YAML settings (default: the one given before the command, $EXTRANET_BRIDGE_CONFIG "
        "or ./extranet-bridge.yaml).",
    ),
]

EMPLOYEES_HELP = "Employees (employment records) in the generated 1C company; about 0.93 persons each."

Employees = Annotated[int | None, typer.Option("--employees", min=1, max=1_000_000, help=EMPLOYEES_HELP)]

EmployeesCount = Annotated[int, typer.Option("--employees", min=1, max=1_000_000, help=EMPLOYEES_HELP)]

PersonsAlias = Annotated[
    int | None,
    typer.Option(
        "--persons",
        min=1,
        hidden=True,
        help="Deprecated spelling (docs/BENCHMARKS.md records it): about N persons = --employees ⌈1.08·N⌉.",
    ),
]
"""The benches' old size option, kept hidden so the recorded commands still reproduce their figures."""


def company_size(employees: int, persons: int | None) -> int:
    """Employments to generate: ``--employees``, or the deprecated ``--persons`` converted."""
    # The generator makes about 0.93 persons per employment.
    return employees if persons is None else math.ceil(persons * 1.08)


def persons_about(employees: int) -> int:
    """The persons a company of ``employees`` employments holds, about (inverse of ``company_size``)."""
    return round(employees / 1.08)


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


class LimitsPlan(StrEnum):
    standard = "standard"
    enterprise = "enterprise"


class Mode(StrEnum):
    auto = "auto"
    full = "full"
    incremental = "incremental"
    due = "due"


class Channel(StrEnum):
    email = "email"
    sms = "sms"


class Role(StrEnum):
    timesheet_approver = "timesheet_approver"
    order_submitter = "order_submitter"
    viewer = "viewer"


ModeOption = Annotated[
    Mode,
    typer.Option(
        "--mode", help="full (1C snapshot), incremental (change feed), due (dated changes), or auto."
    ),
]


def parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a calendar date; write it as YYYY-MM-DD") from None


TodayOption = Annotated[
    date | None,
    typer.Option(
        "--today",
        parser=parse_day,
        metavar="YYYY-MM-DD",
        help="Pretend today is this date; only for plan and dry runs.",
    ),
]
