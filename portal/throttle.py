"""How often the self-registration form may be sent: per IP address and per e-mail address.

A moving window of ``per_hour`` attempts. ``SharedRegistrationLimit`` counts in the state store, so the
instances of the service share one window (store/rate_limits.py) — what ``serve`` uses.
``RegistrationLimit`` counts in this process's memory (the ``limits`` library's moving window) for a
portal served without a store (the demo's in-memory pages). A refusal says when to try again, so the
page answers 429 with ``Retry-After``. Keys are a keyed hash, never the address itself.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from datetime import timedelta

from limits import RateLimitItemPerHour
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock, utcnow
from store import rate_limits

SCOPE = "portal-registration"
WINDOW = timedelta(hours=1)


class RegistrationLimit:
    def __init__(self, per_hour: int = 5, *, salt: bytes | None = None) -> None:
        self.per_hour = per_hour
        self._salt = salt or secrets.token_bytes(16)
        self.item = RateLimitItemPerHour(per_hour)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def _keys(self, ip: str, email: str) -> list[tuple[str, str]]:
        """``(kind, keyed hash)`` of each address given."""
        return [(kind, self._hash(value)) for kind, value in (("ip", ip), ("email", email)) if value.strip()]

    def _hash(self, value: str) -> str:
        return hashlib.blake2b(value.strip().lower().encode(), key=self._salt, digest_size=16).hexdigest()

    def retry_after(self, ip: str, email: str) -> int | None:
        """Count one attempt; None when it is allowed, else the seconds until the next one may be made."""
        for kind, key in self._keys(ip, email):
            if not self.limiter.hit(self.item, SCOPE, kind, key):
                reset = self.limiter.get_window_stats(self.item, SCOPE, kind, key).reset_time
                return max(1, math.ceil(reset - time.time()))
        return None


class SharedRegistrationLimit(RegistrationLimit):
    """The same window, counted in the store: one per deployment, not one per instance. ``secret`` keys
    the hashes (the portal's session secret: the same in every instance)."""

    def __init__(
        self, sessions: sessionmaker[Session], per_hour: int, secret: bytes, clock: Clock = utcnow
    ) -> None:
        super().__init__(per_hour, salt=hashlib.blake2b(secret, digest_size=32).digest())
        self.sessions = sessions
        self.clock = clock

    def retry_after(self, ip: str, email: str) -> int | None:
        now = self.clock()
        for kind, key in self._keys(ip, email):
            with self.sessions.begin() as session:  # its own commit: a refused form still counted
                free_at = rate_limits.hit(
                    session, f"{SCOPE}:{kind}", key, limit=self.per_hour, window=WINDOW, now=now
                )
            if free_at is not None:
                return max(1, math.ceil((free_at - now).total_seconds()))
        return None
