"""Injected transport faults for REST calls: 500s, 503s, HTML error pages, timeouts, dropped connections.

Owns the fault profile and a seeded draw per request, so a test gets the same sequence every run. The
default profile injects nothing. Faults apply only to ``/rest/…``, never to ``/_sandbox/`` or
``/oauth/``. ``500``/``503``/``html`` answer before the portal sees the call; ``timeout`` and ``reset``
happen after the method ran (its effect is kept, the answer is lost) — the case a client must survive.
Sources for the shapes: bitrix24-rest.md §8.3 (500 INTERNAL_SERVER_ERROR; 503 QUERY_LIMIT_EXCEEDED, which
a portal also answers when other apps on the same IP used the budget, §8.1), §8.1 (60 s request cut-off).
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

KINDS = ("error_500", "error_503", "html", "timeout", "reset")


@dataclass(frozen=True)
class FaultProfile:
    """Shares (0..1) of requests that fail each way; their sum must be ≤ 1."""

    error_500: float = 0.0
    error_503: float = 0.0
    html: float = 0.0
    """A 502 text/html page from the front proxy instead of JSON."""
    timeout: float = 0.0
    """Hold the connection ``timeout_seconds``, then drop it without an answer."""
    reset: float = 0.0
    """Drop the connection in the middle of the answer."""
    latency_ms: float = 0.0
    seed: int = 0
    timeout_seconds: float = 5.0

    def __post_init__(self) -> None:
        if sum(getattr(self, k) for k in KINDS) > 1.0 + 1e-9:
            raise ValueError("fault shares add up to more than 1")

    @property
    def active(self) -> bool:
        return self.latency_ms > 0 or any(getattr(self, k) > 0 for k in KINDS)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


NAMED: dict[str, FaultProfile] = {
    "none": FaultProfile(),
    "flaky": FaultProfile(error_500=0.03, error_503=0.03, html=0.02, reset=0.01, seed=1),
    "rough": FaultProfile(
        error_500=0.08, error_503=0.08, html=0.04, timeout=0.02, reset=0.03, latency_ms=50, seed=1
    ),
}


def parse_profile(text: str | None) -> FaultProfile:
    """A named profile (none/flaky/rough) or ``key=value`` pairs, e.g. ``error_500=0.1,seed=7``."""
    if not text:
        return FaultProfile()
    if text in NAMED:
        return NAMED[text]
    known = {f.name: f.type for f in fields(FaultProfile)}
    values: dict[str, Any] = {}
    for part in text.split(","):
        key, _, raw = part.partition("=")
        key = key.strip()
        if key not in known:
            raise ValueError(f"unknown fault setting {key!r}")
        values[key] = int(raw) if key == "seed" else float(raw)
    return replace(FaultProfile(), **values)


def profile_from_json(data: dict[str, Any]) -> FaultProfile:
    known = {f.name for f in fields(FaultProfile)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown fault settings: {sorted(unknown)}")
    return FaultProfile(**data)


class FaultInjector:
    """Draws one fault (or None) per REST request from a seeded generator."""

    def __init__(self, profile: FaultProfile) -> None:
        self._lock = threading.Lock()
        self.set(profile)

    def set(self, profile: FaultProfile) -> None:
        with self._lock:
            self.profile = profile
            self._rng = random.Random(profile.seed)

    def draw(self) -> str | None:
        with self._lock:
            if not self.profile.active:
                return None
            roll = self._rng.random()
            edge = 0.0
            for kind in KINDS:
                edge += getattr(self.profile, kind)
                if roll < edge:
                    return kind
            return None
