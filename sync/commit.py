"""Writing what a run learned: the 1C replica, identity links, quarantine, due-at rows, the feed cursor.

The caller owns the transaction: everything one batch changes is committed together, so a crash
leaves either the old or the new state, never half of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from connectors.onec.port import Record
from core.clock import utcnow
from store.models import ChangeFeedCursor, DueChange, IdentityLink, QuarantineRecord, SourceRecord
from sync.diff import WARNING_KIND, state_hash
from sync.model import Quarantine
from sync.source import content_hash, entity_of, parent_of, to_json
from sync.state import FEED_NODE, link_ids


def save_replica(
    session: Session, records: Iterable[Record], known: Mapping[tuple[str, str], str]
) -> list[Record]:
    """Upsert records whose content changed, in chunks; returns those records (new or changed).

    ``known`` holds the stored hashes of (at least) these records; the row ids of the changed ones are
    read a chunk at a time (a snapshot page, a feed batch), never the whole replica's."""
    now = utcnow()
    inserts: list[dict[str, Any]] = []
    updates: dict[tuple[str, str], dict[str, Any]] = {}
    changed: list[Record] = []

    def flush() -> None:
        if inserts:
            session.execute(insert(SourceRecord), inserts)
            inserts.clear()
        if updates:
            refs = sorted({ref for _, ref in updates})
            rows = session.execute(
                select(SourceRecord.id, SourceRecord.entity, SourceRecord.ref).where(
                    SourceRecord.ref.in_(refs)
                )
            )
            ids = {(entity, ref): row_id for row_id, entity, ref in rows}
            session.execute(
                update(SourceRecord), [{"id": ids[key], **values} for key, values in updates.items()]
            )
            updates.clear()

    for record in records:
        payload = to_json(record)
        digest = content_hash(payload)
        key = (entity_of(record), str(payload["ref"]))
        if known.get(key) == digest:
            continue
        changed.append(record)
        values = {
            "parent_ref": parent_of(record),
            "payload": payload,
            "content_hash": digest,
            "updated_at": now,
        }
        if key in known:
            updates[key] = values
        else:
            inserts.append({"entity": key[0], "ref": key[1], **values})
        if len(inserts) + len(updates) >= 1000:
            flush()
    flush()
    return changed


def park(session: Session, item: Quarantine) -> None:
    """Record (or refresh) a quarantine row with its reason."""
    now = utcnow()
    row = session.scalar(
        select(QuarantineRecord).where(
            QuarantineRecord.kind == item.kind, QuarantineRecord.source_ref == item.ref
        )
    )
    if row is None:
        session.add(
            QuarantineRecord(
                kind=item.kind,
                source_ref=item.ref,
                reason_code=item.code,
                reason=item.reason,
                content_hash=item.content_hash,
                first_seen_at=now,
                last_seen_at=now,
                resolved_at=None,
            )
        )
        session.flush()
        return
    if row.resolved_at is not None:
        row.first_seen_at = now
    row.reason_code, row.reason, row.content_hash = item.code, item.reason, item.content_hash
    row.last_seen_at, row.resolved_at = now, None


def clear_quarantine(session: Session, kind: str, refs: Iterable[str]) -> None:
    session.execute(
        update(QuarantineRecord)
        .where(
            QuarantineRecord.kind == kind,
            QuarantineRecord.source_ref.in_(list(refs)),
            QuarantineRecord.resolved_at.is_(None),
        )
        .values(resolved_at=utcnow())
    )


