"""Setup methods the sandbox gained for install: ``bizproc.workflow.template.update``
(bizproc-workflow-template-update.md: the calling application's templates only; NAME, DESCRIPTION,
AUTO_EXECUTE, TEMPLATE_DATA change, other keys are ignored) and ``lists.update`` (lists-update.md)."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from processes import bpt
from processes.catalog import default_catalog
from sandbox.bitrix24 import bizproc_engine as engine
from sandbox.bitrix24.testing import RunningSandbox, run_sandbox

CATALOG = default_catalog()


@pytest.fixture
def b24() -> Iterator[RunningSandbox]:
    with run_sandbox(rate=1000, burst=1000) as running:
        yield running


def test_template_update(b24: RunningSandbox) -> None:
    token = b24.knobs.install()["auth"]["access_token"]
    client_id = b24.knobs.app()["client_id"]

    def app(method: str, body: dict[str, object]) -> httpx.Response:
        return httpx.post(f"{b24.base_url}/rest/{method}.json", json={**body, "auth": token})

    def data(code: str) -> list[str]:
        return [f"{code}.bpt", base64.b64encode(bpt.build(CATALOG.entry(code), client_id)).decode()]

    added = app(
        "bizproc.workflow.template.add",
        {
            "DOCUMENT_TYPE": ["lists", "BizprocDocument", "iblock_1"],
            "NAME": "A",
            "TEMPLATE_DATA": data("work_book"),
        },
    )
    assert added.status_code == 200, added.text
    template_id = int(added.json()["result"])
    before = engine.state(b24.sandbox.portal).templates[template_id]
    steps_before = list(before.steps)

    fields = {
        "NAME": "B",
        "DESCRIPTION": "d",
        "AUTO_EXECUTE": 1,
        "TEMPLATE_DATA": data("leave"),
        "USER_ID": 7,
    }
    updated = app("bizproc.workflow.template.update", {"ID": template_id, "FIELDS": fields})
    assert updated.status_code == 200 and updated.json()["result"] is True, updated.text
    after = engine.state(b24.sandbox.portal).templates[template_id]
    assert (after.name, after.description, after.auto_execute, after.user_id) == ("B", "d", 1, before.user_id)
    assert after.steps != steps_before

    missing = app("bizproc.workflow.template.update", {"ID": 999, "FIELDS": {"NAME": "x"}})
    assert missing.json()["error_description"] == "Workflow template not found."
    empty = app("bizproc.workflow.template.update", {"ID": template_id, "FIELDS": {}})
    assert empty.json()["error"] == "ERROR_TEMPLATE_VALIDATION_FAILURE"
    broken = app(
        "bizproc.workflow.template.update", {"ID": template_id, "FIELDS": {"TEMPLATE_DATA": ["x", "!!"]}}
    )
    assert broken.json()["error_description"] == "Incorrect field TEMPLATE_DATA!"
    hook = httpx.post(
        f"{b24.webhook_url}bizproc.workflow.template.update.json",
        json={"ID": template_id, "FIELDS": {"NAME": "C"}},
    )
    assert hook.status_code == 403  # application context only (§9.1)
    assert engine.state(b24.sandbox.portal).templates[template_id].name == "B"


def test_lists_update(b24: RunningSandbox) -> None:
    def call(method: str, body: dict[str, object]) -> httpx.Response:
        return httpx.post(
            f"{b24.webhook_url}{method}.json", json={"IBLOCK_TYPE_ID": "bitrix_processes", **body}
        )

    made = call(
        "lists.add", {"IBLOCK_CODE": "eb_x", "FIELDS": {"NAME": "X", "DESCRIPTION": "old", "SORT": 10}}
    )
    assert made.status_code == 200, made.text
    updated = call("lists.update", {"IBLOCK_CODE": "eb_x", "FIELDS": {"NAME": "Y"}})
    assert updated.status_code == 200 and updated.json()["result"] is True, updated.text
    row = call("lists.get", {"IBLOCK_CODE": "eb_x"}).json()["result"][0]
    assert (row["NAME"], row["DESCRIPTION"], row["SORT"]) == ("Y", "", "500")  # fields left out are reset
    no_name = call("lists.update", {"IBLOCK_CODE": "eb_x", "FIELDS": {"DESCRIPTION": "d"}})
    assert no_name.json()["error"] == "ERROR_REQUIRED_PARAMETERS_MISSING"
    unknown = call("lists.update", {"IBLOCK_CODE": "nope", "FIELDS": {"NAME": "Z"}})
    assert unknown.json()["error"] == "ERROR_IBLOCK_NOT_FOUND"
