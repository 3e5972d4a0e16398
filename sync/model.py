"""Values passed between the sync stages: links (what Bitrix24 holds for us), operations, plans."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from sync.operations import Operation as Operation  # the plan's typed operations
from sync.operations import TOp

# Apply order: intranet departments (parents first), groups, then the users that join them,
# memberships after users, removals last.
STAGES: tuple[tuple[TOp, ...], ...] = (
    ("create_department", "update_department"),
    ("create_group", "update_group"),
    ("create_user", "adopt_user", "update_user"),
    ("add_members",),
    ("remove_members",),
)


class RunStatus(StrEnum):
    """A sync run's status in the ledger (stored as its value)."""

    PLANNED = "planned"
    APPLYING = "applying"
    COMMITTED = "committed"
    ABORTED = "aborted"
    """Bitrix24 refused the bridge itself (credentials, scope): resumed by the next sync once fixed."""


OPEN_RUNS = (RunStatus.PLANNED, RunStatus.APPLYING, RunStatus.ABORTED)
"""Runs the next sync finishes before it asks 1C for more."""


def link_key(kind: str, ref: str) -> str:
    return f"{kind}:{ref}"


@dataclass(frozen=True, slots=True)
class Link:
    """What the identity map says Bitrix24 holds for one 1C entity (confirmed state only)."""

    kind: str
    ref: str
    b24_id: int | None
    state: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ExistingUser:
    """A Bitrix24 user as seen when looking for one to adopt (or when reconciling)."""

    id: int
    xml_id: str | None
    email: str | None
    active: bool
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Quarantine:
    kind: str
    ref: str
    code: str
    reason: str
    content_hash: str | None


@dataclass
class Plan:
    operations: list[Operation] = field(default_factory=list)
    quarantined: list[Quarantine] = field(default_factory=list)
    warnings: list[Quarantine] = field(default_factory=list)
    """Data-quality warnings of persons mirrored anyway (kind ``person_warning``; see sync.diff)."""
    cleared: list[tuple[str, str]] = field(default_factory=list)
    """(kind, ref) whose quarantine is over: they are planned normally now."""
    due: dict[str, date] = field(default_factory=dict)
    """person ref → the next date its desired state changes by itself."""
    stored_only: dict[str, int] = field(default_factory=dict)
    """Operations a big run wrote to its ledger without keeping them here, by op (sync/full.py keeps the
    first ``REPORTED_OPERATIONS``): ``count`` includes them."""

    def count(self) -> dict[str, int]:
        counts: dict[str, int] = dict(self.stored_only)
        for operation in self.operations:
            counts[operation.op] = counts.get(operation.op, 0) + 1
        return counts
