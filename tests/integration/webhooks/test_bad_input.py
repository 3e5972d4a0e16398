"""Issue 8 item 3: the bodies that answered 500 answer 400, naming the field (and never echoing a value)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from sandbox.bitrix24.testing import RunningSandbox
from tests.integration.webhooks.conftest import FORM, install_body


@pytest.mark.parametrize(
    ("expires_in", "shown"),
    [
        ("soon", "auth[expires_in]"),
        ("-3600", "auth[expires_in]"),
        ("0", "auth[expires_in]"),
        ("9" * 40, "auth[expires_in]"),
        ("3600.5", "auth[expires_in]"),
        ({"x": "1"}, "auth[expires_in]"),
        (["1"], "auth[expires_in]"),
    ],
)
async def test_install_with_a_bad_expires_in_is_a_400(
    client: httpx.AsyncClient, portal: RunningSandbox, expires_in: Any, shown: str
) -> None:
    auth = {**portal.knobs.install()["auth"], "expires_in": expires_in}
    response = await client.post("/bitrix24/install", content=install_body(auth), headers=FORM)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "bad_body" and shown in response.json()["detail"]
    assert auth["access_token"] not in response.text


@pytest.mark.parametrize(
    ("fields", "shown"),
    [
        ({"data[FIELDS]": "x"}, "data[FIELDS]"),
        ({"data[FIELDS][]": "x"}, "data[FIELDS]"),
        ({"data[FIELDS][ID]": "x"}, "data[FIELDS]"),
        ({"data[ID]": "abc"}, "data[ID]"),
        ({"data[ID][x]": "1"}, "data[ID]"),
        ({"ts": "yesterday"}, "ts"),
        ({"event[]": "ONUSERADD"}, "event"),
        ({"auth[application_token][x]": "1"}, "auth[application_token]"),
        ({"surprise": "1"}, "surprise"),
    ],
)
async def test_an_event_with_a_bad_field_is_a_400(
    client: httpx.AsyncClient, fields: dict[str, str], shown: str
) -> None:
    body = urlencode({"event": "ONUSERADD", "auth[application_token]": "t" * 32, **fields})
    response = await client.post("/bitrix24/events", content=body, headers=FORM)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "bad_body" and shown in response.json()["detail"]
