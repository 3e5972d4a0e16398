"""WithdrawRequest through zeep (strict) on both ports against the sandbox: a request in review is
withdrawn (Отозвано), registered in the feed and no longer decided by HR; a repeat is AlreadyWithdrawn; a
decided leave with its absence is TooLate; an unknown id is NotFound."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
import requests
import zeep
import zeep.transports

from connectors.onec.contract import NAMESPACE, WSDL_PATH
from sandbox.onec.testing import RunningSandbox

from .test_onec_writes import active_employee


def _service(sandbox: RunningSandbox, binding: str) -> Any:
    session = requests.Session()
    session.auth = (sandbox.user.encode(), sandbox.password.encode())  # type: ignore[assignment]
    client_cls: Any = zeep.Client
    transport_cls: Any = zeep.transports.Transport
    client = client_cls(str(WSDL_PATH), transport=transport_cls(session=session))
    return client.create_service(f"{{{NAMESPACE}}}{binding}", sandbox.endpoint)


def _leave(svc: Any, emp: dict[str, Any], day: int) -> str:
    rid = str(uuid.uuid4())
    result = svc.SubmitRequest(
        rid, "Leave", emp["person_ref"], emp["ref"], datetime(2026, 5, day), datetime(2026, 5, day + 4),
        None, None, None,
    )  # fmt: skip
    assert result.status == "Created"
    return rid


@pytest.mark.parametrize("binding", ["ExtranetBridgeSoapBinding", "ExtranetBridgeSoap12Binding"])
def test_withdraw_request(sandbox: RunningSandbox, binding: str) -> None:
    svc = _service(sandbox, binding)
    emp = active_employee(sandbox)
    feed = svc.GetChanges(0, 100)
    rid = _leave(svc, emp, 4)
    withdrawn = svc.WithdrawRequest(rid, "Сотрудник передумал")
    assert (withdrawn.requestId, withdrawn.status, withdrawn.errors) == (rid, "Withdrawn", None)
    again = svc.WithdrawRequest(rid, "Сотрудник передумал")
    assert again.status == "AlreadyWithdrawn"
    batch = svc.GetChanges(feed.messageNo, 100)
    statuses = [i.payload.request.status for i in batch["items"]["item"] if i.entity == "Request"]
    assert statuses == ["Withdrawn"]  # the document, registered once (created then withdrawn)
    assert svc.GetDocument(rid).status == "Withdrawn"
    sandbox.knobs.advance(seconds=3600)  # the review that was due decides nothing now
    assert svc.GetDocument(rid).status == "Withdrawn"
    [doc] = [r for r in sandbox.knobs.requests() if r["request_id"] == rid]
    assert doc["absence_ref"] is None and doc["reason"] == "Сотрудник передумал"

    decided = _leave(svc, emp, 18)
    sandbox.knobs.decide(decided)
    late = svc.WithdrawRequest(decided, None)
    assert late.status == "TooLate" and late.errors["item"][0].code == "TOO_LATE"
    assert "отмену отпуска" in late.errors["item"][0].message
    assert svc.GetDocument(decided).status == "Approved"

    unknown = svc.WithdrawRequest(str(uuid.uuid4()), None)
    assert unknown.status == "NotFound" and unknown.errors["item"][0].code == "NOT_FOUND"
