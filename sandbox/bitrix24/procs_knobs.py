"""Sandbox-only knobs for the process families, under ``/_sandbox/`` (never part of the REST surface).

Owns: installing a business-process template over HTTP (what an admin does in the designer), reading
workflows, tasks, notifications and uploaded files, and firing due time-outs. The core mounts
``procs_knob_routes()`` with the other ``*_knobs.py`` modules (knobs.extension_routes).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.bitrix24 import bizproc_engine as engine
from sandbox.bitrix24.methods import disk, im
from sandbox.bitrix24.procs_common import as_int, iso, lock


def _portal(request: Request) -> Any:
    return request.app.state.sandbox.portal


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    data = json.loads(raw) if raw.strip() else {}
    return data if isinstance(data, dict) else {}


async def k_install_template(request: Request) -> Response:
    """POST ``{name, document_type, steps, auto_execute?, parameters?, constants?}`` → ``{id}``."""
    body = await _body(request)
    try:
        template_id = engine.install_template(
            _portal(request),
            name=str(body.get("name") or "Template"),
            document_type=list(body.get("document_type") or []),
            steps=list(body.get("steps") or []),
            auto_execute=int(body.get("auto_execute") or 0),
            description=str(body.get("description") or ""),
            parameters=body.get("parameters"),
            constants=body.get("constants"),
        )
    except (ValueError, TypeError) as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse({"id": template_id})


async def k_workflows(request: Request) -> Response:
    portal = _portal(request)
    with lock(portal):
        engine.tick(portal)
        rows = [
            {
                "id": w.id,
                "template_id": w.template_id,
                "document_id": w.document_id,
                "state": w.state,
                "status": w.status_text,
                "waiting": (w.waiting or {}).get("kind"),
                "started": iso(w.started),
                "outputs": w.outputs,
                "log": w.log,
            }
            for w in engine.state(portal).workflows.values()
        ]
    return JSONResponse({"workflows": rows})


async def k_tasks(request: Request) -> Response:
    portal = _portal(request)
    with lock(portal):
        rows = [
            {
                "id": t.id,
                "workflow_id": t.workflow_id,
                "name": t.name,
                "status": t.status,
                "users": {str(k): v for k, v in t.users.items()},
                "comments": t.comments,
            }
            for t in engine.state(portal).tasks.values()
        ]
    return JSONResponse({"tasks": rows})


async def k_notifications(request: Request) -> Response:
    user = request.query_params.get("user_id")
    rows = im.notifications(_portal(request), as_int(user) if user else None)
    return JSONResponse({"notifications": rows})


async def k_file(request: Request) -> Response:
    found = disk.read_file(_portal(request), int(request.path_params["file_id"]))
    if found is None:
        return JSONResponse({"error": "not found"}, status_code=404)
    name, content = found
    return JSONResponse({"name": name, "content": base64.b64encode(content).decode()})


async def k_tick(request: Request) -> Response:
    portal = _portal(request)
    with lock(portal):
        engine.tick(portal)
    request.app.state.sandbox.portal.outbox.kick()
    return JSONResponse({"ok": True})


def procs_knob_routes() -> list[Route]:
    return [
        Route("/_sandbox/bizproc/templates", k_install_template, methods=["POST"]),
        Route("/_sandbox/bizproc/workflows", k_workflows, methods=["GET"]),
        Route("/_sandbox/bizproc/tasks", k_tasks, methods=["GET"]),
        Route("/_sandbox/bizproc/tick", k_tick, methods=["POST"]),
        Route("/_sandbox/im/notifications", k_notifications, methods=["GET"]),
        Route("/_sandbox/disk/files/{file_id:int}", k_file, methods=["GET"]),
    ]
