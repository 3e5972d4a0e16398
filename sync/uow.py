"""The mirror's unit of work: one transaction over the mirror's repositories (and the outbox), one commit.

with SyncUnitOfWork(sessions) as uow:
    uow.runs.mark(...); uow.links.save(...); uow.outbox.add(...)
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from store.uow import UnitOfWork
from sync.repositories import Invitations, Links, Managers, QuarantineRecords, Replica, Runs


class SyncUnitOfWork(UnitOfWork):
    runs: Runs
    links: Links
    quarantine: QuarantineRecords
    replica: Replica
    invitations: Invitations
    managers: Managers

    def _bind(self, session: Session) -> None:
        self.runs = Runs(session)
        self.links = Links(session)
        self.quarantine = QuarantineRecords(session)
        self.replica = Replica(session)
        self.invitations = Invitations(session)
        self.managers = Managers(session)