def record_warnings(session: Session, warnings: Iterable[Quarantine], scope: Iterable[str]) -> None:
    """Open the data-quality warnings just planned; resolve those of persons in scope no longer warned.

    Only the persons in scope are read (an empty change-feed batch touches no warning at all)."""
    planned = list(warnings)
    warned = {item.ref for item in planned}
    for item in planned:
        park(session, item)
    refs = sorted(set(scope) - warned)
    for start in range(0, len(refs), 1000):
        chunk = refs[start : start + 1000]
        settled = session.scalars(
            select(QuarantineRecord.source_ref).where(
                QuarantineRecord.kind == WARNING_KIND,
                QuarantineRecord.resolved_at.is_(None),
                QuarantineRecord.source_ref.in_(chunk),
            )
        ).all()
        if settled:
            clear_quarantine(session, WARNING_KIND, settled)


def schedule_due(session: Session, due: Mapping[str, date], scope: Iterable[str]) -> None:
    """Replace the pending due-at rows of the persons in scope with the dates just planned."""
    refs = list(scope)
    for start in range(0, len(refs), 2000):
        chunk = refs[start : start + 2000]
        session.execute(
            delete(DueChange).where(
                DueChange.kind == "person", DueChange.applied_at.is_(None), DueChange.source_ref.in_(chunk)
            )
        )
    now = utcnow()
    rows: list[dict[str, Any]] = [
        {
            "kind": "person",
            "source_ref": ref,
            "due_on": on,
            "payload": {},
            "created_at": now,
            "applied_at": None,
        }
        for ref, on in due.items()
    ]
    for start in range(0, len(rows), 2000):
        session.execute(insert(DueChange), rows[start : start + 2000])


def mark_due_applied(session: Session, refs: Iterable[str], on: date) -> None:
    session.execute(
        update(DueChange)
        .where(
            DueChange.kind == "person",
            DueChange.applied_at.is_(None),
            DueChange.due_on <= on,
            DueChange.source_ref.in_(list(refs)),
        )
        .values(applied_at=utcnow())
    )


def save_cursor(session: Session, message_no: int) -> None:
    cursor = session.get(ChangeFeedCursor, FEED_NODE)
    if cursor is None:
        session.add(ChangeFeedCursor(node=FEED_NODE, committed_message_no=message_no, updated_at=utcnow()))
    else:
        cursor.committed_message_no = message_no
        cursor.updated_at = utcnow()


LinkKey = tuple[str, str]


def save_links(session: Session, rows: Mapping[LinkKey, tuple[int | None, dict[str, Any]]]) -> None:
    """Insert or update many identity links at once (the row ids of those already stored are read)."""
    if not rows:
        return
    ids = link_ids(session, rows)
    now = utcnow()
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for (kind, ref), (b24_id, state) in rows.items():
        values = {
            "b24_id": b24_id,
            "content_hash": state_hash(state),
            "state": state,
            "last_seen_at": now,
            "updated_at": now,
        }
        if (kind, ref) in ids:
            changed.append({"id": ids[(kind, ref)], **values})
        else:
            new.append({"kind": kind, "source_ref": ref, **values})
    if new:
        session.execute(insert(IdentityLink), new)
    if changed:
        session.execute(update(IdentityLink), changed)


def apply_memberships(session: Session, changes: Mapping[str, Mapping[str, bool]]) -> None:
    """Record confirmed joins (True) and leaves (False) in the persons' stored states."""
    refs = list(changes)
    now = utcnow()
    for start in range(0, len(refs), 1000):
        chunk = refs[start : start + 1000]
        rows = session.execute(
            select(IdentityLink.id, IdentityLink.source_ref, IdentityLink.state).where(
                IdentityLink.kind == "person", IdentityLink.source_ref.in_(chunk)
            )
        ).all()
        updates = []
        for row_id, ref, stored in rows:
            groups = set((stored or {}).get("groups", []))
            for key, joined in changes[ref].items():
                if joined:
                    groups.add(key)
                else:
                    groups.discard(key)
            new_state = {**(stored or {}), "groups": sorted(groups)}
            updates.append(
                {"id": row_id, "state": new_state, "content_hash": state_hash(new_state), "updated_at": now}
            )
        if updates:
            session.execute(update(IdentityLink), updates)
