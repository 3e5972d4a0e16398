"""The mirror's repositories: each wraps one session (the unit of work's) and holds the SQL of its tables.

    Runs         sync_runs, plan_items           (the ledger: sync/ledger.py)
    Links        identity_map                    (sync/state.py reads, sync/commit.py writes)
    Quarantine   quarantine
    Replica      source_records, change_feed, due_changes
    Invitations  invitations
    Managers     client_managers (and the site groups they are put into)

sync/apply.py, run.py, managers.py and invitations.py reach the store only through these.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from connectors.onec.port import Record
from core.clock import utcnow
from core.ids import B24GroupId, B24UserId
from store.models import ClientManager, IdentityLink, Invitation, SourceRecord, SyncRun
from sync import commit, ledger, state
from sync.ledger import Item, TItemState, TRunMode
from sync.model import Link, Quarantine, RunStatus
from sync.operations import Operation
from sync.source import SourceData


class Runs:
    def __init__(self, session: Session) -> None:
        self.session = session

    def start(
        self,
        mode: TRunMode,
        operations: Sequence[Operation],
        *,
        message_no: int | None,
        stats: dict[str, Any],
    ) -> int:
        return ledger.start_run(self.session, mode, operations, message_no=message_no, stats=stats)

    def add_items(self, run_id: int, operations: Sequence[Operation], first_seq: int) -> None:
        ledger.add_items(self.session, run_id, operations, first_seq)

    def unfinished(self) -> SyncRun | None:
        return ledger.unfinished_run(self.session)

    def open_items(
        self, run_id: int, ops: Iterable[str], *, after_seq: int = -1, limit: int | None = None
    ) -> list[Item]:
        return ledger.open_items(self.session, run_id, ops, after_seq=after_seq, limit=limit)

    def set_status(self, run_id: int, status: RunStatus, **stats: Any) -> None:
        ledger.set_status(self.session, run_id, status, **stats)

    def mark(self, item_ids: Iterable[int], item_state: TItemState, *, error: str | None = None) -> None:
        ledger.mark(self.session, item_ids, item_state, error=error)

    def has_committed_full_run(self) -> bool:
        return state.has_committed_full_run(self.session)


class Links:
    def __init__(self, session: Session) -> None:
        self.session = session

    def load(
        self,
        kinds: Iterable[str] | None = None,
        refs: Iterable[str] | None = None,
        *,
        with_state: bool = True,
    ) -> dict[str, Link]:
        return state.load_links(self.session, kinds, refs, with_state=with_state)

    def user_ids(self, person_refs: Iterable[str]) -> dict[str, int | None]:
        """Person ref → Bitrix24 user id of the linked ones among ``person_refs``."""
        return state.user_ids(self.session, person_refs)

    def linked_refs(self) -> set[str]:
        """Refs of every linked person (no states, no ids)."""
        return state.linked_refs(self.session)

    def save(self, rows: Mapping[commit.LinkKey, tuple[int | None, dict[str, Any]]]) -> None:
        commit.save_links(self.session, rows)

    def apply_memberships(self, changes: Mapping[str, Mapping[str, bool]]) -> None:
        commit.apply_memberships(self.session, changes)

    def linked_persons(self) -> dict[str, B24UserId]:
        return state.linked_persons(self.session)

    def group_of_site(self, site_ref: str) -> B24GroupId | None:
        """The Bitrix24 group mirrored for a 1C department (a client site)."""
        b24_id = self.session.scalar(
            select(IdentityLink.b24_id).where(
                IdentityLink.kind == "department", IdentityLink.source_ref == site_ref
            )
        )
        return B24GroupId(b24_id) if b24_id is not None else None


class QuarantineRecords:
    def __init__(self, session: Session) -> None:
        self.session = session

    def park(self, item: Quarantine) -> None:
        commit.park(self.session, item)

    def clear(self, kind: str, refs: Iterable[str]) -> None:
        commit.clear_quarantine(self.session, kind, refs)

    def open(self) -> dict[str, str | None]:
        return state.load_quarantine(self.session)

    def record_warnings(self, warnings: Iterable[Quarantine], scope: Iterable[str]) -> None:
        """Data-quality warnings: the person was mirrored, a field was left out (e.g. an unusable phone)."""
        commit.record_warnings(self.session, warnings, scope)


class Replica:
    def __init__(self, session: Session) -> None:
        self.session = session

    def save(self, records: Iterable[Record], known: Mapping[tuple[str, str], str]) -> list[Record]:
        return commit.save_replica(self.session, records, known)

    def hashes(self, records: Iterable[Record] | None = None) -> dict[tuple[str, str], str]:
        return state.replica_hashes(self.session, records)

    def source(
        self, person_refs: Iterable[str] | None = None, *, reference: SourceData | None = None
    ) -> SourceData:
        return state.load_source(self.session, person_refs, reference=reference)

    def person_refs(self) -> list[str]:
        return state.person_refs(self.session)

    def known_sites(self, refs: Iterable[str]) -> set[str]:
        query = select(SourceRecord.ref).where(
            SourceRecord.entity == "Department", SourceRecord.ref.in_(list(refs))
        )
        return set(self.session.scalars(query))

    def committed_message_no(self) -> int:
        return state.committed_message_no(self.session)

    def save_cursor(self, message_no: int) -> None:
        commit.save_cursor(self.session, message_no)

    def schedule_due(self, due: Mapping[str, date], scope: Iterable[str]) -> None:
        commit.schedule_due(self.session, due, scope)

    def due_persons(self, on: date) -> list[str]:
        return state.due_persons(self.session, on)

    def mark_due_applied(self, refs: Iterable[str], on: date) -> None:
        commit.mark_due_applied(self.session, refs, on)


class Invitations:
    def __init__(self, session: Session) -> None:
        self.session = session

    def record(
        self, person_ref: str, b24_user_id: B24UserId, channel: str, status: str, error: str | None = None
    ) -> None:
        self.session.add(
            Invitation(
                person_ref=person_ref,
                b24_user_id=b24_user_id,
                channel=channel,
                status=status,
                error=error,
                sent_at=utcnow(),
            )
        )

    def record_sent_by_bitrix24(self, sent: Mapping[str, B24UserId]) -> None:
        """user.add e-mailed these persons (ref → new user id) their first invitation itself (§2.1)."""
        if not sent:
            return
        now = utcnow()
        rows = [
            {
                "person_ref": ref,
                "b24_user_id": user_id,
                "channel": "bitrix24",
                "status": "sent",
                "error": None,
                "sent_at": now,
            }
            for ref, user_id in sent.items()
        ]
        self.session.execute(insert(Invitation), rows)

    def history(self, refs: Iterable[str] | None = None) -> dict[str, list[datetime]]:
        """Person ref → times of invitations sent (any channel), oldest first; accepted ones left out."""
        query = select(Invitation.person_ref, Invitation.sent_at).where(Invitation.status == "sent")
        if refs is not None:
            query = query.where(Invitation.person_ref.in_(list(refs)))
        found: dict[str, list[datetime]] = {}
        for ref, sent_at in self.session.execute(query.order_by(Invitation.sent_at)):
            found.setdefault(ref, []).append(sent_at)
        accepted = select(Invitation.person_ref).where(Invitation.status == "accepted")
        for (ref,) in self.session.execute(accepted):
            found.pop(ref, None)
        return found


class Managers:
    def __init__(self, session: Session) -> None:
        self.session = session

    def assignment(self, email: str, site_ref: str) -> ClientManager | None:
        return self.session.scalar(
            select(ClientManager).where(ClientManager.email == email, ClientManager.site_ref == site_ref)
        )

    def add(self, email: str, name: str | None, site_ref: str, role: str) -> None:
        self.session.add(
            ClientManager(
                email=email, name=name, site_ref=site_ref, role=role, created_at=utcnow(), removed_at=None
            )
        )

    def active(self, email: str, site_refs: Sequence[str] | None = None) -> list[ClientManager]:
        query = select(ClientManager).where(ClientManager.email == email, ClientManager.removed_at.is_(None))
        if site_refs:
            query = query.where(ClientManager.site_ref.in_(site_refs))
        return list(self.session.scalars(query))

    def all(self) -> list[ClientManager]:
        return list(
            self.session.scalars(select(ClientManager).order_by(ClientManager.email, ClientManager.site_ref))
        )

    def set_user(self, email: str, user_id: B24UserId) -> None:
        for row in self.session.scalars(select(ClientManager).where(ClientManager.email == email)):
            row.b24_user_id = user_id
