"""Issue 8 item 6: the OpenAPI document is the admin's, describes the Bitrix24 form bodies and every status
the routes answer, and schemathesis (every check, over loopback) finds no response that violates it."""

from __future__ import annotations

from typing import Any

import httpx

from sandbox.bitrix24.testing import RunningSandbox
from tests.fuzzing import EXAMPLES
from tests.integration.webhooks.conftest import ADMIN, FORM, ServedBridge, install_body
from tests.integration.webhooks.harness import run_schemathesis

AUTH = {"Authorization": f"Bearer {ADMIN}"}


async def test_the_document_describes_the_bitrix24_bodies_and_statuses(client: httpx.AsyncClient) -> None:
    document: dict[str, Any] = (await client.get("/admin/openapi.json", headers=AUTH)).json()
    for path, required, statuses in (
        ("/bitrix24/events", {"event"}, {"200", "400", "401", "403", "413", "422", "503"}),
        (
            "/bitrix24/install",
            {"event", "auth[access_token]", "auth[application_token]", "auth[member_id]", "auth[domain]"},
            {"200", "400", "403", "413", "503"},
        ),
    ):
        operation = document["paths"][path]["post"]
        form = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
        assert required <= set(form["required"])
        assert {"auth[application_token]", "auth[expires_in]", "data[ID]", "data[FIELDS][ID]"} <= set(
            form["properties"]
        )
        assert form["additionalProperties"] is False and form["patternProperties"]
        assert set(operation["responses"]) == statuses
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "/admin/openapi.json" not in document["paths"]


def test_schemathesis_finds_no_violation(served: ServedBridge, portal: RunningSandbox) -> None:
    installed = portal.knobs.install()["auth"]
    assert (
        served.http.post("/bitrix24/install", content=install_body(installed), headers=FORM).status_code
        == 200
    )
    run = run_schemathesis(served.url, max_examples=max(EXAMPLES // 5, 20), seed=20261201)
    assert run.returncode == 0, run.output[-6000:]
    assert run.failures == 0 and run.cases >= 100, run.output[-2000:]
