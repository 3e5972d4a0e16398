"""Errors the table does not know: retried a little, then parked as FAIL and logged "unmapped".

The sandbox only speaks documented errors, so a tiny HTTP server on loopback plays a portal that invents
a new one (an answer the bridge must still survive)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.bitrix24.budget import MemoryBudget
from connectors.bitrix24.errors import Action, Bitrix24TerminalError
from connectors.bitrix24.gateway import Bitrix24Gateway
from connectors.bitrix24.port import Call
from sandbox.server import serve_in_thread
from tests.integration.bitrix24.conftest import FAST_RETRY

hits: list[str] = []


async def rest(request: Request) -> JSONResponse:
    method = request.path_params["method"]
    hits.append(method)
    if method == "batch":
        body = {
            "result": {
                "result": {"a": True},
                "result_error": {"b": {"error": "BRAND_NEW_BATCH_ERROR", "error_description": "?"}},
                "result_total": [],
                "result_next": [],
                "result_time": [],
            },
            "time": {
                "start": 0,
                "finish": 0,
                "duration": 0,
                "processing": 0,
                "date_start": "",
                "date_finish": "",
            },
        }
        return JSONResponse(body)
    return JSONResponse({"error": "BRAND_NEW_ERROR", "error_description": "what is this"}, status_code=409)


@pytest.fixture
def odd_portal() -> Iterator[str]:
    hits.clear()
    app = Starlette(routes=[Route("/rest/1/code/{method}", rest, methods=["POST"])])
    with serve_in_thread(app) as url:
        yield url + "/rest/1/code/"


async def test_unmapped_error_is_retried_then_parked(
    odd_portal: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        async with Bitrix24Gateway(odd_portal, budget=MemoryBudget(100, 100), retry=FAST_RETRY) as gateway:
            with pytest.raises(Bitrix24TerminalError) as caught:
                await gateway.call("user.current")
    assert caught.value.action is Action.FAIL and not caught.value.resolution.mapped
    assert "parked" in caught.value.operator_message
    assert hits == ["user.current"] * FAST_RETRY.unmapped_attempts
    assert "unmapped" in caplog.text


async def test_unmapped_batch_entry_is_an_outcome_not_a_raise(odd_portal: str) -> None:
    async with Bitrix24Gateway(odd_portal, budget=MemoryBudget(100, 100), retry=FAST_RETRY) as gateway:
        outcomes = await gateway.batch([Call("user.update", label="a"), Call("user.update", label="b")])
    assert outcomes[0].ok and outcomes[0].result is True
    assert outcomes[1].error is not None and outcomes[1].label == "b"
    assert hits == ["batch"]
