"""Answers to REST-activity call-outs: ``bizproc.event.send`` queued in the outbox (bitrix24-rest.md §5.13).

A subscribed activity waits until the bridge sends its ``EVENT_TOKEN`` back with ``RETURN_VALUES`` (only the
keys the activity declared: Bitrix24 ignores others silently, so sending them would hide a typo) and a
``LOG_MESSAGE``. The row's dedup key comes from the token, so one call-out is answered once however often
its answer is queued. Answers that wait for 1C (submit, the certificate) keep the token in the request's
``data["waiting"]`` until the outbox worker or the Bitrix24 sender has what they need.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from processes import activities
from processes.catalog import Catalog
from processes.engine import AWAITING, employee_message
from store.models import ProcessInstance
from store.uow import UnitOfWork

B24 = "bitrix24"
EVENT_SEND = "bizproc.event.send"
_RETURN_KEYS = {a.code: frozenset(a.return_properties) for a in activities.ALL}


def queue_answer(uow: UnitOfWork, code: str, token: str, values: Mapping[str, Any], log_message: str) -> bool:
    """Queue ``bizproc.event.send`` for one call-out: the activity's declared return keys only."""
    declared = _RETURN_KEYS.get(code, frozenset())
    payload = {
        "EVENT_TOKEN": token,
        "RETURN_VALUES": {k: v for k, v in values.items() if k in declared},
        "LOG_MESSAGE": log_message[:1000],
    }
    key = f"{B24}:{EVENT_SEND}:{hashlib.sha256(token.encode()).hexdigest()[:40]}"
    return uow.outbox.add(B24, EVENT_SEND, key, payload)


def answer_submit(uow: UnitOfWork, catalog: Catalog, instance: ProcessInstance) -> bool:
    """Answer a waiting submit call-out if 1C has decided; False while the request waits for 1C."""
    token = (instance.data.get("waiting") or {}).get("submit")
    if not token or instance.state in ("approved", "received") or instance.state.startswith(AWAITING):
        return False
    entry = catalog.entry(instance.kind)
    history = uow.processes.history(instance.request_id)
    accepted = instance.state in ("submitted", "done")
    number = next(
        (str(r.data.get("doc_number") or "") for r in reversed(history) if r.to_state == "submitted"), ""
    )
    message = (employee_message(entry, history[-1]) if history else None) or ""
    values = {"Accepted": "Y" if accepted else "N", "DocNumber": number, "Message": message}
    return queue_answer(uow, activities.SUBMIT.code, token, values, f"1C: {instance.state}")


def answer_document(uow: UnitOfWork, catalog: Catalog, instance: ProcessInstance) -> bool:
    """Answer a waiting fetch-document call-out once the file is in Drive (or 1C will not make it)."""
    token = (instance.data.get("waiting") or {}).get("document")
    if not token:
        return False
    entry = catalog.entry(instance.kind)
    file_url = instance.data.get("drive_file_url")
    if instance.state == "done" and file_url:
        values = {"Ready": "Y", "FileUrl": file_url, "Message": f"{entry.messages['done']} {file_url}"}
    elif instance.state in ("rejected", "cancelled", "failed"):
        history = uow.processes.history(instance.request_id)
        values = {"Ready": "N", "Message": (employee_message(entry, history[-1]) if history else None) or ""}
    else:
        return False
    return queue_answer(uow, activities.FETCH_DOCUMENT.code, token, values, f"document: {instance.state}")
