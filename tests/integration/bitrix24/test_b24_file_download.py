"""``Bitrix24Gateway.download`` against the sandbox over loopback: the links of
``lists.element.get.file.url`` downloaded with the application's token, bounded, with clear errors."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest

from connectors.bitrix24.auth import MemoryVault, OAuthTokens, TokenPair
from connectors.bitrix24.errors import Action, Bitrix24ApiError
from connectors.bitrix24.gateway import Bitrix24Gateway
from sandbox.bitrix24.testing import RunningSandbox
from sandbox.server import free_port

SCAN = b"%PDF-1.4\n" + bytes(range(256)) * 40
P = "bitrix_processes"


def _element(sb: RunningSandbox) -> dict[str, Any]:
    """A list with a File property and an element holding one scan (as the admin)."""

    def ok(method: str, params: dict[str, Any]) -> Any:
        answer = httpx.post(f"{sb.webhook_url}{method}.json", json=params, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()["result"]

    iblock = ok("lists.add", {"IBLOCK_TYPE_ID": P, "IBLOCK_CODE": "bank", "FIELDS": {"NAME": "Bank"}})
    base = {"IBLOCK_TYPE_ID": P, "IBLOCK_ID": iblock}
    field = ok("lists.field.add", {**base, "FIELDS": {"NAME": "Scan", "TYPE": "F", "CODE": "SCAN"}})
    fields = {"NAME": "x", field: ["выписка.pdf", base64.b64encode(SCAN).decode()]}
    element = ok("lists.element.add", {**base, "ELEMENT_CODE": "e", "FIELDS": fields})
    return {**base, "ELEMENT_ID": element, "FIELD_ID": str(field).removeprefix("PROPERTY_")}


def _app(sb: RunningSandbox, make_gateway: Callable[..., Bitrix24Gateway], url: str = "") -> Bitrix24Gateway:
    auth = sb.knobs.install()["auth"]
    app = sb.knobs.app()
    pair = TokenPair(auth["access_token"], auth["refresh_token"], auth["member_id"], auth["domain"])
    tokens = OAuthTokens(
        MemoryVault(pair),
        oauth_server=sb.base_url,
        client_id=app["client_id"],
        client_secret=app["client_secret"],
    )
    return make_gateway(url or sb.base_url + "/rest/", tokens=tokens, max_file_bytes=len(SCAN))


async def test_download_of_a_list_file(
    sb: RunningSandbox, make_gateway: Callable[..., Bitrix24Gateway], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    where = _element(sb)
    async with _app(sb, make_gateway) as gateway:
        [link] = await gateway.call("lists.element.get.file.url", where)
        got = await gateway.download(link, fallback_name="scan")
        assert (got.name, got.mime, got.content) == ("выписка.pdf", "application/pdf", SCAN)
        # Over the limit: refused, not retried, nothing partial returned.
        with pytest.raises(Bitrix24ApiError) as too_large:
            await gateway.download(link, fallback_name="scan", max_bytes=len(SCAN) - 1)
        assert too_large.value.code == "FILE_TOO_LARGE" and too_large.value.action is Action.FAIL
        assert not too_large.value.transient
        # A file the property does not hold: 404, not retried.
        with pytest.raises(Bitrix24ApiError) as gone:
            await gateway.download(link.replace("/?", "9/?"), fallback_name="scan")
        assert gone.value.code == "FILE_NOT_FOUND" and not gone.value.transient
        # A link to another host never gets the token.
        with pytest.raises(Bitrix24ApiError) as foreign:
            await gateway.download("https://evil.example/x", fallback_name="scan")
        assert foreign.value.code == "FOREIGN_LINK"
        # A token the portal no longer takes: its login page, one refresh, then the file.
        assert gateway.tokens is not None
        vault = gateway.tokens.vault
        assert isinstance(vault, MemoryVault) and vault.pair is not None
        vault.pair = replace(vault.pair, access_token="revoked")
        gateway.tokens._pair = None
        assert (await gateway.download(link, fallback_name="scan")).content == SCAN
        assert gateway.counters.token_refreshes == 1
        token = vault.pair.access_token
    assert token not in caplog.text and "/company/lists/" not in caplog.text


async def test_download_needs_the_application_and_retries_a_dead_portal(
    sb: RunningSandbox, make_gateway: Callable[..., Bitrix24Gateway]
) -> None:
    async with make_gateway(sb.webhook_url) as hooked:
        with pytest.raises(Bitrix24ApiError) as refused:
            await hooked.download("/company/lists/1/file/0/1/PROPERTY_1/1/", fallback_name="x")
        assert refused.value.code == "NO_APP_TOKEN" and refused.value.action is Action.FAIL_CONFIG
    dead = f"http://127.0.0.1:{free_port()}/rest/"
    async with _app(sb, make_gateway, dead) as gateway:
        with pytest.raises(Bitrix24ApiError) as down:
            await gateway.download("/company/lists/1/file/0/1/PROPERTY_1/1/", fallback_name="x")
        assert down.value.action is Action.RETRY and down.value.transient
        assert gateway.counters.retries >= gateway.retry.attempts - 1  # retried like a REST call, then raised
