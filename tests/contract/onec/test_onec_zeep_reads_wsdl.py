"""The shipped WSDL and the sandbox agree: zeep (strict) parses every operation's reply, both ports.

zeep is only the referee here; the sandbox itself never uses it.
"""

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

pytest_plugins = ["onec_fixtures"]


@pytest.mark.parametrize("binding", ["ExtranetBridgeSoapBinding", "ExtranetBridgeSoap12Binding"])
def test_zeep_reads_every_operation(sandbox: RunningSandbox, binding: str) -> None:
    session = requests.Session()
    session.auth = (sandbox.user.encode(), sandbox.password.encode())  # type: ignore[assignment]
    client_cls: Any = zeep.Client
    transport_cls: Any = zeep.transports.Transport
    client = client_cls(str(WSDL_PATH), transport=transport_cls(session=session))
    svc = client.create_service(f"{{{NAMESPACE}}}{binding}", sandbox.endpoint)
    assert svc.GetInfo().contractVersion == "1.0"
    for entity in ("Organization", "Department", "Position", "Person", "Employee", "Absence"):
        page = svc.GetSnapshotPage(entity, None, 50)
        assert page.entity == entity and page["items"]["item"]
    emp = sandbox.knobs.pick("Employee", active="true", kind="Main")[0]
    sandbox.knobs.edit_person(emp["person_ref"], phones=[{"kind": "Mobile", "value": "+7 916 000-00-01"}])
    batch = svc.GetChanges(0, 10)
    assert batch["items"]["item"][0].payload.person.phones["item"][0].value == "+7 916 000-00-01"
    rid = str(uuid.uuid4())
    result = svc.SubmitRequest(
        rid, "Certificate", emp["person_ref"], emp["ref"], None, None,
        {"item": [{"key": "purpose", "value": "банк"}]}, None, None,
    )  # fmt: skip
    assert result.status == "Created" and result.docType == "ЗапросСправкиСотрудником"
    sandbox.knobs.decide(rid)
    doc = svc.GetDocument(rid)
    assert doc.status == "Done" and doc.content.startswith(b"%PDF")
    schedule = svc.GetWorkSchedule({"item": [emp["ref"]]}, datetime(2026, 3, 1), datetime(2026, 3, 7))
    assert len(schedule["items"]["item"][0].days["item"]) == 7
    day = {"date": datetime(2026, 3, 2), "timeKind": "Я", "hours": 8}
    sheet = svc.SubmitTimesheet(
        str(uuid.uuid4()), emp["current"]["org_ref"], emp["current"]["dept_ref"], datetime(2026, 3, 1),
        datetime(2026, 3, 31),
        {"item": [{"employeeRef": emp["ref"], "days": {"item": [day]}}]},
        None,
    )  # fmt: skip
    assert sheet.status == "Created"
