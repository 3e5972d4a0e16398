"""Fault injection: off by default, deterministic with a seed, only on /rest/ (sandbox/bitrix24/faults.py)."""

from __future__ import annotations

import httpx
import pytest

from sandbox.bitrix24.faults import FaultProfile, parse_profile
from sandbox.bitrix24.testing import Knobs, Rest, RunningSandbox


def test_no_faults_by_default(rest: Rest, knobs: Knobs) -> None:
    assert knobs.faults()["error_500"] == 0
    assert all(rest("server.time").status_code == 200 for _ in range(20))


@pytest.mark.parametrize(
    ("kind", "status", "ctype"),
    [
        ("error_500", 500, "application/json"),
        ("error_503", 503, "application/json"),
        ("html", 502, "text/html"),
    ],
)
def test_error_answers(rest: Rest, knobs: Knobs, kind: str, status: int, ctype: str) -> None:
    knobs.faults(**{kind: 1.0})
    response = rest("server.time")
    assert response.status_code == status
    assert response.headers["content-type"].startswith(ctype)
    assert knobs.state()["users"] == 1  # knobs are never faulted


def test_reset_drops_the_connection_after_the_call_ran(rest: Rest, knobs: Knobs) -> None:
    knobs.faults(reset=1.0)
    with pytest.raises(httpx.HTTPError):
        rest("user.add", {"EMAIL": "lost@example.com", "UF_DEPARTMENT": [1]})
    knobs.faults()
    assert rest.ok("user.get", {"FILTER": {"EMAIL": "lost@example.com"}})  # the effect stayed


def test_timeout(b24: RunningSandbox, knobs: Knobs) -> None:
    knobs.faults(timeout=1.0, timeout_seconds=1.0)
    with httpx.Client(timeout=0.2) as client, pytest.raises(httpx.TimeoutException):
        client.post(b24.webhook_url + "server.time.json", json={})


def test_same_seed_same_sequence(rest: Rest, knobs: Knobs) -> None:
    def run() -> list[int]:
        knobs.faults(error_500=0.3, error_503=0.2, seed=7)
        return [rest("server.time").status_code for _ in range(30)]

    first, second = run(), run()
    assert first == second
    assert {500, 503, 200} <= set(first)


def test_profiles_parse() -> None:
    assert parse_profile(None) == FaultProfile()
    assert parse_profile("error_500=0.1,seed=3") == FaultProfile(error_500=0.1, seed=3)
    assert parse_profile("flaky").active
    with pytest.raises(ValueError):
        parse_profile("bogus=1")
    with pytest.raises(ValueError):
        FaultProfile(error_500=0.7, html=0.5)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("OVERLOAD_LIMIT", 503),
        ("PORTAL_DELETED", 500),
        ("INVALID_CREDENTIALS", 403),
        ("ACCESS_DENIED", 403),
        ("INVALID_REQUEST", 400),
        ("user_access_error", 403),
        ("ERROR_UNEXPECTED_ANSWER", 500),
    ],
)
def test_documented_system_errors_can_be_forced(rest: Rest, knobs: Knobs, code: str, status: int) -> None:
    knobs.system_error(code, method="user.get", count=1)
    assert rest("user.current").status_code == 200  # another method is unaffected
    response = rest("user.get")
    assert response.status_code == status and response.json()["error"] == code
    assert rest("user.get").status_code == 200  # count=1: only once


def test_unknown_system_error_is_refused(knobs: Knobs) -> None:
    response = knobs.http.post("/_sandbox/system-error", json={"code": "MADE_UP"})
    assert response.status_code == 400
