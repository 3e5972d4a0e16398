"""The inbox: every event or callback received, under a digest of what identifies it, so a redelivery is
recognised; and the dispatcher that hands each stored message to its handler.

A message is marked processed in the same transaction as its handler's changes, so it is processed
exactly when the handler's work is committed: a crash or a failing handler leaves it pending (a
transient failure) to be dispatched again, and two dispatchers never run one message twice (the claim
is a conditional UPDATE inside that transaction).
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from store.uow import UnitOfWork

log = logging.getLogger(__name__)

Handler = Callable[[Session, Mapping[str, Any]], None]
"""Does the work of one message inside the dispatcher's transaction; raises to roll it back."""
Work = Callable[[UnitOfWork], None]
"""The local writes of a message, run inside the transaction that marks it processed."""
Prepared = Callable[[Mapping[str, Any]], Awaitable[Work]]
"""A handler that first reads what it needs from other systems (outside any transaction, so only reads;
its writes to them go through the outbox), then returns its local work."""


def message_key(identity: Mapping[str, Any], *, distinct: bool = False) -> str:
    """The SHA-256 of the whole identifying content (canonical JSON). ``distinct``: the content cannot tell
    a redelivery from a new message (no id, no timestamp), so the key is made unique instead."""
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    if distinct:
        canonical += "\x00" + uuid.uuid4().hex
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def receive(
    sessions: sessionmaker[Session], source: str, key: str, kind: str, payload: Mapping[str, Any]
) -> bool:
    """Store a message; False when the same (source, key) was already received (a redelivery, also one
    stored by another instance at the same moment: ``Inbox.add`` skips a key the unique index holds)."""
    with UnitOfWork(sessions) as uow:
        return uow.inbox.add(source, key, kind, payload)


@dataclass
class Dispatched:
    done: int = 0
    failed: int = 0
    """Handlers that raised a terminal error: the message is closed with the error."""
    pending: int = 0
    """Transient failures: the message stays for the next dispatch."""


def dispatch(
    sessions: sessionmaker[Session],
    handlers: Mapping[str, Handler],
    *,
    source: str,
    retry_on: tuple[type, ...] = (),
    limit: int = 200,
) -> Dispatched:
    """Run the handler of every pending message of ``source`` (oldest first). A handler error that is an
    instance of ``retry_on`` (or a lost database connection) leaves the message pending; any other
    closes it with the error."""
    report = Dispatched()
    with UnitOfWork(sessions) as uow:
        ids = uow.inbox.pending_ids(source, limit)
    for message_id in ids:
        outcome = _run_one(sessions, handlers, message_id, (*retry_on, OperationalError))
        if outcome is not None:
            setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def _run_one(
    sessions: sessionmaker[Session],
    handlers: Mapping[str, Handler],
    message_id: int,
    retry_on: tuple[type, ...],
) -> str | None:
    kind = "?"
    try:
        with UnitOfWork(sessions) as uow:
            row = uow.inbox.claim(message_id)
            if row is None:
                return None  # another dispatcher took it
            kind = row.kind
            handler = handlers.get(kind)
            if handler is None:
                row.error = f"no handler for {kind}"
            else:
                handler(uow.session, row.payload)
        return "done"
    except Exception as exc:  # the handler's changes and the claim are rolled back together
        return _failed(sessions, message_id, kind, exc, retry_on)


async def dispatch_prepared(
    sessions: sessionmaker[Session],
    handlers: Mapping[str, Prepared],
    *,
    source: str,
    retry_on: tuple[type, ...] = (),
    limit: int = 200,
) -> Dispatched:
    """``dispatch`` for handlers that read remote systems first: each pending message's handler prepares
    its work, then the work and the claim commit together (another dispatcher's claim wins; a failure
    leaves the message pending or closes it, as ``dispatch`` does)."""
    report = Dispatched()
    with UnitOfWork(sessions) as uow:
        pending = [(m.id, m.kind, dict(m.payload)) for m in uow.inbox.pending_rows(source, limit)]
    for message_id, kind, payload in pending:
        outcome = await _prepare_one(
            sessions, handlers, message_id, kind, payload, (*retry_on, OperationalError)
        )
        if outcome is not None:
            setattr(report, outcome, getattr(report, outcome) + 1)
    return report


async def _prepare_one(
    sessions: sessionmaker[Session],
    handlers: Mapping[str, Prepared],
    message_id: int,
    kind: str,
    payload: dict[str, Any],
    retry_on: tuple[type, ...],
) -> str | None:
    handler = handlers.get(kind)
    try:
        work = await handler(payload) if handler is not None else None
        with UnitOfWork(sessions) as uow:
            row = uow.inbox.claim(message_id)
            if row is None:
                return None  # another dispatcher took it
            if work is None:
                row.error = f"no handler for {kind}"
            else:
                work(uow)
        return "done"
    except Exception as exc:
        return _failed(sessions, message_id, kind, exc, retry_on)


def _failed(
    sessions: sessionmaker[Session], message_id: int, kind: str, exc: Exception, retry_on: tuple[type, ...]
) -> str:
    transient = isinstance(exc, retry_on)
    reason = f"{type(exc).__name__}: {getattr(exc, 'operator_message', '')}".rstrip(": ")[:500]
    log.warning(
        "inbox.message.failed",
        extra={"message_id": message_id, "kind": kind, "retry": transient, "reason": reason},
    )
    with UnitOfWork(sessions) as uow:
        uow.inbox.fail(message_id, reason, final=not transient)
    return "pending" if transient else "failed"


def pending(sessions: sessionmaker[Session], source: str) -> int:
    """How many messages of ``source`` wait for their handler."""
    with UnitOfWork(sessions) as uow:
        return uow.inbox.pending(source)


PRUNE_CHUNK = 5000


def prune(sessions: sessionmaker[Session], processed_before: datetime, chunk: int = PRUNE_CHUNK) -> int:
    """Delete the messages handled before ``processed_before``, ``chunk`` per transaction (short locks on
    a large inbox); returns how many. A message still pending is kept, however old: its key still guards
    against a redelivery and its work is not done."""
    deleted = 0
    while True:
        with UnitOfWork(sessions) as uow:
            count = uow.inbox.prune(processed_before, chunk)
        deleted += count
        if count < chunk:
            return deleted
