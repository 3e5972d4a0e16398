"""The factory's SMS paths over real HTTP: a loopback sink that speaks SMS.ru's form API and a generic
JSON gateway, served with sandbox.server.serve_in_thread."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from config.settings import Settings
from connectors.messaging import MessagingConfigError, RecipientInvalid, RetryPolicy, build_messaging
from sandbox.server import serve_in_thread

FAST = RetryPolicy(attempts=2, initial_delay=0)


def sink_app(received: list[dict[str, Any]]) -> FastAPI:
    app = FastAPI()

    @app.post("/sms/send")
    async def smsru(request: Request) -> JSONResponse:
        form = dict(await request.form())
        received.append({"kind": "smsru", **form})
        if form.get("api_id") != "good-key":
            return JSONResponse({"status": "ERROR", "status_code": 200, "status_text": "Неправильный api_id"})
        number = str(form["to"])
        if number.endswith("0000"):
            entry = {"status": "ERROR", "status_code": 207, "status_text": "Нельзя отправлять"}
        else:
            entry = {"status": "OK", "status_code": 100, "sms_id": f"id-{len(received)}"}
        return JSONResponse({"status": "OK", "status_code": 100, "sms": {number: entry}, "balance": 1.5})

    @app.post("/gateway")
    async def generic(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != "Bearer gw-token":
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        received.append({"kind": "http", **(await request.json())})
        return JSONResponse({"message_id": "gw-1"}, status_code=201)

    return app


@pytest.fixture
def sink() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    with serve_in_thread(sink_app(received)) as base_url:
        yield base_url, received


def settings(sms: dict[str, Any]) -> Settings:
    return Settings(messaging={"sms": sms})


async def test_smsru_through_the_factory(sink: tuple[str, list[dict[str, Any]]]) -> None:
    base_url, received = sink
    port = build_messaging(
        settings({"provider": "smsru", "api_key": "good-key", "url": base_url, "sender": "Portal"}),
        retry=FAST,
    )
    try:
        delivery = await port.send_sms("8 916 123-45-67", "Вас пригласили на портал")
        with pytest.raises(RecipientInvalid) as caught:
            await port.send_sms("+7 916 123-00-00", "Вас пригласили на портал")
    finally:
        await port.close()
    assert (delivery.channel, delivery.status, delivery.message_id) == ("sms", "queued", "id-1")
    assert caught.value.code == "smsru_207"
    assert received[0] == {
        "kind": "smsru",
        "api_id": "good-key",
        "to": "79161234567",
        "msg": "Вас пригласили на портал",
        "json": "1",
        "from": "Portal",
    }


async def test_smsru_wrong_key_through_the_factory(sink: tuple[str, list[dict[str, Any]]]) -> None:
    base_url, received = sink
    port = build_messaging(settings({"provider": "smsru", "api_key": "bad", "url": base_url}), retry=FAST)
    try:
        with pytest.raises(MessagingConfigError) as caught:
            await port.send_sms("+79161234567", "Текст")
    finally:
        await port.close()
    assert caught.value.code == "smsru_200"
    assert len(received) == 1  # a config error is not retried


async def test_generic_gateway_through_the_factory(sink: tuple[str, list[dict[str, Any]]]) -> None:
    base_url, received = sink
    port = build_messaging(
        settings({"provider": "http", "url": f"{base_url}/gateway", "api_key": "gw-token", "sender": "HR"}),
        retry=FAST,
    )
    try:
        delivery = await port.send_sms("+7 (916) 123-45-67", "Текст")
    finally:
        await port.close()
    assert (delivery.status, delivery.message_id) == ("sent", "gw-1")
    assert received == [{"kind": "http", "to": "+79161234567", "text": "Текст", "sender": "HR"}]


async def test_generic_gateway_wrong_token(sink: tuple[str, list[dict[str, Any]]]) -> None:
    base_url, received = sink
    port = build_messaging(
        settings({"provider": "http", "url": f"{base_url}/gateway", "api_key": "nope"}), retry=FAST
    )
    try:
        with pytest.raises(MessagingConfigError) as caught:
            await port.send_sms("+79161234567", "Текст")
    finally:
        await port.close()
    assert caught.value.code == "gateway_http_401"
    assert received == []


@pytest.mark.parametrize(
    ("sms", "code"),
    [({"provider": "smsru"}, "no_api_key"), ({"provider": "http", "url": ""}, "no_url")],
)
def test_half_configured_provider_fails_at_build(sms: dict[str, Any], code: str) -> None:
    with pytest.raises(MessagingConfigError) as caught:
        build_messaging(settings(sms))
    assert caught.value.code == code
