"""The Bitrix24 sandbox's knobs: the request log, the clock, reset, and the state file."""

from __future__ import annotations

from pathlib import Path

import httpx

from sandbox.bitrix24.testing import Knobs, Rest, RunningSandbox, run_sandbox


def test_request_log_has_no_secrets(b24: RunningSandbox, rest: Rest, knobs: Knobs) -> None:
    rest("user.add", {"EMAIL": "secret-person@example.com", "UF_DEPARTMENT": [1]})
    rest("user.nosuch")
    rest("batch", {"cmd": {"a": "server.time"}})
    entries = knobs.log()
    assert [e["method"] for e in entries] == ["user.add", "user.nosuch", "batch"]
    assert entries[1]["status"] == 404 and entries[1]["error"] == "ERROR_METHOD_NOT_FOUND"
    assert entries[2]["commands"] == 1
    text = knobs.http.get("/_sandbox/log").text
    code = b24.webhook_url.rstrip("/").rsplit("/", 1)[-1]
    assert "secret-person" not in text and code not in text


def test_clock_knob(knobs: Knobs) -> None:
    assert knobs.clock(set=1000.0) == {"now": 1000.0, "frozen": True}
    assert knobs.advance(5) == 1005.0
    running = knobs.clock(run=True)
    assert running["frozen"] is False and running["now"] >= 1005.0


def test_reset_clears_everything(rest: Rest, knobs: Knobs) -> None:
    rest.ok("user.add", {"EMAIL": "r@example.com", "UF_DEPARTMENT": [1]})
    b24_state = knobs.state()
    assert b24_state["users"] == 2
    knobs.reset()
    assert knobs.state()["users"] == 1 and knobs.invitations() == []


def test_state_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "portal.json"
    with run_sandbox(state_file=path) as sb:
        uid = httpx.post(
            sb.webhook_url + "user.add.json", json={"EMAIL": "keep@example.com", "UF_DEPARTMENT": [1]}
        )
        assert uid.status_code == 200
        sb.app.state.sandbox.portal.extensions["lists"] = {"answer": 42}
    assert path.exists()
    with run_sandbox(state_file=path) as sb:
        assert sb.knobs.users(email="keep@example.com")[0]["fields"]["EMAIL"] == "keep@example.com"
        assert sb.app.state.sandbox.portal.extensions["lists"] == {"answer": 42}
