"""The sandbox clock: the 1C server's local time, movable by tests.

Owns "now" for everything in the sandbox (generated dates, review delays, GetInfo.serverTime). It flows
with real time from a start instant unless frozen, and ``advance`` jumps forward. Naive datetimes in
the server's time zone, as 1C has them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo


@dataclass
class Clock:
    tz: str = "Europe/Moscow"
    start: datetime | None = None
    """Naive local start instant; None = the real current time in ``tz``."""
    frozen: bool = False
    _offset: timedelta = field(default=timedelta(0))
    _origin: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.start is None:
            self.start = datetime.now(ZoneInfo(self.tz)).replace(tzinfo=None, microsecond=0)

    def now(self) -> datetime:
        assert self.start is not None
        flowed = timedelta(0) if self.frozen else timedelta(seconds=time.monotonic() - self._origin)
        return (self.start + flowed + self._offset).replace(microsecond=0)

    def today(self) -> date:
        return self.now().date()

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        self._offset += timedelta(seconds=seconds)
        return self.now()

    def as_json(self) -> dict[str, object]:
        return {
            "now": self.now().isoformat(),
            "today": self.today().isoformat(),
            "tz": self.tz,
            "frozen": self.frozen,
        }
