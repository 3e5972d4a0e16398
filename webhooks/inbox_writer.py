"""Group commit of inbox writes: messages that arrive while a commit is under way are stored together in
the next one, so one durable commit (one fsync of SQLite's WAL, one PostgreSQL commit) serves many
requests and none is answered before its own row is committed.

One drain task per process writes a batch at a time. With a single request in flight it commits at once;
under load (the last commit served several requests) it first waits ``commit_delay`` for the batch to
fill, as PostgreSQL's ``commit_delay`` does: two milliseconds of latency buy fewer, larger commits (each
costs a thread round trip and its own fsync).

A redelivery is recognised as before (``Inbox.add`` finds its key; twice in one batch, the second is the
duplicate; ``Inbox.add_many`` reads the keys once and inserts the new rows in one statement). If another
instance stored one of the keys meanwhile (a unique violation at commit), the batch is written again one
message at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from store import inbox
from store.uow import UnitOfWork

MAX_BATCH = 200
COMMIT_DELAY = 0.002
"""Seconds a commit waits under load for more messages to join it."""


@dataclass(frozen=True)
class _Message:
    source: str
    key: str
    kind: str
    payload: Mapping[str, Any]


def write_batch(sessions: sessionmaker[Session], messages: list[_Message]) -> list[bool]:
    """Store ``messages`` in one transaction; per message, False when it was received before."""
    try:
        with UnitOfWork(sessions) as uow:
            return uow.inbox.add_many([(m.source, m.key, m.kind, m.payload) for m in messages])
    except IntegrityError:  # a concurrent instance won one of the inserts: settle each on its own
        return [inbox.receive(sessions, m.source, m.key, m.kind, m.payload) for m in messages]


class InboxWriter:
    """``await writer.receive(...)``: True once the message is committed, False for a redelivery."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        max_batch: int = MAX_BATCH,
        commit_delay: float = COMMIT_DELAY,
    ) -> None:
        self.sessions = sessions
        self.max_batch = max_batch
        self.commit_delay = commit_delay
        self._last_batch = 0
        self._waiting: list[tuple[_Message, asyncio.Future[bool]]] = []
        self._drain: asyncio.Task[None] | None = None
        self.commits = 0

    async def receive(self, source: str, key: str, kind: str, payload: Mapping[str, Any]) -> bool:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bool] = loop.create_future()
        self._waiting.append((_Message(source, key, kind, payload), done))
        if self._drain is None or self._drain.done() or self._drain.get_loop() is not loop:  # one per loop
            self._drain = asyncio.create_task(self._write_all())
        # A client that hangs up cancels only its own wait: the batch is committed all the same.
        return await done

    async def _write_all(self) -> None:
        while self._waiting:
            if self._last_batch > 1 and len(self._waiting) < self.max_batch:
                await asyncio.sleep(self.commit_delay)
            batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
            try:
                fresh = await asyncio.to_thread(write_batch, self.sessions, [m for m, _ in batch])
            except Exception as exc:  # the store failed: every request of the batch fails with it
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            self.commits += 1
            self._last_batch = len(batch)
            for (_, done), new in zip(batch, fresh, strict=True):
                if not done.done():
                    done.set_result(new)
