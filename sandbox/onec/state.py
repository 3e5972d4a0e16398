"""The running sandbox: configuration, the generated infobase, the clock, the feed, the knobs' settings.

Owns ``SandboxConfig`` (what the CLI and tests choose) and ``SandboxState`` (what a request handler
reads and writes). Everything runs on the server's event loop thread, so there is no locking.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time

from connectors.onec.contract import ADVERTISED_ADDRESS
from sandbox.onec.clock import Clock
from sandbox.onec.faults import FaultProfile
from sandbox.onec.feed import ExchangeFeed
from sandbox.onec.gen_hr import HrShares
from sandbox.onec.gen_people import ContactShares
from sandbox.onec.generator import GenerationSpec, generate
from sandbox.onec.model import Company

DEFAULT_USER = "Интеграция"
DEFAULT_PASSWORD = "Пароль-1С"


@dataclass(frozen=True)
class SandboxConfig:
    seed: int = 1
    employees: int = 1000
    user: str = DEFAULT_USER
    password: str = DEFAULT_PASSWORD
    tz: str = "Europe/Moscow"
    today: date | None = None
    """Pin the clock's start date (09:00 local); None = the real current time."""
    frozen_clock: bool = False
    advertised_address: str = ADVERTISED_ADDRESS
    """What soap:address says in the served WSDL (an internal host, as 1C behind a proxy)."""
    knob_token: str | None = None
    """When set, /_sandbox/… requires the header ``X-Sandbox-Token``."""
    review_delay_seconds: float = 600.0
    contacts: ContactShares = field(default_factory=ContactShares)
    hr: HrShares = field(default_factory=HrShares)
    config_version: str = "3.1.30.108"
    node_code: str = "EB"


@dataclass
class ReviewSettings:
    """How the simulated HR accountant reviews requests (changeable through the knobs)."""

    delay_seconds: float = 600.0
    decision: str = "auto"
    """auto (approve unless the period clashes with an absence) | approve | reject"""
    reviewer: str = "Смирнова Е. А."


class SandboxState:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        start = datetime.combine(config.today, time(9, 0)) if config.today else None
        self.clock = Clock(tz=config.tz, start=start, frozen=config.frozen_clock)
        self.faults = FaultProfile()
        self.review = ReviewSettings(delay_seconds=config.review_delay_seconds)
        self.company = Company()
        self.feed = ExchangeFeed()
        self.rng = random.Random()
        self.calls: dict[str, int] = {}
        self.regenerate(config.seed, config.employees)

    def regenerate(self, seed: int, employees: int) -> None:
        """Build the infobase again (the feed and written documents start empty)."""
        self.config = replace(self.config, seed=seed, employees=employees)
        spec = GenerationSpec(
            seed=seed, employees=employees, contacts=self.config.contacts, hr=self.config.hr
        )
        self.company = generate(spec, self.clock.today())
        self.feed = ExchangeFeed()
        self.rng = random.Random(f"{seed}:mutations")
        self.faults.clear()

    def today(self) -> date:
        return self.clock.today()

    def now(self) -> datetime:
        return self.clock.now()

    def register(self, entity: str, ref: str) -> None:
        self.feed.register(entity, ref)
