"""The installed application's tokens as the call-out check reads them: from the store at most once per
``ttl`` seconds (one read shared by the requests that arrive meanwhile), since every call-out is checked
against them. A new install or an uninstall reaches the check within ``ttl``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from connectors.bitrix24.auth import StoreVault, TokenPair

TTL_SECONDS = 1.0


class InstalledApp:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        ttl: float = TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._vault = StoreVault(sessions)
        self.ttl = ttl
        self.clock = clock
        self._read: tuple[float, TokenPair | None] | None = None
        self._lock = asyncio.Lock()
        self.reads = 0

    async def load(self) -> TokenPair | None:
        read = self._read
        if read is not None and self.clock() - read[0] < self.ttl:  # fresh: no lock, no wait
            return read[1]
        async with self._lock:
            if self._read is None or self.clock() - self._read[0] >= self.ttl:
                pair = await asyncio.to_thread(self._vault.load)
                self.reads += 1
                self._read = (self.clock(), pair)
            return self._read[1]
