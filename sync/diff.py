"""Compare desired state with what the identity map says Bitrix24 holds. Pure.

The confirmed state of a person is ``{"fields": {...}, "groups": [...], "active": bool}``; of a group,
``{"fields": {...}}``. Only fields that differ are sent.
"""

from __future__ import annotations

from typing import Any

from mappings import DesiredGroup, DesiredUser, Problem
from mappings.transforms import Dropped
from sync.source import content_hash

WARNING_KIND = "person_warning"
"""Quarantine-table kind of a data-quality warning: the person is mirrored, one field left empty."""


def user_state(user: DesiredUser) -> dict[str, Any]:
    return {"fields": dict(user.fields), "groups": sorted(user.groups), "active": user.active}


def group_state(group: DesiredGroup) -> dict[str, Any]:
    return {"fields": dict(group.fields)}


def field_warnings(user: DesiredUser) -> list[Problem]:
    """Data-quality warnings: fields the mapping left empty because 1C's value is unusable."""
    return [
        Problem(value.code, f"{name} left empty: {value.reason}")
        for name, value in sorted(user.fields.items())
        if isinstance(value, Dropped)
    ]


def state_hash(state: dict[str, Any]) -> str:
    return content_hash(state)


def changed_fields(desired: dict[str, Any], confirmed: dict[str, Any]) -> dict[str, Any]:
    """Fields whose desired value differs from the confirmed one (a removed value is sent as empty)."""
    changes = {k: v for k, v in desired.items() if confirmed.get(k) != v}
    for key in confirmed.keys() - desired.keys():
        if confirmed[key] not in ("", None):
            changes[key] = ""
    return changes


def membership_changes(desired: frozenset[str], confirmed: list[str]) -> tuple[set[str], set[str]]:
    """(groups to join, groups to leave)."""
    have = set(confirmed)
    return set(desired) - have, have - set(desired)
