"""Outbox.claim takes at most ``limit`` rows, and two workers never take the same row (both databases)."""

from __future__ import annotations

from datetime import timedelta

from config.wiring import Store
from store.uow import UnitOfWork

LEASE = timedelta(minutes=5)


def _queue(store: Store, n: int) -> None:
    with UnitOfWork(store.sessions) as uow:
        for i in range(n):
            uow.outbox.add("onec", "SubmitRequest", f"onec:SubmitRequest:r{i}", {"request_id": f"r{i}"})


def test_claim_takes_no_more_than_the_limit(store: Store) -> None:
    _queue(store, 5)
    with UnitOfWork(store.sessions) as uow:
        first = uow.outbox.claim("onec", lease=LEASE, limit=1)
    with UnitOfWork(store.sessions) as uow:
        second = uow.outbox.claim("onec", lease=LEASE, limit=3)
    with UnitOfWork(store.sessions) as uow:
        rest = uow.outbox.claim("onec", lease=LEASE, limit=10)
    assert [len(first), len(second), len(rest)] == [1, 3, 1]
    taken = [p.dedup_key for p in first + second + rest]
    assert sorted(taken) == sorted(f"onec:SubmitRequest:r{i}" for i in range(5))  # each once, oldest first
    assert first[0].dedup_key == "onec:SubmitRequest:r0"


def test_concurrent_claims_split_the_rows(store: Store) -> None:
    _queue(store, 4)
    with UnitOfWork(store.sessions) as a:
        mine = a.outbox.claim("onec", lease=LEASE, limit=2)
        if store.engine.dialect.name == "postgresql":  # SQLite serialises writers: no second claim inside
            with UnitOfWork(store.sessions) as b:
                theirs = b.outbox.claim("onec", lease=LEASE, limit=2)
            assert len(theirs) == 2 and not {p.id for p in theirs} & {p.id for p in mine}
    assert len(mine) == 2
