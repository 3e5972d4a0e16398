"""Published local acts and each employee's acknowledgement of them.

A document is a row of ``regulation_documents``; an acknowledgement is a process instance of kind
``regulation_ack`` whose append-only, hash-chained transitions (store/process_repo.py) are the proof.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Date, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from store.models import Base, ProcessInstance
from store.process_repo import ProcessRepository, transition_row

if TYPE_CHECKING:  # the engine's record type only: store/ does not import processes/ at run time
    from processes.engine import Transition


class RegulationDocument(Base):
    __tablename__ = "regulation_documents"

    document_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_ref: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(255))
    file_name: Mapped[str] = mapped_column(String(255))
    group_id: Mapped[int] = mapped_column(Integer)
    file_id: Mapped[int] = mapped_column(Integer)
    deadline: Mapped[date] = mapped_column(Date)
    published_at: Mapped[datetime]


Recorder = Callable[[str, "Transition | None"], "Transition"]
"""Builds the next record of an acknowledgement from its latest one (processes/regulations.record)."""


class Regulations:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_document(self, row: RegulationDocument) -> RegulationDocument:
        """Store a document once; publishing the same file again finds the first row."""
        found = self.session.get(RegulationDocument, row.document_id)
        if found is not None:
            return found
        self.session.add(row)
        self.session.flush()
        return row

    def document(self, document_id: str) -> RegulationDocument | None:
        return self.session.get(RegulationDocument, document_id)

    def documents(self) -> list[RegulationDocument]:
        query = select(RegulationDocument).order_by(RegulationDocument.published_at)
        return list(self.session.scalars(query))

    def acknowledgements(self, document_id: str) -> list[ProcessInstance]:
        prefix = f"lna:{document_id}:"
        query = select(ProcessInstance).where(
            ProcessInstance.kind == "regulation_ack", ProcessInstance.request_id.startswith(prefix)
        )
        return list(self.session.scalars(query.order_by(ProcessInstance.id)))

    def mark(self, ack_ids: Sequence[str], **data: Any) -> None:
        """Merge ``data`` into the acknowledgements' data (not their history: nothing happened to them)."""
        for instance in self.session.scalars(
            select(ProcessInstance).where(ProcessInstance.request_id.in_(ack_ids))
        ):
            instance.data = {**instance.data, **data}

    def history(self, ack_id: str) -> list[Transition]:
        return ProcessRepository(self.session).history(ack_id)

    def append(
        self,
        ack_id: str,
        build: Recorder,
        at: datetime,
        *,
        person_ref: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> Transition:
        """Append the next record (creating the acknowledgement on its first); raises as ``build`` does."""
        instance = self.session.scalar(
            select(ProcessInstance).where(ProcessInstance.request_id == ack_id).with_for_update()
        )
        last = self.history(ack_id)[-1] if instance is not None else None
        record = build(ack_id, last)
        if instance is None:
            instance = ProcessInstance(
                request_id=ack_id,
                kind="regulation_ack",
                person_ref=person_ref,
                state=record.to_state,
                data=dict(data or {}),
                created_at=at,
                updated_at=at,
            )
            self.session.add(instance)
            self.session.flush()
        else:
            instance.state = record.to_state
            instance.updated_at = at
            if data:
                instance.data = {**instance.data, **data}
        self.session.add(transition_row(instance.id, record))
        self.session.flush()
        return record
