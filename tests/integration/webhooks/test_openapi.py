"""Issue 8 item 6: the OpenAPI document is the admin's, describes the Bitrix24 form bodies and every status
the routes answer, and schemathesis (every check, over loopback) finds no response that violates it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from config.wiring import Store
from core.clock import utcnow
from processes.catalog import default_catalog
from processes.engine import Event
from sandbox.bitrix24.testing import RunningSandbox
from store.uow import UnitOfWork
from tests.fuzzing import EXAMPLES
from tests.integration.webhooks.conftest import ADMIN, FORM, ServedBridge, install_body
from tests.integration.webhooks.harness import run_schemathesis

AUTH = {"Authorization": f"Bearer {ADMIN}"}
SEEDED = "schemathesis-request-1"


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
    admin = {"401", "413", "503"}
    for path, method, statuses in (
        ("/admin/processes", "get", {"200", "422", *admin}),
        ("/admin/processes/stalled", "get", {"200", "422", *admin}),
        ("/admin/processes/{request_id}", "get", {"200", "404", "422", *admin}),
        ("/admin/processes/{request_id}/retry", "post", {"200", "404", "409", "422", *admin}),
        ("/admin/processes/{request_id}/cancel", "post", {"200", "202", "400", "404", "409", "422", *admin}),
        ("/admin/outbox/{message_id}/retry", "post", {"200", "404", "409", "422", *admin}),
        ("/healthz", "get", {"200"}),
        ("/readyz", "get", {"200", "503"}),
        ("/metrics", "get", {"200"}),
    ):
        assert set(document["paths"][path][method]["responses"]) == statuses, path
    assert "text/plain" in document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert "/health" not in document["paths"]  # the old name of /healthz, kept out of the document
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "/admin/openapi.json" not in document["paths"]


def _seed_request(store: Store) -> None:
    """The request schemathesis.toml names, awaiting its first approval, with a dead-lettered delivery
    (outbox row 1): the admin process operations then answer 200 and 409, not only 404."""
    entry = default_catalog().entry("leave")
    with UnitOfWork(store.sessions) as uow:
        uow.processes.open(
            entry, request_id=SEEDED, event=Event("receive", "employee:7"), at=utcnow(), site_ref="d-1"
        )
        uow.processes.apply(entry, SEEDED, Event("validated", "bridge"), utcnow())
        uow.outbox.add("bitrix24", "im.notify", f"bitrix24:im.notify:{SEEDED}:1", {"request_id": SEEDED})
    with UnitOfWork(store.sessions) as uow:
        [row] = uow.outbox.claim("bitrix24", lease=timedelta(minutes=5))
        assert row.id == 1 and uow.outbox.dead_letter(row, "Bitrix24TerminalError")


def test_schemathesis_finds_no_violation(served: ServedBridge, portal: RunningSandbox, store: Store) -> None:
    _seed_request(store)
    installed = portal.knobs.install()["auth"]
    assert (
        served.http.post("/bitrix24/install", content=install_body(installed), headers=FORM).status_code
        == 200
    )
    run = run_schemathesis(served.url, max_examples=max(EXAMPLES // 5, 20), seed=20261201)
    assert run.returncode == 0, run.output[-6000:]
    assert run.failures == 0 and run.cases >= 100, run.output[-2000:]
