"""Compare Bitrix24's actual users, groups and memberships with what the bridge mirrored; report drift
and plan its repair (the normal planner, run against the *actual* state instead of the stored one).
The comparisons are pure; sync/repair.py reads Bitrix24 and the store and feeds them a chunk at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from connectors.bitrix24 import directory
from sync.model import ExistingUser, Link

TDrift = Literal[
    "deactivated",
    "reactivated",
    "fields_changed",
    "left_group",
    "group_missing",
    "group_renamed",
    "user_missing",
    "unknown_xml_id",
]


@dataclass(frozen=True, slots=True)
class Drift:
    kind: TDrift
    ref: str
    b24_id: int | None
    detail: str


@dataclass
class ActualState:
    users: dict[int, ExistingUser] = field(default_factory=dict)
    groups: dict[int, dict[str, Any]] = field(default_factory=dict)
    members: dict[int, set[int]] = field(default_factory=dict)
    """group id → user ids (owner, moderators and members)."""


def group_links(
    stored: Mapping[str, Link], actual: ActualState
) -> tuple[dict[str, Link], list[Drift], dict[int, str]]:
    """Group links as Bitrix24 holds them, group drift, and group id → key."""
    links: dict[str, Link] = {}
    drift: list[Drift] = []
    group_by_id: dict[int, str] = {}
    for key, link in stored.items():
        if link.kind == "person" or link.b24_id is None:
            continue
        row = actual.groups.get(link.b24_id)
        if row is None:
            drift.append(Drift("group_missing", key, link.b24_id, "the group is gone from Bitrix24"))
            continue
        group_by_id[link.b24_id] = key
        # sonet_group.get strips INITIATE_PERMS (bitrix24-rest.md §4.2): keep what we confirmed for it.
        confirmed_fields = link.state.get("fields", {})
        group_fields = {k: _blank(row[k]) if k in row else v for k, v in confirmed_fields.items()}
        if group_fields.get(directory.NAME) != confirmed_fields.get(directory.NAME):
            drift.append(Drift("group_renamed", key, link.b24_id, "the group was renamed in Bitrix24"))
        links[key] = Link(link.kind, link.ref, link.b24_id, {"fields": group_fields})
    return links, drift, group_by_id


def member_index(actual: ActualState, group_by_id: Mapping[int, str]) -> dict[int, tuple[str, ...]]:
    """User id → keys of the mirrored groups Bitrix24 lists them in (tuples: one per person at scale)."""
    groups_of: dict[int, set[str]] = {}
    for group_id, members in actual.members.items():
        member_of = group_by_id.get(group_id)
        if member_of is None:
            continue
        for user_id in members:
            groups_of.setdefault(user_id, set()).add(member_of)
    return {user_id: tuple(sorted(keys)) for user_id, keys in groups_of.items()}


def person_links(
    stored: Mapping[str, Link],
    actual: ActualState,
    groups_of: Mapping[int, Iterable[str]],
    department_by_id: Mapping[int, str] | None = None,
) -> tuple[dict[str, Link], list[Drift]]:
    """Person links as Bitrix24 holds them (fields, groups, active) and the drift from what was confirmed."""
    links: dict[str, Link] = {}
    drift: list[Drift] = []
    for key, link in stored.items():
        if link.kind != "person" or link.b24_id is None:
            continue
        user = actual.users.get(link.b24_id)
        if user is None:
            drift.append(Drift("user_missing", link.ref, link.b24_id, "the user is not visible in Bitrix24"))
            continue
        confirmed = link.state
        fields: dict[str, Any] = {k: _blank(user.fields.get(k)) for k in confirmed.get("fields", {})}
        if directory.DEPARTMENTS in fields:  # Bitrix24 holds department ids; the mirror keeps their keys
            ids = user.fields.get(directory.DEPARTMENTS) or []
            keys = department_by_id or {}
            fields[directory.DEPARTMENTS] = sorted(keys.get(int(i), f"id:{i}") for i in ids)
        if confirmed.get("active", True) and not user.active:
            drift.append(Drift("deactivated", link.ref, user.id, "deactivated by hand in Bitrix24"))
        elif not confirmed.get("active", True) and user.active:
            drift.append(Drift("reactivated", link.ref, user.id, "reactivated by hand in Bitrix24"))
        changed = sorted(k for k, v in fields.items() if _differs(v, confirmed["fields"].get(k)))
        if changed:
            drift.append(
                Drift("fields_changed", link.ref, user.id, "changed in Bitrix24: " + ", ".join(changed))
            )
        groups = set(groups_of.get(user.id, ()))
        if not user.active:
            # sonet_group.user.get lists active users only (bitrix24-rest.md §4.5): nothing to observe.
            groups = set(confirmed.get("groups", []))
        missing = set(confirmed.get("groups", [])) - groups
        if missing:
            drift.append(Drift("left_group", link.ref, user.id, f"not in {len(missing)} of its groups"))
        links[key] = Link(
            "person", link.ref, user.id, {"fields": fields, "groups": sorted(groups), "active": user.active}
        )
    return links, drift


def strays(
    actual: ActualState, linked_ids: Iterable[int], known_refs: Iterable[str]
) -> tuple[list[Drift], list[ExistingUser]]:
    """Users carrying a 1C ref that no link points to: drift, and those of known persons (to adopt)."""
    linked, known = set(linked_ids), set(known_refs)
    found = [u for u in actual.users.values() if u.xml_id and u.id not in linked]
    drift = [
        Drift(
            "unknown_xml_id",
            u.xml_id or "",
            u.id,
            "carries the 1C ref of a person it is not linked to"
            if u.xml_id in known
            else "carries an unknown 1C ref",
        )
        for u in found
    ]
    return drift, [u for u in found if u.xml_id in known]


def _blank(value: Any) -> Any:
    return "" if value is None else value


def _differs(actual: Any, confirmed: Any) -> bool:
    if isinstance(actual, str) and isinstance(confirmed, str):
        # Bitrix24 returns dates as ISO date-times (bitrix24-rest.md §2.3); compare the date part.
        return (
            actual[:10] != confirmed[:10]
            if len(confirmed) == 10 and len(actual) >= 10
            else actual != confirmed
        )
    return bool(actual != confirmed)


def drift_counts(drift: Iterable[Drift]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in drift:
        counts[item.kind] = counts.get(item.kind, 0) + 1
    return counts
