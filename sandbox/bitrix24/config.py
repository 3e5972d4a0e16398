"""The sandbox's settings: limits, faults, state file, portal domain, webhooks and the local application.

Owns only values; create_app (app.py) turns them into a running portal.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.bitrix24.faults import FaultProfile
from sandbox.bitrix24.limits import PLANS


@dataclass(frozen=True)
class WebhookConfig:
    """An incoming webhook: ``/rest/<user_id>/<code>/<method>`` with these scopes (bitrix24-rest.md §1.1)."""

    user_id: int = 1
    code: str = field(default_factory=lambda: secrets.token_hex(8))
    scopes: frozenset[str] | None = None
    """None = every scope the sandbox knows."""
    expires_at: float | None = None


@dataclass(frozen=True)
class SandboxConfig:
    domain: str = "sandbox.bitrix24.test"
    plan: str = "standard"
    """``standard`` (2 req/s, burst 50) or ``enterprise`` (5/250), bitrix24-rest.md §8.1."""
    rate: float | None = None
    """Leaky-bucket drain per second; None = the plan's value."""
    burst: int | None = None
    op_budget: float = 480.0
    """Operating seconds per method per 10 minutes before 429 (bitrix24-rest.md §8.2: 480 s example)."""
    op_costs: dict[str, float] = field(default_factory=dict)
    """Simulated operating seconds per call of a method (lower-case name); others use op_default_cost."""
    op_default_cost: float | None = None
    """None = the measured handler time."""
    faults: FaultProfile = field(default_factory=FaultProfile)
    state_file: Path | None = None
    webhooks: tuple[WebhookConfig, ...] = (WebhookConfig(),)
    client_id: str = "local.sandbox0000000000.00000000"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    app_scopes: frozenset[str] | None = None
    app_handler_url: str | None = None
    install_on_start: bool = False
    token_lifetime: int = 3600
    """Access-token lifetime in seconds on the portal clock (bitrix24-rest.md §8.3: 1 h)."""
    frozen_clock: float | None = None
    """Start with the clock frozen at this Unix time (tests); None = wall time."""
    max_users: int | None = None
    public_url: str | None = None
    """Where the sandbox is reached (for client_endpoint); None = learnt from the first request."""

    def limits(self) -> tuple[float, int]:
        rate, burst = PLANS.get(self.plan, PLANS["standard"])
        return (self.rate if self.rate is not None else rate, self.burst if self.burst is not None else burst)
