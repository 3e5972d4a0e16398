"""GetChanges over HTTP: exchange-plan semantics driven by the mutation knobs."""

from __future__ import annotations

import pytest
from onec_soap import Q, Reply, Soap, p

from sandbox.onec.testing import RunningSandbox

pytest_plugins = ["onec_fixtures"]


def changes(soap: Soap, ack: int, max_items: int = 100, version: str = "1.1") -> Reply:
    reply = soap.call("GetChanges", p("ackMessageNo", ack) + p("maxItems", max_items), version)
    assert reply.status == 200, reply.text[:300]
    return reply


def items(reply: Reply) -> list[tuple[str, str, str]]:
    return [
        (i.findtext(f"{Q}entity") or "", i.findtext(f"{Q}ref") or "", i.findtext(f"{Q}deleted") or "")
        for i in reply.findall("m:items/m:item")
    ]


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_hire_is_registered_and_redelivered_until_acknowledged(
    soap: Soap, sandbox: RunningSandbox, version: str
) -> None:
    first = changes(soap, 0, version=version)
    assert items(first) == [] and first.value("m:messageNo") == "1"
    hired = sandbox.knobs.hire(date="2026-03-20")
    batch = changes(soap, 1, version=version)
    assert batch.value("m:messageNo") == "2"
    assert items(batch) == [
        ("Person", hired["personRef"], "false"),
        ("Employee", hired["employeeRef"], "false"),
    ]
    employee = batch.findall("m:items/m:item/m:payload/m:employee")[0]
    assert employee.findtext(f"{Q}history/{Q}item/{Q}period") == "2026-03-20T00:00:00"
    # no ack of message 2 (the bridge crashed before committing): the same rows come again
    again = changes(soap, 1, version=version)
    assert again.value("m:messageNo") == "3"
    assert items(again) == items(batch)
    # ack 3: gone
    assert items(changes(soap, 3, version=version)) == []


def test_registrations_are_state_based_and_a_change_after_sending_survives_the_ack(
    soap: Soap, sandbox: RunningSandbox
) -> None:
    person = sandbox.knobs.pick("Person")[0]["ref"]
    sandbox.knobs.edit_person(person, emails=["a@example.com"])
    sandbox.knobs.edit_person(person, emails=["b@example.com"])
    sent = changes(soap, 0)
    assert items(sent) == [("Person", person, "false")]  # two edits, one registration
    assert sent.findall("m:items/m:item/m:payload/m:person/m:emails/m:item")[0].text == "b@example.com"
    sandbox.knobs.edit_person(person, emails=["c@example.com"])  # changed again after message 1 was sent
    after_ack = changes(soap, int(sent.value("m:messageNo") or 0))
    assert items(after_ack) == [("Person", person, "false")]
    assert after_ack.findall("m:items/m:item/m:payload/m:person/m:emails/m:item")[0].text == "c@example.com"


def test_max_items_and_has_more(soap: Soap, sandbox: RunningSandbox) -> None:
    employees = [e["ref"] for e in sandbox.knobs.pick("Employee", n=5, active="true")]
    for ref in employees:
        sandbox.knobs.transfer(ref, date="2026-04-01")
    ack, seen = 0, []
    while True:
        batch = changes(soap, ack, max_items=2)
        seen += [ref for _e, ref, _d in items(batch)]
        ack = int(batch.value("m:messageNo") or 0)
        if batch.value("m:hasMore") == "false":
            break
    assert seen == employees
    assert sandbox.knobs.stats()["feed"]["pending"] == len(employees[-1:])  # the last batch awaits its ack


