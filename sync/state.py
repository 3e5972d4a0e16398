"""Reading what the state store knows: identity links, quarantine, the 1C replica, due changes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import null, select
from sqlalchemy.orm import Session

from connectors.onec.port import Record
from core.ids import B24UserId
from store.models import ChangeFeedCursor, DueChange, IdentityLink, QuarantineRecord, SourceRecord
from sync.model import Link, RunStatus, link_key
from sync.source import MIRRORED_ENTITIES, SourceData, entity_of, from_json

FEED_NODE = "main"
IN_CHUNK = 1000
"""Refs per ``IN (…)`` list (SQLite's bound-parameter limit is far above; PostgreSQL plans stay short)."""


def load_links(
    session: Session,
    kinds: Iterable[str] | None = None,
    refs: Iterable[str] | None = None,
    *,
    with_state: bool = True,
) -> dict[str, Link]:
    """Identity links by key; without ``with_state`` only the ids (all apply needs, in far less memory)."""
    state_column = IdentityLink.state if with_state else null()
    query = select(IdentityLink.kind, IdentityLink.source_ref, IdentityLink.b24_id, state_column)
    if kinds is not None:
        query = query.where(IdentityLink.kind.in_(list(kinds)))
    if refs is not None:
        query = query.where(IdentityLink.source_ref.in_(list(refs)))
    links: dict[str, Link] = {}
    for kind, ref, b24_id, state in session.execute(query):
        links[link_key(kind, ref)] = Link(kind, ref, b24_id, state or {})
    return links


def load_quarantine(session: Session) -> dict[str, str | None]:
    """Open quarantine: person ref → the desired-state hash it was parked with."""
    rows = session.execute(
        select(QuarantineRecord.source_ref, QuarantineRecord.content_hash).where(
            QuarantineRecord.kind == "person", QuarantineRecord.resolved_at.is_(None)
        )
    )
    return {ref: digest for ref, digest in rows}


def load_source(
    session: Session, person_refs: Iterable[str] | None = None, *, reference: SourceData | None = None
) -> SourceData:
    """The replica as SourceData: everything, or the reference data plus only the given persons.

    ``reference`` reuses organisations, departments and positions already loaded (chunked reads).
    """
    data = SourceData()
    if reference is not None:
        data.organizations, data.departments, data.positions = (
            reference.organizations,
            reference.departments,
            reference.positions,
        )
    else:
        for entity in ("Organization", "Department", "Position"):
            for (payload,) in session.execute(
                select(SourceRecord.payload).where(SourceRecord.entity == entity)
            ):
                data.add(from_json(entity, payload))
    people = select(SourceRecord.entity, SourceRecord.payload).where(
        SourceRecord.entity.in_(("Person", "Employee"))
    )
    if person_refs is not None:
        refs = list(person_refs)
        people = people.where(
            ((SourceRecord.entity == "Person") & SourceRecord.ref.in_(refs))
            | ((SourceRecord.entity == "Employee") & SourceRecord.parent_ref.in_(refs))
        )
    for entity, payload in session.execute(people):
        data.add(from_json(entity, payload))
    return data


def replica_hashes(session: Session, records: Iterable[Record] | None = None) -> dict[tuple[str, str], str]:
    """(entity, ref) → content hash of the replica: all of it, or only the rows of these records."""
    query = select(SourceRecord.entity, SourceRecord.ref, SourceRecord.content_hash)
    if records is None:
        return {
            (e, r): h for e, r, h in session.execute(query.where(SourceRecord.entity.in_(MIRRORED_ENTITIES)))
        }
    refs_of: dict[str, set[str]] = {}
    for record in records:
        ref = getattr(record, "ref", None)
        if ref:
            refs_of.setdefault(entity_of(record), set()).add(str(ref))
    found: dict[tuple[str, str], str] = {}
    for entity, refs in refs_of.items():  # entity first: the (entity, ref) index answers, no table scan
        ordered = sorted(refs)
        for start in range(0, len(ordered), IN_CHUNK):
            chunk = ordered[start : start + IN_CHUNK]
            for e, r, h in session.execute(
                query.where(SourceRecord.entity == entity, SourceRecord.ref.in_(chunk))
            ):
                found[(e, r)] = h
    return found


def committed_message_no(session: Session) -> int:
    cursor = session.get(ChangeFeedCursor, FEED_NODE)
    return cursor.committed_message_no if cursor else 0


def due_persons(session: Session, on: date) -> list[str]:
    rows = session.execute(
        select(DueChange.source_ref).where(
            DueChange.kind == "person", DueChange.applied_at.is_(None), DueChange.due_on <= on
        )
    )
    return sorted({ref for (ref,) in rows})


def has_committed_full_run(session: Session) -> bool:
    from store.models import SyncRun

    query = (
        select(SyncRun.id).where(SyncRun.mode == "full", SyncRun.status == RunStatus.COMMITTED.value).limit(1)
    )
    return session.scalar(query) is not None


def link_ids(session: Session, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """(kind, ref) → identity-map row id of those of ``keys`` that are stored, for bulk updates."""
    refs_of: dict[str, list[str]] = {}
    for kind, ref in keys:
        refs_of.setdefault(kind, []).append(ref)
    found: dict[tuple[str, str], int] = {}
    for kind, refs in refs_of.items():
        for start in range(0, len(refs), IN_CHUNK):
            rows = session.execute(
                select(IdentityLink.id, IdentityLink.source_ref).where(
                    IdentityLink.kind == kind, IdentityLink.source_ref.in_(refs[start : start + IN_CHUNK])
                )
            )
            found.update({(kind, ref): row_id for row_id, ref in rows})
    return found


def user_ids(session: Session, person_refs: Iterable[str]) -> dict[str, int | None]:
    """Person ref → Bitrix24 user id, for the linked ones among ``person_refs``."""
    refs = sorted(set(person_refs))
    found: dict[str, int | None] = {}
    for start in range(0, len(refs), IN_CHUNK):
        rows = session.execute(
            select(IdentityLink.source_ref, IdentityLink.b24_id).where(
                IdentityLink.kind == "person", IdentityLink.source_ref.in_(refs[start : start + IN_CHUNK])
            )
        )
        found.update({ref: b24_id for ref, b24_id in rows})
    return found


def linked_refs(session: Session) -> set[str]:
    """Refs of every linked person."""
    query = select(IdentityLink.source_ref).where(IdentityLink.kind == "person")
    return set(session.scalars(query))


def person_ref_stream(session: Session) -> Iterable[str]:
    """Every person the replica knows, streamed from the store (no sorted list in between)."""
    return session.scalars(select(SourceRecord.ref).where(SourceRecord.entity == "Person"))


def person_refs(session: Session) -> list[str]:
    """Every person the replica knows, sorted."""
    rows = session.execute(
        select(SourceRecord.ref).where(SourceRecord.entity == "Person").order_by(SourceRecord.ref)
    )
    return [ref for (ref,) in rows]


def linked_persons(session: Session) -> dict[str, B24UserId]:
    """Person ref → Bitrix24 user id of every linked person (no states: cheap at 50,000)."""
    rows = session.execute(
        select(IdentityLink.source_ref, IdentityLink.b24_id).where(
            IdentityLink.kind == "person", IdentityLink.b24_id.is_not(None)
        )
    )
    return {ref: B24UserId(b24_id) for ref, b24_id in rows if b24_id is not None}
