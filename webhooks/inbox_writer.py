"""Group commit of inbox writes: messages that arrive while a commit is under way are stored together in
the next one, so one durable commit (one fsync of SQLite's WAL, one PostgreSQL commit) serves many
requests and none is answered before its own row is committed.

One drain task per process writes a batch at a time. Before it commits, it lets the event loop read the
requests that have arrived meanwhile (for at most ``commit_delay``, in the spirit of PostgreSQL's
``commit_delay``), and commits as soon as a pass of the loop brings no new message: a lone request is
committed at once, a burst shares one commit (each costs a thread round trip and its own fsync) and the
loop never sits idle waiting for a timer.

A redelivery is recognised by the inbox's unique key: ``Inbox.add_many`` inserts the batch in one statement
that skips keys already stored (also by another instance at the same moment) and returns the ones it
stored; twice in one batch, the second is the duplicate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import StoreUnavailable
from store.uow import UnitOfWork

log = logging.getLogger(__name__)

MAX_BATCH = 200
COMMIT_DELAY = 0.005
"""At most this many seconds a commit waits for the messages of requests still being read."""


@dataclass(frozen=True)
class _Message:
    source: str
    key: str
    kind: str
    payload: Mapping[str, Any]


def write_batch(sessions: sessionmaker[Session], messages: list[_Message]) -> list[bool]:
    """Store ``messages`` in one transaction; per message, False when it was received before."""
    with UnitOfWork(sessions) as uow:
        return uow.inbox.add_many([(m.source, m.key, m.kind, m.payload) for m in messages])


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

    async def _fill(self) -> None:
        """Let the batch take in the messages of requests the event loop is still reading: yield to it
        until a pass brings no new message (it is idle), ``max_batch`` wait or ``commit_delay`` is up."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.commit_delay
        while len(self._waiting) < self.max_batch and loop.time() < deadline:
            before = len(self._waiting)
            await asyncio.sleep(0)
            if len(self._waiting) == before:
                return

    async def _write_all(self) -> None:
        while self._waiting:
            await self._fill()
            batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
            try:
                fresh = await asyncio.to_thread(write_batch, self.sessions, [m for m, _ in batch])
            except Exception as exc:  # every request of the batch fails with it
                failure: Exception = exc
                if isinstance(exc, SQLAlchemyError):  # the store: a 503. Only the class is logged: the
                    # error's text holds the statement's parameters, i.e. the payloads.
                    log.warning(
                        "inbox.write_failed", extra={"error": type(exc).__name__, "messages": len(batch)}
                    )
                    failure = StoreUnavailable("the state store cannot take the message now")
                for _, done in batch:
                    if not done.done():
                        done.set_exception(failure)
                continue
            self.commits += 1
            for (_, done), new in zip(batch, fresh, strict=True):
                if not done.done():
                    done.set_result(new)
