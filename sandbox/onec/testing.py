"""Running the 1C sandbox inside a test: ``with onec_sandbox(seed=1, employees=200) as sb: ...``.

Owns the test-side handle: the service URLs, the credentials, and ``Knobs``, a small httpx client of
the ``/_sandbox/…`` JSON routes (clock, mutations, inspection, faults). The connector, the mirror engine
and the e2e tests use it; they talk SOAP to ``sb.endpoint`` like to a real 1C.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import httpx

from sandbox.onec.app import OneCSandboxApp, create_app
from sandbox.onec.state import SandboxConfig, SandboxState
from sandbox.server import serve_in_thread


class Knobs:
    """Thin client of the knobs; every method returns the decoded JSON and raises on HTTP errors."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        headers = {"X-Sandbox-Token": token} if token else {}
        self._http = httpx.Client(base_url=f"{base_url}/_sandbox/", headers=headers, timeout=30)

    def close(self) -> None:
        self._http.close()

    def get(self, route: str, **query: Any) -> Any:
        response = self._http.get(route, params={k: v for k, v in query.items() if v is not None})
        response.raise_for_status()
        return response.json()

    def post(self, route: str, **body: Any) -> Any:
        response = self._http.post(route, json={k: v for k, v in body.items() if v is not None})
        response.raise_for_status()
        return response.json()

    # the clock
    def clock(self) -> dict[str, Any]:
        return dict(self.get("clock"))

    def advance(self, *, days: float = 0, seconds: float = 0) -> dict[str, Any]:
        return dict(self.post("clock/advance", days=days, seconds=seconds))

    # HR mutations (each registered in the change feed); dates are ISO strings, default today
    def hire(self, **body: Any) -> dict[str, Any]:
        return dict(self.post("hire", **body))

    def rehire(self, employee_ref: str, **body: Any) -> dict[str, Any]:
        return dict(self.post("rehire", employeeRef=employee_ref, **body))

    def transfer(self, employee_ref: str, **body: Any) -> dict[str, Any]:
        return dict(self.post("transfer", employeeRef=employee_ref, **body))

    def dismiss(self, employee_ref: str, date: str | None = None) -> dict[str, Any]:
        return dict(self.post("dismiss", employeeRef=employee_ref, date=date))

    def edit_person(self, person_ref: str, **fields: Any) -> dict[str, Any]:
        return dict(self.post("person", personRef=person_ref, **fields))

    def add_absence(self, employee_ref: str, kind: str, date_from: str, date_to: str) -> dict[str, Any]:
        return dict(
            self.post("absence", employeeRef=employee_ref, kind=kind, dateFrom=date_from, dateTo=date_to)
        )

    def cancel_absence(self, absence_ref: str) -> dict[str, Any]:
        return dict(self.post("absence/cancel", absenceRef=absence_ref))

    def churn(self, **counts: Any) -> dict[str, list[str]]:
        """Many random mutations at once: hires, transfers, dismissals, rehires, personEdits, absences."""
        return dict(self.post("churn", **counts))

    # inspection
    def stats(self) -> dict[str, Any]:
        return dict(self.get("stats"))

    def pick(self, entity: str = "Employee", n: int = 1, **filters: Any) -> list[dict[str, Any]]:
        return list(self.get("pick", entity=entity, n=n, **filters))

    def record(self, entity: str, ref: str) -> dict[str, Any]:
        return dict(self.get("record", entity=entity, ref=ref))

    def requests(self) -> list[dict[str, Any]]:
        return list(self.get("requests"))

    def timesheets(self) -> list[dict[str, Any]]:
        return list(self.get("timesheets"))

    def decide(
        self, request_id: str, decision: str = "Approved", reason: str | None = None
    ) -> dict[str, Any]:
        return dict(self.post("requests/decide", requestId=request_id, decision=decision, reason=reason))

    def review(self, *, delay_seconds: float | None = None, decision: str | None = None) -> dict[str, Any]:
        return dict(self.post("review", delaySeconds=delay_seconds, decision=decision))

    # faults: kind ∈ soap_fault | sessions_locked | licence | proxy_502 | unauthorized | slow | drop
    def fault(
        self,
        kind: str,
        operations: list[str] | None = None,
        count: int | None = 1,
        delay_seconds: float | None = None,
        message: str | None = None,
    ) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"kind": kind, "operations": operations, "count": count}
        if delay_seconds is not None:
            body["delaySeconds"] = delay_seconds
        if message is not None:
            body["message"] = message
        response = self._http.post("faults", json=body)  # count=None must travel as null
        response.raise_for_status()
        return list(response.json())

    def clear_faults(self) -> None:
        self.post("faults/clear")

    def reset(self, seed: int | None = None, employees: int | None = None) -> dict[str, Any]:
        return dict(self.post("reset", seed=seed, employees=employees))


@dataclass
class RunningSandbox:
    base_url: str
    endpoint: str
    """The real service address to use instead of the WSDL's soap:address."""
    wsdl_url: str
    user: str
    password: str
    knobs: Knobs
    app: OneCSandboxApp = field(repr=False)

    @property
    def auth(self) -> tuple[str, str]:
        return self.user, self.password

    @property
    def state(self) -> SandboxState:
        """The in-process state (read-only use in tests; change it through the knobs)."""
        return self.app.state


@contextmanager
def onec_sandbox(
    seed: int = 1,
    employees: int = 200,
    *,
    today: date | None = None,
    config: SandboxConfig | None = None,
    **overrides: Any,
) -> Iterator[RunningSandbox]:
    """Serve a fresh sandbox on a free loopback port for the duration of the block."""
    config = replace(config or SandboxConfig(), seed=seed, employees=employees, today=today, **overrides)
    app = create_app(config)
    with serve_in_thread(app) as base_url:
        endpoint = f"{base_url}/zup/ws/ExtranetBridge.1cws"
        knobs = Knobs(base_url, config.knob_token)
        try:
            yield RunningSandbox(
                base_url, endpoint, f"{endpoint}?wsdl", config.user, config.password, knobs, app
            )
        finally:
            knobs.close()
