"""The unit of work: one transaction, the repositories that share it, one commit.

    with UnitOfWork(sessions) as uow:
        ...change things through uow's repositories...
        uow.outbox.add(...)        # announced in the same commit as the change
        uow.inbox / uow.processes  # received messages; process instances and their transitions
    # committed here; rolled back if the block raised

Subclasses (sync/uow.py) add the repositories of their area; SQL lives in repositories, not in the code
that uses them.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.orm import Session, sessionmaker

from store.inbox_repo import Inbox
from store.outbox import Outbox
from store.process_repo import ProcessRepository


class UnitOfWork:
    session: Session
    inbox: Inbox
    outbox: Outbox
    processes: ProcessRepository

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def __enter__(self) -> Self:
        self.session = self._sessions()
        self.session.begin()
        self.inbox = Inbox(self.session)
        self.outbox = Outbox(self.session)
        self.processes = ProcessRepository(self.session)
        self._bind(self.session)
        return self

    def _bind(self, session: Session) -> None:
        """Open the subclass's repositories on ``session``."""

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        try:
            if kind is None:
                self.session.commit()
            else:
                self.session.rollback()
        finally:
            self.session.close()
