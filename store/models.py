"""Tables of the state store (SQLAlchemy 2.0). Schema changes go through Alembic (store/migrations/).

What the bridge remembers between runs: who is who on both sides, what each run did, what 1C has been
told we committed, what could not be mirrored and why, what is still to be sent, what was received,
every process and each of its transitions, who holds which scheduled job, and the Bitrix24 app tokens.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from store.types import UtcDateTime


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: UtcDateTime()}


class IdentityLink(Base):
    """1C reference ↔ Bitrix24 id for one entity kind, with the hash of what was last applied."""

    __tablename__ = "identity_map"
    __table_args__ = (
        UniqueConstraint("kind", "source_ref", name="uq_identity_kind_ref"),
        Index("ix_identity_kind_b24", "kind", "b24_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    """organization | department | person | employment | manager"""
    source_ref: Mapped[str] = mapped_column(String(64))
    b24_id: Mapped[int | None] = mapped_column(Integer)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """What was applied, as the mapping produced it (fields, memberships) — the desired state last sent."""
    last_seen_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class SyncRun(Base):
    """One pass of the mirror, stored like a load package (see sync/)."""

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))
    """full | incremental | reconcile"""
    status: Mapped[str] = mapped_column(String(16))
    """extracted | planned | applying | applied | committed | aborted"""
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    onec_message_no: Mapped[int | None] = mapped_column(BigInteger)
    """Change-feed message carried by this run; acknowledged to 1C only after the run committed."""
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class PlanItem(Base):
    """One planned Bitrix24 operation of a run, with its own state and attempt count (the journal)."""

    __tablename__ = "plan_items"
    __table_args__ = (
        UniqueConstraint("run_id", "seq", name="uq_plan_item_seq"),
        Index("ix_plan_items_run_state", "run_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    op: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    source_ref: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    """pending | started | done | failed | quarantined"""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


class ChangeFeedCursor(Base):
    """The 1C exchange-plan position: the last message number we committed and acknowledged."""

    __tablename__ = "change_feed"

    node: Mapped[str] = mapped_column(String(64), primary_key=True)
    committed_message_no: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime]


class QuarantineRecord(Base):
    """A 1C record that could not be mirrored, with the reason; retried when its data changes."""

    __tablename__ = "quarantine"
    __table_args__ = (UniqueConstraint("kind", "source_ref", name="uq_quarantine_kind_ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    source_ref: Mapped[str] = mapped_column(String(64))
    reason_code: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class OutboxMessage(Base):
    """A write still to be delivered (to Bitrix24, 1C or a messaging gateway); de-duplicated by key."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target: Mapped[str] = mapped_column(String(16))
    """bitrix24 | onec | email | sms"""
    kind: Mapped[str] = mapped_column(String(64))
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """pending | sent | failed | parked"""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class InboxMessage(Base):
    """An event or callback received, kept under its unique key so a redelivery is recognised."""

    __tablename__ = "inbox"
    __table_args__ = (UniqueConstraint("source", "event_key", name="uq_inbox_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    event_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class ProcessInstance(Base):
    """One HR request or timesheet: its current state; the history is in process_transitions."""

    __tablename__ = "process_instances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    person_ref: Mapped[str | None] = mapped_column(String(64))
    site_ref: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    b24_element_id: Mapped[int | None] = mapped_column(Integer)
    b24_workflow_id: Mapped[str | None] = mapped_column(String(64))
    onec_document: Mapped[str | None] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    __mapper_args__ = {"version_id_col": version}


class ProcessTransition(Base):
    """Append-only audit trail: who moved which request from where to where, when and why."""

    __tablename__ = "process_transitions"
    __table_args__ = (UniqueConstraint("instance_id", "seq", name="uq_transition_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id", ondelete="RESTRICT"))
    seq: Mapped[int] = mapped_column(Integer)
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime]
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    """Hash of the previous transition, chaining the trail so a silent edit is detectable."""
    row_hash: Mapped[str] = mapped_column(String(64))


class JobLease(Base):
    """Who runs a scheduled job right now; several instances on one PostgreSQL run each job once."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]


class AppToken(Base):
    """OAuth tokens of the installed Bitrix24 application, per portal."""

    __tablename__ = "app_tokens"

    member_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    domain: Mapped[str] = mapped_column(String(255))
    access_token: Mapped[str] = mapped_column(Text)
    refresh_token: Mapped[str] = mapped_column(Text)
    application_token: Mapped[str | None] = mapped_column(String(64))
    scope: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class RateBudget(Base):
    """The per-portal leaky bucket shared by every instance on one database (bitrix24-rest.md §8.1)."""

    __tablename__ = "rate_budget"

    portal: Mapped[str] = mapped_column(String(255), primary_key=True)
    level: Mapped[float] = mapped_column(Float, default=0.0)
    """Requests currently in the bucket; drains at the portal's rate."""
    updated_at: Mapped[datetime]
    blocked: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """method → ISO time until which Bitrix24 blocks it (OPERATION_TIME_LIMIT)."""


class DueChange(Base):
    """A future-dated HR change (transfer, dismissal) waiting for its effective date."""

    __tablename__ = "due_changes"
    __table_args__ = (
        UniqueConstraint("kind", "source_ref", "due_on", name="uq_due_change"),
        Index("ix_due_changes_pending", "applied_at", "due_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    source_ref: Mapped[str] = mapped_column(String(64))
    due_on: Mapped[date] = mapped_column(Date)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    applied_at: Mapped[datetime | None]


class Invitation(Base):
    """Every invitation sent (or attempted), by channel."""

    __tablename__ = "invitations"
    __table_args__ = (Index("ix_invitations_person", "person_ref", "sent_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_ref: Mapped[str] = mapped_column(String(64))
    b24_user_id: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))
    """bitrix24 (user.add's own e-mail) | email | sms"""
    status: Mapped[str] = mapped_column(String(16))
    """sent | failed | accepted (the person has logged in: no more reminders)"""
    error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime]


class ClientManager(Base):
    """A client-side manager assigned to sites with a role."""

    __tablename__ = "client_managers"
    __table_args__ = (UniqueConstraint("email", "site_ref", name="uq_manager_site"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    site_ref: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    """timesheet_approver | order_submitter | viewer"""
    b24_user_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]


class SourceRecord(Base):
    """The last known 1C record of each mirrored entity (the replica the mapping reads incrementally)."""

    __tablename__ = "source_records"
    __table_args__ = (
        UniqueConstraint("entity", "ref", name="uq_source_entity_ref"),
        Index("ix_source_parent", "entity", "parent_ref"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str] = mapped_column(String(64))
    parent_ref: Mapped[str | None] = mapped_column(String(64))
    """An employment's person, a department's organisation."""
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]
