"""Knobs, the request log, state files, the CLI command and PHP bracket encoding."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from sandbox.bitrix24.params import decode_pairs, encode_form, encode_pairs, parse_query
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
        import httpx

        uid = httpx.post(
            sb.webhook_url + "user.add.json", json={"EMAIL": "keep@example.com", "UF_DEPARTMENT": [1]}
        )
        assert uid.status_code == 200
        sb.app.state.sandbox.portal.extensions["lists"] = {"answer": 42}
    assert path.exists()
    with run_sandbox(state_file=path) as sb:
        assert sb.knobs.users(email="keep@example.com")[0]["fields"]["EMAIL"] == "keep@example.com"
        assert sb.app.state.sandbox.portal.extensions["lists"] == {"answer": 42}


def test_php_brackets_round_trip() -> None:
    data = {"FIELDS": {"NAME": "x", "UF": [1, 2]}, "FILTER": {">ID": "5"}, "flag": True}
    assert parse_query(encode_form(data)) == {
        "FIELDS": {"NAME": "x", "UF": ["1", "2"]},
        "FILTER": {">ID": "5"},
        "flag": "1",
    }
    assert decode_pairs([("ID[]", "1"), ("ID[]", "2")]) == {"ID": ["1", "2"]}
    assert decode_pairs([("a[5]", "x")]) == {"a": {"5": "x"}}
    assert ("auth[application_token]", "t") in encode_pairs({"auth": {"application_token": "t"}})


def test_cli_registers_bitrix24_command() -> None:
    from cli.sandbox_bitrix24 import register

    group = typer.Typer()
    register(group)
    result = CliRunner().invoke(group, ["--help"])
    assert result.exit_code == 0 and "--rate" in result.output and "--state-file" in result.output


def test_delivery_posts_php_bracket_form() -> None:
    from sandbox.bitrix24.delivery import post_form_sync
    from sandbox.bitrix24.testing import capture_server

    with capture_server(status=500) as (url, received):
        result = post_form_sync(url + "/hook", {"event": "X", "data": {"IDS": [1, 2]}, "auth": {"a": "b"}})
    assert result.status == 500  # the outcome is reported, never retried
    assert received[0].form == {"event": "X", "data": {"IDS": ["1", "2"]}, "auth": {"a": "b"}}
    unreachable = post_form_sync("http://127.0.0.1:9/nowhere", {"a": 1}, timeout=2)
    assert unreachable.status is None and unreachable.error
