"""How often the self-registration form may be sent: per IP address and per e-mail address.

A moving window of ``per_hour`` attempts (the ``limits`` library's moving-window strategy, in this
process's memory: each instance of the service counts its own). A refusal says when to try again, so
the page answers 429 with ``Retry-After``. Keys are a salted hash, never the address itself.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time

from limits import RateLimitItemPerHour
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class RegistrationLimit:
    def __init__(self, per_hour: int = 5) -> None:
        self.item = RateLimitItemPerHour(per_hour)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self._salt = secrets.token_bytes(16)

    def _key(self, value: str) -> str:
        return hashlib.blake2b(value.strip().lower().encode(), key=self._salt, digest_size=16).hexdigest()

    def retry_after(self, ip: str, email: str) -> int | None:
        """Count one attempt; None when it is allowed, else the seconds until the next one may be made."""
        for kind, value in (("ip", ip), ("email", email)):
            if not value.strip():
                continue
            key = self._key(value)
            if not self.limiter.hit(self.item, "portal-registration", kind, key):
                reset = self.limiter.get_window_stats(self.item, "portal-registration", kind, key).reset_time
                return max(1, math.ceil(reset - time.time()))
        return None
