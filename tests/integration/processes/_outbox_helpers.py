"""Shared set-up of the outbox tests: a request brought to ``approved`` through the unit of work."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from config.settings import OneCSettings, Settings
from config.wiring import Store
from connectors.onec import build_onec
from connectors.onec.connector import OneCConnector, RetryPolicy
from connectors.onec.port import EmploymentRef, PersonRef, RequestSubmission, TRequestKind
from processes.catalog import default_catalog
from processes.engine import Event
from processes.onec_outbox import approve
from sandbox.onec.testing import RunningSandbox
from store.process_repo import ProcessRepository

CATALOG = default_catalog()
TODAY = date(2026, 3, 2)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


ONCE = RetryPolicy(attempts=1, initial_wait=0, max_wait=0, jitter=0)
"""One try per call: the outbox's own backoff is what the tests watch."""


def onec_connector(sb: RunningSandbox) -> OneCConnector:
    """The real connector on the 1C sandbox, trying each call once."""
    settings = Settings(onec=OneCSettings(endpoint=sb.endpoint, username=sb.user, password=sb.password))
    return build_onec(settings, retry=ONCE)


def active_employees(sb: RunningSandbox, n: int) -> list[dict[str, Any]]:
    return sb.knobs.pick("Employee", n, active=True)


def file_request(store: Store, kind: str, employee: dict[str, Any], request_id: str | None = None) -> str:
    """A request of catalog entry ``kind`` that has passed validation (awaiting its first approval)."""
    request_id = request_id or str(uuid.uuid4())
    entry = CATALOG.entry(kind)
    with store.sessions.begin() as session:
        repo = ProcessRepository(session)
        repo.open(
            entry, request_id=request_id, event=Event("receive", "user_7"), at=T0,
            person_ref=employee["person_ref"], data={"b24_user_id": 7},
        )  # fmt: skip
        repo.apply(entry, request_id, Event("validated", "bridge"), T0)
    return request_id


def submission_for(
    request_id: str, employee: dict[str, Any], kind: TRequestKind = "Leave", offset_days: int = 60
) -> RequestSubmission:
    dated = kind == "Leave"
    return RequestSubmission(
        request_id=request_id,
        kind=kind,
        person_ref=PersonRef(employee["person_ref"]),
        employee_ref=EmploymentRef(employee["ref"]),
        date_from=TODAY + timedelta(days=offset_days) if dated else None,
        date_to=TODAY + timedelta(days=offset_days + 6) if dated else None,
        details={"leaveKind": "annual"} if dated else {"certificateKind": "employment"},
    )


def approve_all(store: Store, kind: str, request_id: str, submission: RequestSubmission) -> None:
    """Every approval step of the entry, the last one queuing the SubmitRequest."""
    for step in CATALOG.entry(kind).approvals:
        event = Event("approve", "user_12", step=step.code)
        approve(store.sessions, CATALOG, request_id, event, T0, submission)
