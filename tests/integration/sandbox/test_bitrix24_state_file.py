"""The Bitrix24 sandbox keeps lists, workflows and Drive files in its ``--state-file`` across restarts."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx

from sandbox.bitrix24 import bizproc_engine as engine
from sandbox.bitrix24.methods import disk
from sandbox.bitrix24.testing import run_sandbox

P = "bitrix_processes"


def _ok(url: str, method: str, body: dict[str, Any]) -> Any:
    response = httpx.post(f"{url}{method}.json", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["result"]


def test_lists_workflows_and_files_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "portal.json"
    pdf = b"%PDF-1.4 kept"
    with run_sandbox(state_file=path) as sb:
        hook = sb.webhook_url
        iblock = int(
            _ok(hook, "lists.add", {"IBLOCK_TYPE_ID": P, "IBLOCK_CODE": "leave", "FIELDS": {"NAME": "L"}})
        )
        engine.install_template(
            sb.sandbox.portal,
            name="Approve",
            steps=[{"type": "approve", "name": "A1", "title": "Approve", "users": "user_1"}],
            auto_execute=engine.ON_CREATE,
            document_type=["lists", "BizprocDocument", f"iblock_{iblock}"],
        )
        element = {
            "IBLOCK_TYPE_ID": P,
            "IBLOCK_ID": iblock,
            "ELEMENT_CODE": "e1",
            "FIELDS": {"NAME": "Leave"},
        }
        element_id = int(_ok(hook, "lists.element.add", element))
        tasks = _ok(hook, "bizproc.task.list", {"SELECT": ["ID", "WORKFLOW_ID"]})
        assert len(tasks) == 1
        storage = _ok(hook, "disk.storage.getlist", {"filter": {"ENTITY_TYPE": "user", "ENTITY_ID": 1}})[0]
        upload = {
            "id": storage["ROOT_OBJECT_ID"],
            "data": {"NAME": "kept.pdf"},
            "fileContent": ["kept.pdf", base64.b64encode(pdf).decode()],
        }
        file_id = int(_ok(hook, "disk.folder.uploadfile", upload)["ID"])
    with run_sandbox(state_file=path) as sb:
        hook = sb.webhook_url
        assert [row["ID"] for row in _ok(hook, "lists.get", {"IBLOCK_TYPE_ID": P})] == [str(iblock)]
        rows = _ok(hook, "lists.element.get", {"IBLOCK_TYPE_ID": P, "IBLOCK_ID": iblock})
        assert [row["ID"] for row in rows] == [str(element_id)]
        assert _ok(hook, "bizproc.task.list", {"SELECT": ["ID", "WORKFLOW_ID"]}) == tasks
        assert disk.read_file(sb.sandbox.portal, file_id) == ("kept.pdf", pdf)
        # the restored workflow still runs: completing its task finishes it
        done = _ok(hook, "bizproc.task.complete", {"TASK_ID": tasks[0]["ID"], "STATUS": 1})
        assert done is True
