"""The unit of work commits a change and the outbox message announcing it together, or neither."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from config.wiring import Store
from store.models import OutboxMessage, QuarantineRecord
from sync.model import Quarantine
from sync.uow import SyncUnitOfWork

PARKED = Quarantine("person", "p-1", "email_taken", "another person has this e-mail", "h1")


def _counts(store: Store) -> tuple[int, int]:
    with store.sessions() as session:
        parked = session.scalar(select(func.count()).select_from(QuarantineRecord)) or 0
        queued = session.scalar(select(func.count()).select_from(OutboxMessage)) or 0
    return parked, queued


def test_the_change_and_its_message_commit_together(store: Store) -> None:
    with SyncUnitOfWork(store.sessions) as uow:
        uow.quarantine.park(PARKED)
        assert uow.outbox.add("email", "quarantine.notice", "quarantine:p-1:h1", {"ref": "p-1"})
    assert _counts(store) == (1, 1)
    with SyncUnitOfWork(store.sessions) as uow:
        assert [m.dedup_key for m in uow.outbox.pending("email")] == ["quarantine:p-1:h1"]


def test_a_failure_keeps_neither(store: Store) -> None:
    with pytest.raises(RuntimeError), SyncUnitOfWork(store.sessions) as uow:
        uow.quarantine.park(PARKED)
        uow.outbox.add("email", "quarantine.notice", "quarantine:p-1:h1", {"ref": "p-1"})
        raise RuntimeError("the process died before the commit")
    assert _counts(store) == (0, 0)


def test_a_message_is_queued_once_per_key(store: Store) -> None:
    with SyncUnitOfWork(store.sessions) as uow:
        assert uow.outbox.add("onec", "request", "req-1", {"n": 1})
    with SyncUnitOfWork(store.sessions) as uow:
        assert not uow.outbox.add("onec", "request", "req-1", {"n": 2})
        pending = uow.outbox.pending("onec")
        assert [(m.dedup_key, m.payload) for m in pending] == [("req-1", {"n": 1})]
        uow.outbox.mark_sent(pending[0].id)
    with SyncUnitOfWork(store.sessions) as uow:
        assert uow.outbox.pending("onec") == []


def test_inbox_process_and_outbox_share_one_commit(store: Store) -> None:
    """The inbox, process-instance and outbox repositories of one unit of work commit or roll back as one."""
    from datetime import UTC, datetime

    from processes.catalog import default_catalog
    from processes.engine import Event
    from store.models import InboxMessage, ProcessInstance
    from store.uow import UnitOfWork

    leave = default_catalog().entry("leave")
    filed = Event("receive", "user_7", "Заявление подано в Bitrix24")

    def work(uow: UnitOfWork, request_id: str) -> None:
        assert uow.inbox.add("bitrix24", f"key-{request_id}", "ONBIZPROC", {"request": request_id})
        uow.processes.open(leave, request_id=request_id, event=filed, at=datetime(2026, 3, 2, tzinfo=UTC))
        assert uow.outbox.add("onec", "SubmitRequest", f"onec:{request_id}", {"request": request_id})

    def rows() -> tuple[int, int, int]:
        with store.sessions() as session:
            count = [
                session.scalar(select(func.count()).select_from(model)) or 0
                for model in (InboxMessage, ProcessInstance, OutboxMessage)
            ]
        return count[0], count[1], count[2]

    with pytest.raises(RuntimeError), UnitOfWork(store.sessions) as uow:
        work(uow, "r-1")
        raise RuntimeError("the process died before the commit")
    assert rows() == (0, 0, 0)
    with UnitOfWork(store.sessions) as uow:
        work(uow, "r-2")
    assert rows() == (1, 1, 1)
    with UnitOfWork(store.sessions) as uow:
        assert not uow.inbox.add("bitrix24", "key-r-2", "ONBIZPROC", {})  # a redelivery
        assert uow.inbox.pending("bitrix24") == 1
        assert [t.to_state for t in uow.processes.history("r-2")] == ["received"]
