"""Helpers of the Bitrix24 sandbox: PHP bracket encoding, its CLI command, outbound form deliveries."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from sandbox.bitrix24.params import decode_pairs, encode_form, encode_pairs, parse_query


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
