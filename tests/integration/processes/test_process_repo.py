"""The process repository on the test database (SQLite locally, PostgreSQL in CI): requests move by
the engine's rules, the history is append-only, and an edit made behind the repository's back is found."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text, update

from config.wiring import Store
from core.ids import B24ElementId
from processes.catalog import default_catalog
from processes.engine import Event, IllegalTransition
from store.models import ProcessTransition
from store.process_repo import AppendOnlyViolation, ProcessRepository

LEAVE = default_catalog().entry("leave")
T0 = datetime(2026, 3, 16, 9, 0, 0, 123456, tzinfo=UTC)
RID = "6f1c8f0e-2b0a-4c53-9d7e-0d6b1c2a3e4f"


def _filed(store: Store) -> None:
    with store.sessions.begin() as session:
        ProcessRepository(session).open(
            LEAVE,
            request_id=RID,
            event=Event("receive", "user_7", "Заявление подано в Bitrix24", data={"element": 41}),
            at=T0,
            person_ref="p-1",
            site_ref="d-1",
            data={"date_from": "2026-07-01", "date_to": "2026-07-14"},
            b24_element_id=B24ElementId(41),
        )


def _apply(store: Store, event: Event, minutes: int) -> None:
    with store.sessions.begin() as session:
        ProcessRepository(session).apply(LEAVE, RID, event, T0 + timedelta(minutes=minutes))


def test_a_request_moves_and_its_history_verifies(store: Store) -> None:
    _filed(store)
    _apply(store, Event("validated", "bridge"), 1)
    _apply(store, Event("approve", "user_12", "ок", step="client"), 2)
    with store.sessions() as session:
        repo = ProcessRepository(session)
        instance = repo.get(RID)
        assert instance is not None and instance.state == "awaiting:provider" and instance.kind == "leave"
        history = repo.history(RID)
        assert [(t.seq, t.from_state, t.to_state, t.actor) for t in history] == [
            (1, None, "received", "user_7"),
            (2, "received", "awaiting:client", "bridge"),
            (3, "awaiting:client", "awaiting:provider", "user_12"),
        ]
        assert history[0].data == {"element": 41, "event": "receive"}
        assert repo.verify(RID) is None
        assert repo.history("no-such-request") == []


def test_an_illegal_event_writes_nothing(store: Store) -> None:
    _filed(store)
    with pytest.raises(IllegalTransition):
        _apply(store, Event("submitted", "bridge"), 1)
    with pytest.raises(KeyError):
        _unknown(store)
    with store.sessions() as session:
        repo = ProcessRepository(session)
        assert len(repo.history(RID)) == 1
        instance = repo.get(RID)
        assert instance is not None and instance.state == "received"


def _unknown(store: Store) -> None:
    with store.sessions.begin() as session:
        ProcessRepository(session).apply(LEAVE, "unknown", Event("validated", "bridge"), T0)


def test_the_orm_refuses_to_rewrite_a_transition(store: Store) -> None:
    _filed(store)
    with pytest.raises(AppendOnlyViolation), store.sessions.begin() as session:
        row = session.query(ProcessTransition).one()
        row.actor = "someone else"
    with pytest.raises(AppendOnlyViolation), store.sessions.begin() as session:
        session.delete(session.query(ProcessTransition).one())


def test_an_edit_behind_the_repositorys_back_is_found(store: Store) -> None:
    _filed(store)
    _apply(store, Event("validated", "bridge"), 1)
    _apply(store, Event("reject", "user_12", "аврал", step="client"), 2)
    with store.sessions.begin() as session:  # plain SQL, as a tamperer would
        session.execute(
            update(ProcessTransition)
            .where(ProcessTransition.seq == 3)
            .values(reason="по собственному желанию")
        )
    with store.sessions() as session:
        broken = ProcessRepository(session).verify(RID)
    assert broken is not None and broken.seq == 3 and broken.problem == "was changed after it was written"


def test_a_state_edited_on_the_instance_is_found(store: Store) -> None:
    _filed(store)
    with store.sessions.begin() as session:
        session.execute(text("UPDATE process_instances SET state = 'approved'"))
    with store.sessions() as session:
        broken = ProcessRepository(session).verify(RID)
    assert broken is not None and "history does not" in broken.problem
