"""The sync lease: one process at a time applies or resumes runs.

Every command and job that applies a plan or resumes a run holds the ``sync`` row of ``job_leases``
(store/leases.py). A second one waits up to ``wait`` seconds, saying so once, then refuses with
``LeaseHeld`` — one line for the operator. A thread renews the lease while it is held, so a long CPU-bound
stage cannot let it lapse; a holder that dies stops renewing and its lease expires after ``TTL``, after
which the next sync resumes its run. A holder on this host whose process is gone is known dead at once.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from time import monotonic

from sqlalchemy.orm import Session, sessionmaker

from core.errors import LeaseHeld, SyncError
from store import leases

NAME = "sync-runs"
"""The lease row's name (scheduled jobs have rows named after themselves, e.g. "sync", beside it)."""
TTL = timedelta(seconds=90)
RENEW_EVERY = 15.0
"""Seconds between renewals (well inside the TTL)."""
POLL = 1.0


class LeaseLost(SyncError):
    """Another process took the sync lease from this one (it stalled past the TTL): stop applying."""


@dataclass
class Held:
    holder: str
    lost: threading.Event = field(default_factory=threading.Event)

    def check(self) -> None:
        """Raise if the lease is no longer ours (called before each write batch)."""
        if self.lost.is_set():
            raise LeaseLost("the sync lease was taken over by another process; this run stops here")


_current: ContextVar[Held | None] = ContextVar("sync_lease", default=None)


def new_holder() -> str:
    """``host:pid:token`` — the token tells threads and successive leases of one process apart."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _dead_here(holder: str) -> bool:
    """True when ``holder`` names a process of this host that no longer exists."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname()[:80] or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


def _take(sessions: sessionmaker[Session], holder: str) -> str | None:
    """Take the lease; None when taken, else the live holder that has it."""
    if leases.acquire(sessions, NAME, holder, TTL):
        return None
    info = leases.current(sessions, NAME)
    if info is None:  # released in between
        return None if leases.acquire(sessions, NAME, holder, TTL) else "another process"
    if _dead_here(info.holder) and leases.take_over(sessions, NAME, info.holder, holder, TTL):
        return None
    return info.holder


def _renew(sessions: sessionmaker[Session], held: Held, stop: threading.Event) -> None:
    while not stop.wait(RENEW_EVERY):
        try:
            if not leases.renew(sessions, NAME, held.holder, TTL):
                held.lost.set()
                return
        except Exception:  # the store is unreachable for a moment: the next renewal tries again
            continue


def current() -> Held | None:
    """The lease this task holds, if any."""
    return _current.get()


@asynccontextmanager
async def holding(
    sessions: sessionmaker[Session], *, wait: float = 0.0, on_wait: Callable[[str], None] | None = None
) -> AsyncIterator[Held]:
    """Hold the sync lease for the body; nested use in the same task holds it once."""
    already = _current.get()
    if already is not None:
        yield already
        return
    holder = new_holder()
    deadline = monotonic() + wait
    told = False
    while (other := _take(sessions, holder)) is not None:
        if monotonic() >= deadline:
            raise LeaseHeld(f"another sync is running ({other}); try again when it has finished")
        if on_wait is not None and not told:
            on_wait(f"another sync is running ({other}); waiting up to {wait:.0f} s for it to finish")
            told = True
        await asyncio.sleep(min(POLL, max(0.0, deadline - monotonic())))
    held = Held(holder)
    stop = threading.Event()
    renewer = threading.Thread(target=_renew, args=(sessions, held, stop), name="sync-lease", daemon=True)
    renewer.start()
    token = _current.set(held)
    try:
        yield held
    finally:
        _current.reset(token)
        stop.set()
        renewer.join(timeout=5)
        if not held.lost.is_set():
            leases.release(sessions, NAME, holder)
