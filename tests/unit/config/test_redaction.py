"""Secrets and personal data never reach log output — ours or third-party loggers'."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
import structlog

from config.logging import configure_logging, redact_text

WEBHOOK = "https://acme.bitrix24.ru/rest/17/x9k2p0secretcode1/user.get.json"
TOKEN = "a1b2c3d4e5f6accesstoken0987"
EMAIL = "ivanova.maria@example.ru"
PHONE = "+7 (916) 123-45-67"
ACCOUNT = "40817810099910004312"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("DEBUG", "json", "DEBUG", stream=stream)
    yield stream
    configure_logging("WARNING", "json", "WARNING", stream=io.StringIO())


def _assert_clean(output: str) -> None:
    assert output, "nothing was logged: the test would prove nothing"
    for secret in ("x9k2p0secretcode1", TOKEN, EMAIL, "123-45-67", ACCOUNT, "s3cr3t-pass"):
        assert secret not in output


def test_structlog_events_are_redacted(captured: io.StringIO) -> None:
    log = structlog.get_logger("extranet_bridge.test")
    log.info(
        "calling bitrix24",
        url=WEBHOOK,
        access_token=TOKEN,
        body=f"FIELDS[EMAIL]={EMAIL}&FIELDS[PERSONAL_MOBILE]={PHONE}",
        account=ACCOUNT,
        nested={"password": "s3cr3t-pass", "note": f"mail {EMAIL}"},
    )
    output = captured.getvalue()
    _assert_clean(output)
    assert "/rest/17/***" in output
    assert "calling bitrix24" in output


@pytest.mark.parametrize("name", ["fast_bitrix24", "zeep.transports", "aiohttp.client", "httpx"])
def test_third_party_loggers_are_redacted(captured: io.StringIO, name: str) -> None:
    logging.getLogger(name).warning(
        "request %s failed for %s (%s) auth=%s acct %s", WEBHOOK, EMAIL, PHONE, TOKEN, ACCOUNT
    )
    _assert_clean(captured.getvalue())


def test_exception_tracebacks_are_redacted(captured: io.StringIO) -> None:
    try:
        raise ConnectionError(f"Cannot connect to {WEBHOOK} for {EMAIL}")
    except ConnectionError:
        logging.getLogger("aiohttp.client").exception("boom")
    output = captured.getvalue()
    _assert_clean(output)
    assert "ConnectionError" in output


def test_library_loggers_held_at_warning_by_default() -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream)
    logging.getLogger("fast_bitrix24").info("Starting call(args) with %s", EMAIL)
    assert stream.getvalue() == ""


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("8 916 123 45 67", "916 123"),
        ("+79161234567", "9161234567"),
        ("Basic 0JjQstCw0L3QvtCyOnBhc3M=", "0JjQstCw0L3QvtCyOnBhc3M="),
        ("https://user:pa55word@srv-1c/zup/ws", "pa55word"),
        ("refresh_token=abcdef123456&x=1", "abcdef123456"),
        ("card 4276 3800 1234 5678", "1234 5678"),
    ],
)
def test_redact_text_patterns(text: str, hidden: str) -> None:
    assert hidden not in redact_text(text)


def test_codes_and_counts_stay_readable() -> None:
    assert redact_text("error_code=QUERY_LIMIT_EXCEEDED users=1500 run 42") == (
        "error_code=QUERY_LIMIT_EXCEEDED users=1500 run 42"
    )
