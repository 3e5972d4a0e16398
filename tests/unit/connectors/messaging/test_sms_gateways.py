"""SMS.ru and the generic HTTP gateway at the httpx level (respx): success, per-number and request-level
errors, credentials, 5xx retried, timeouts, and what is (not) logged."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from pydantic import SecretStr

from connectors.errors import ConfigError, Terminal, Transient
from connectors.messaging import (
    InvalidPhone,
    MessageRejected,
    MessagingConfigError,
    MessagingFailure,
    MessagingUnavailable,
    RecipientInvalid,
    RetryPolicy,
    SendLimitReached,
)
from connectors.messaging.sms import SMSRU_CODES, HttpSmsGateway, SmsRuGateway, smsru_error
from tests.log_fields import record_text

SEND = "https://sms.ru/sms/send"
FAST = RetryPolicy(attempts=3, initial_delay=0)
PHONE = "8 (916) 123-45-67"
NUMBER = "79161234567"
TEXT = "Мария, вас пригласили на портал сотрудников. Вход: https://p.example.ru/i/1"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as http:
        yield http


def smsru(client: httpx.AsyncClient, **kwargs: object) -> SmsRuGateway:
    return SmsRuGateway(client, SecretStr("KEY-123"), sender="Portal", retry=FAST, **kwargs)  # type: ignore[arg-type]


def ok_body(number: str = NUMBER) -> dict[str, object]:
    return {
        "status": "OK",
        "status_code": 100,
        "sms": {number: {"status": "OK", "status_code": 100, "sms_id": "000000-10000001"}},
        "balance": 4122.56,
    }


def per_number_error(code: int) -> dict[str, object]:
    return {
        "status": "OK",
        "status_code": 100,
        "sms": {NUMBER: {"status": "ERROR", "status_code": code, "status_text": "..."}},
        "balance": 10,
    }


@respx.mock
async def test_smsru_success_posts_the_documented_form(client: httpx.AsyncClient) -> None:
    route = respx.post(SEND).respond(200, json=ok_body())
    delivery = await smsru(client).send(PHONE, TEXT)
    assert (delivery.channel, delivery.message_id, delivery.status) == ("sms", "000000-10000001", "queued")
    request = route.calls.last.request
    form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
    assert form == {"api_id": "KEY-123", "to": NUMBER, "msg": TEXT, "json": "1", "from": "Portal"}
    assert "KEY-123" not in str(request.url)  # the key travels in the body, not the URL


@respx.mock
async def test_smsru_test_mode_and_sandbox_url(client: httpx.AsyncClient) -> None:
    route = respx.post("http://127.0.0.1:9/sms/send").respond(200, json=ok_body())
    await smsru(client, base_url="http://127.0.0.1:9/", test=True).send(PHONE, TEXT)
    assert "test=1" in route.calls.last.request.content.decode()


@pytest.mark.parametrize(
    ("code", "error_type"),
    [
        (202, RecipientInvalid),
        (207, RecipientInvalid),
        (209, RecipientInvalid),
        (230, SendLimitReached),
        (231, SendLimitReached),
    ],
)
@respx.mock
async def test_smsru_per_number_errors(
    client: httpx.AsyncClient, code: int, error_type: type[MessagingFailure]
) -> None:
    route = respx.post(SEND).respond(200, json=per_number_error(code))
    with pytest.raises(error_type) as caught:
        await smsru(client).send(PHONE, TEXT)
    assert caught.value.code == f"smsru_{code}"
    assert route.call_count == 1  # neither terminal errors nor limits are retried in place


@pytest.mark.parametrize(
    ("code", "error_type"),
    [
        (200, MessagingConfigError),
        (301, MessagingConfigError),
        (204, MessagingConfigError),
        (201, MessageRejected),
    ],
)
@respx.mock
async def test_smsru_request_level_errors(
    client: httpx.AsyncClient, code: int, error_type: type[MessagingFailure]
) -> None:
    route = respx.post(SEND).respond(200, json={"status": "ERROR", "status_code": code, "status_text": "..."})
    with pytest.raises(error_type) as caught:
        await smsru(client).send(PHONE, TEXT)
    assert isinstance(caught.value, Terminal)
    assert route.call_count == 1


@respx.mock
async def test_smsru_auth_error_is_a_config_error(client: httpx.AsyncClient) -> None:
    respx.post(SEND).respond(
        200, json={"status": "ERROR", "status_code": 200, "status_text": "Неправильный api_id"}
    )
    with pytest.raises(ConfigError) as caught:
        await smsru(client).send(PHONE, TEXT)
    assert "api_id" in caught.value.operator_message
    assert "KEY-123" not in caught.value.operator_message


@respx.mock
async def test_smsru_5xx_is_retried_then_succeeds(client: httpx.AsyncClient) -> None:
    route = respx.post(SEND)
    route.side_effect = [
        httpx.Response(502, text="<html>bad gateway</html>"),
        httpx.Response(200, json=ok_body()),
    ]
    delivery = await smsru(client).send(PHONE, TEXT)
    assert delivery.message_id == "000000-10000001"
    assert route.call_count == 2


@respx.mock
async def test_smsru_service_unavailable_code_is_retried_until_the_limit(client: httpx.AsyncClient) -> None:
    route = respx.post(SEND).respond(200, json={"status": "ERROR", "status_code": 220})
    with pytest.raises(MessagingUnavailable) as caught:
        await smsru(client).send(PHONE, TEXT)
    assert isinstance(caught.value, Transient)
    assert route.call_count == FAST.attempts


@respx.mock
async def test_smsru_connect_timeout_is_retried(client: httpx.AsyncClient) -> None:
    route = respx.post(SEND)
    route.side_effect = [
        httpx.ConnectTimeout("slow"),
        httpx.ConnectError("refused"),
        httpx.Response(200, json=ok_body()),
    ]
    delivery = await smsru(client).send(PHONE, TEXT)
    assert delivery.status == "queued"
    assert route.call_count == 3


@respx.mock
async def test_smsru_connect_timeouts_exhaust_the_retries(client: httpx.AsyncClient) -> None:
    route = respx.post(SEND).mock(side_effect=httpx.ConnectTimeout("slow"))
    with pytest.raises(MessagingUnavailable) as caught:
        await smsru(client).send(PHONE, TEXT)
    assert (caught.value.code, caught.value.maybe_delivered) == ("smsru_timeout", False)
    assert route.call_count == 3


@respx.mock
async def test_smsru_read_timeout_is_not_resent(client: httpx.AsyncClient) -> None:
    route = respx.post(SEND).mock(side_effect=httpx.ReadTimeout("no answer"))
    with pytest.raises(MessagingUnavailable) as caught:
        await smsru(client).send(PHONE, TEXT)
    assert isinstance(caught.value, Transient)
    assert (caught.value.code, caught.value.maybe_delivered) == ("smsru_no_answer", True)
    assert route.call_count == 1  # the SMS may have gone out: a second try could send it twice


@respx.mock
async def test_smsru_garbage_body_is_transient(client: httpx.AsyncClient) -> None:
    respx.post(SEND).respond(200, text="100\n000000-10000001")
    with pytest.raises(MessagingUnavailable):
        await smsru(client).send(PHONE, TEXT)


@respx.mock
async def test_invalid_number_never_reaches_the_gateway(client: httpx.AsyncClient) -> None:
    route = respx.post(SEND).respond(200, json=ok_body())
    with pytest.raises(InvalidPhone) as caught:
        await smsru(client).send("+7 495 123-45-67", TEXT)
    assert caught.value.code == "not_mobile"
    assert route.call_count == 0


def test_every_documented_code_is_classified() -> None:
    assert all(isinstance(smsru_error(code), cls) for code, (cls, _) in SMSRU_CODES.items())
    assert isinstance(smsru_error(999), MessagingUnavailable)


def test_smsru_without_key_is_a_config_error() -> None:
    with pytest.raises(MessagingConfigError):
        SmsRuGateway(httpx.AsyncClient(), SecretStr(""))


@respx.mock
async def test_logs_carry_no_number_text_or_key(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    route = respx.post(SEND)
    route.side_effect = [httpx.Response(503), httpx.Response(200, json=ok_body())]
    with caplog.at_level(logging.DEBUG, logger="connectors"):
        await smsru(client).send(PHONE, TEXT)
    logged = "\n".join(record_text(record) for record in caplog.records)
    assert "messaging.retry" in logged and "sms.sent" in logged
    for secret in ("KEY-123", NUMBER, "916", "Мария"):
        assert secret not in logged


# --- the generic HTTP gateway ------------------------------------------------------------------

GATEWAY = "https://sms-gw.example.ru/api/send"


def generic(client: httpx.AsyncClient, token: str | None = "tok-1") -> HttpSmsGateway:
    return HttpSmsGateway(
        client, GATEWAY, token=SecretStr(token) if token else None, sender="Portal", retry=FAST
    )


@respx.mock
async def test_generic_gateway_posts_json_with_bearer(client: httpx.AsyncClient) -> None:
    route = respx.post(GATEWAY).respond(202, json={"id": 42})
    delivery = await generic(client).send(PHONE, TEXT)
    assert (delivery.message_id, delivery.status) == ("42", "sent")
    request = route.calls.last.request
    assert json.loads(request.content) == {"to": "+79161234567", "text": TEXT, "sender": "Portal"}
    assert request.headers["Authorization"] == "Bearer tok-1"


@respx.mock
async def test_generic_gateway_without_token_or_body(client: httpx.AsyncClient) -> None:
    route = respx.post(GATEWAY).respond(204)
    delivery = await generic(client, token=None).send(PHONE, TEXT)
    assert delivery.message_id == ""
    assert "Authorization" not in route.calls.last.request.headers


@pytest.mark.parametrize(
    ("status", "error_type", "calls"),
    [
        (401, MessagingConfigError, 1),
        (403, MessagingConfigError, 1),
        (404, MessagingConfigError, 1),
        (400, MessageRejected, 1),
        (422, MessageRejected, 1),
        (429, MessagingUnavailable, 3),
        (500, MessagingUnavailable, 3),
        (503, MessagingUnavailable, 3),
    ],
)
@respx.mock
async def test_generic_gateway_status_mapping(
    client: httpx.AsyncClient, status: int, error_type: type[MessagingFailure], calls: int
) -> None:
    route = respx.post(GATEWAY).respond(status, text="nope")
    with pytest.raises(error_type) as caught:
        await generic(client).send(PHONE, TEXT)
    assert caught.value.code == f"gateway_http_{status}"
    assert route.call_count == calls


@respx.mock
async def test_generic_gateway_connection_refused_is_transient(client: httpx.AsyncClient) -> None:
    respx.post(GATEWAY).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(MessagingUnavailable) as caught:
        await generic(client).send(PHONE, TEXT)
    assert caught.value.code == "gateway_unreachable"


@respx.mock
async def test_smsru_entry_under_another_key_is_still_read(client: httpx.AsyncClient) -> None:
    respx.post(SEND).respond(200, json=ok_body(number="+" + NUMBER))
    delivery = await smsru(client).send(PHONE, TEXT)
    assert delivery.message_id == "000000-10000001"


@respx.mock
async def test_smsru_without_an_entry_for_the_number_is_transient(client: httpx.AsyncClient) -> None:
    respx.post(SEND).respond(200, json={"status": "OK", "status_code": 100, "sms": {}})
    with pytest.raises(MessagingUnavailable) as caught:
        await smsru(client).send(PHONE, TEXT)
    assert caught.value.code == "smsru_body"
