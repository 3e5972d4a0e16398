"""People's and sites' names for refs, read from the bridge's 1C replica (so output shows who, not uuids)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

NAMED_ENTITIES = ("Person", "Department", "Organization")


def display_name(entity: str, payload: dict[str, Any]) -> str:
    if entity == "Person":
        parts = (payload.get("last_name"), payload.get("first_name"), payload.get("middle_name"))
        return " ".join(p for p in parts if p)
    return str(payload.get("name") or "")


def names(session: Session, refs: Iterable[str]) -> dict[str, str]:
    """ref → name for the persons, departments and organisations among ``refs`` that the replica holds."""
    from sqlalchemy import select

    from store.models import SourceRecord

    wanted = sorted(set(refs))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        rows = session.execute(
            select(SourceRecord.entity, SourceRecord.ref, SourceRecord.payload).where(
                SourceRecord.entity.in_(NAMED_ENTITIES), SourceRecord.ref.in_(wanted[start : start + 500])
            )
        )
        for entity, ref, payload in rows:
            found[ref] = display_name(entity, payload)
    return found


def labelled(ref: str, known: dict[str, str]) -> str:
    """``Иванова Анна (3f2a…)``: the name with a short ref, or the ref alone."""
    name = known.get(ref)
    return f"{name} ({ref[:8]}…)" if name and len(ref) > 12 else f"{name} ({ref})" if name else ref
