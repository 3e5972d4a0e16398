"""The portal's clock: wall time plus an offset, or frozen at a chosen instant.

Everything time-based in the sandbox (token lifetimes, the leaky bucket, the operating-time window,
dates written into records) reads this clock, so tests move time with ``/_sandbox/clock`` instead of
sleeping. It must not be replaced by ``time.time()`` anywhere in sandbox/bitrix24.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class Clock:
    """A settable clock. ``now()`` is Unix seconds (float)."""

    def __init__(self, frozen_at: float | None = None) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0
        self._frozen: float | None = frozen_at
        self._iso_cache: tuple[int, str] = (-1, "")

    def now(self) -> float:
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return time.time() + self._offset

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

    def set(self, instant: float, *, freeze: bool = True) -> None:
        """Jump to ``instant``; frozen there unless ``freeze`` is False (then it keeps running)."""
        with self._lock:
            if freeze:
                self._frozen = instant
            else:
                self._frozen = None
                self._offset = instant - time.time()

    def advance(self, seconds: float) -> None:
        with self._lock:
            if self._frozen is not None:
                self._frozen += seconds
            else:
                self._offset += seconds

    def run(self) -> None:
        """Unfreeze: time runs again from the current reading."""
        with self._lock:
            if self._frozen is not None:
                self._offset = self._frozen - time.time()
                self._frozen = None

    def iso(self, instant: float | None = None) -> str:
        """ISO-8601 with offset, as Bitrix24 writes dates (bitrix24-rest.md §1.2 ``date_start``)."""
        second = int(self.now() if instant is None else instant)
        cached = self._iso_cache
        if cached[0] == second:
            return cached[1]  # one shared string per second keeps 50k records small
        text = datetime.fromtimestamp(second, UTC).isoformat()
        self._iso_cache = (second, text)
        return text