def test_deletion_travels_with_nil_payload(soap: Soap, sandbox: RunningSandbox) -> None:
    employee = sandbox.knobs.pick("Employee", active="true")[0]["ref"]
    absence = sandbox.knobs.add_absence(employee, "Vacation", "2026-04-06", "2026-04-19")["absenceRef"]
    first = changes(soap, 0)
    assert ("Absence", absence, "false") in items(first)
    sandbox.knobs.cancel_absence(absence)
    second = changes(soap, int(first.value("m:messageNo") or 0))
    assert ("Absence", absence, "true") in items(second)
    deleted = next(i for i in second.findall("m:items/m:item") if i.findtext(f"{Q}ref") == absence)
    assert deleted.find(f"{Q}payload").get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true"


def test_every_mutation_is_registered(soap: Soap, sandbox: RunningSandbox) -> None:
    k = sandbox.knobs
    active = k.pick("Employee", n=3, active="true")
    dismissed = k.pick("Employee", active="false")[0]
    k.dismiss(active[0]["ref"], date="2026-04-30")  # a future-dated dismissal
    rehired = k.rehire(dismissed["ref"])
    org = k.pick("Organization")[0]["ref"]
    dept = k.post("department", orgRef=org, name="Ozon: склад Тверь")["deptRef"]
    k.post("department/disband", deptRef=dept, date="2026-06-30")
    got = {(e, r) for e, r, _ in items(changes(soap, 0, max_items=1000))}
    assert ("Employee", active[0]["ref"]) in got
    assert ("Employee", rehired["employeeRef"]) in got
    assert rehired["personRef"] == dismissed["person_ref"]
    assert ("Person", rehired["personRef"]) not in got  # a rehire creates no new person
    assert ("Department", dept) in got


def test_ack_ahead_of_sent_is_a_business_error(soap: Soap) -> None:
    reply = changes(soap, 99)
    assert reply.errors() == ["ACK_OUT_OF_RANGE"]
    assert reply.value("m:messageNo") == "0"


def test_future_transfer_takes_effect_when_the_clock_passes_it(soap: Soap, sandbox: RunningSandbox) -> None:
    emp = sandbox.knobs.pick("Employee", active="true")[0]
    target = sandbox.knobs.pick("Department", n=200)
    dept = next(d["ref"] for d in target if d["is_site"] and d["org_ref"] == emp["current"]["org_ref"]
                and d["ref"] != emp["current"]["dept_ref"] and d["disbanded_on"] is None)  # fmt: skip
    sandbox.knobs.transfer(emp["ref"], deptRef=dept, date="2026-03-23")
    assert sandbox.knobs.record("Employee", emp["ref"])["current"]["dept_ref"] == emp["current"]["dept_ref"]
    sandbox.knobs.advance(days=7)
    assert sandbox.knobs.record("Employee", emp["ref"])["current"]["dept_ref"] == dept


def test_churn_drives_many_changes_through_the_feed(soap: Soap, sandbox: RunningSandbox) -> None:
    touched = sandbox.knobs.churn(hires=5, transfers=6, dismissals=3, rehires=2, personEdits=4, absences=3)
    keys = ("hired", "transferred", "dismissed", "rehired", "edited", "absences")
    assert [len(touched[k]) for k in keys] == [5, 6, 3, 2, 4, 3]
    got: set[tuple[str, str]] = set()
    ack = 0
    while True:
        batch = changes(soap, ack, max_items=7)
        got |= {(e, r) for e, r, _ in items(batch)}
        ack = int(batch.value("m:messageNo") or 0)
        if batch.value("m:hasMore") == "false":
            break
    employees = {r for e, r in got if e == "Employee"}
    for key in ("hired", "transferred", "dismissed", "rehired"):
        assert set(touched[key]) <= employees
    assert {("Person", r) for r in touched["edited"]} <= got
    assert {("Absence", r) for r in touched["absences"]} <= got


def test_max_items_out_of_range(soap: Soap) -> None:
    assert changes(soap, 0, max_items=0).errors() == ["INVALID_MAX_ITEMS"]
    assert changes(soap, 0, max_items=1001).errors() == ["INVALID_MAX_ITEMS"]
