# ruff: noqa: E501
"""Normalisation: 1C's empty date, empty ref, nil/empty lists, naive datetimes and padded strings vanish."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from connectors.onec import normalise as n
from connectors.onec import records, values
from connectors.onec.errors import OneCProtocolError
from connectors.onec.port import Employee, Organization, Person, RequestStatus

from .onec_connector_soap import envelope, page, person

MSK = ZoneInfo("Europe/Moscow")
R1 = "AAAAAAAA-0000-0000-0000-000000000001"
ZERO = "00000000-0000-0000-0000-000000000000"


def test_empty_date_and_empty_ref_are_none() -> None:
    assert n.to_date("0001-01-01T00:00:00") is None
    assert n.to_date(datetime(1, 1, 1)) is None
    assert n.to_date("2024-02-29T00:00:00") == date(2024, 2, 29)
    assert n.to_datetime("0001-01-01T00:00:00", MSK) is None
    assert n.ref(ZERO) is None
    assert n.ref(f"  {R1} ") == R1.lower()
    with pytest.raises(OneCProtocolError):
        n.required_ref(ZERO, "x")


def test_naive_datetimes_get_the_server_zone_and_aware_ones_keep_theirs() -> None:
    value = n.to_datetime("2026-03-01T09:30:00", MSK)
    assert value is not None and value.utcoffset() == timedelta(hours=3)
    assert value.astimezone(UTC).hour == 6
    aware = n.to_datetime("2026-03-01T09:30:00+05:00", MSK)
    assert aware is not None and aware.utcoffset() == timedelta(hours=5)
    assert n.out_datetime(datetime(2026, 3, 1, 6, 30, 5, 999, tzinfo=UTC), MSK) == datetime(
        2026, 3, 1, 9, 30, 5
    )
    assert n.out_date(None) == "0001-01-01T00:00:00" and n.out_ref(None) == ZERO


def test_time_zone_names_and_offsets() -> None:
    assert n.time_zone("Asia/Yekaterinburg") == ZoneInfo("Asia/Yekaterinburg")
    assert datetime(2026, 1, 1, tzinfo=n.time_zone("UTC+07:00")).utcoffset() == timedelta(hours=7)
    assert n.time_zone("") == ZoneInfo("Europe/Moscow")
    with pytest.raises(OneCProtocolError):
        n.time_zone("Mars/Olympus")


def test_strings_are_trimmed_and_blank_is_none() -> None:
    assert n.text("  Иванов \n") == "Иванов"
    assert n.text("   ") is None
    assert n.to_decimal(" 0.5 ") == Decimal("0.5")
    assert n.to_bool("true") is True and n.to_bool("false") is False


def test_nil_and_empty_wrappers_both_give_empty_lists() -> None:
    assert n.items(None) == []
    assert n.items({"item": None}) == []
    assert n.items({"item": []}) == []
    assert n.items({"item": [1]}) == [1]


def _page(items: str, *, has_more: bool = False) -> bytes:
    return envelope("GetSnapshotPage", page("Person", items, R1, has_more)).encode()


def test_snapshot_page_person_normalised() -> None:
    items = (
        f"<m:item><m:person><m:ref>{R1}</m:ref><m:lastName>  Петрова </m:lastName><m:firstName>Ольга"
        '</m:firstName><m:middleName xsi:nil="true"/><m:birthDate>0001-01-01T00:00:00</m:birthDate>'
        '<m:gender xsi:nil="true"/><m:emails xsi:nil="true"/><m:phones><m:item><m:kind>Mobile</m:kind>'
        "<m:value> +79991234567 </m:value></m:item></m:phones><m:deleted>false</m:deleted></m:person></m:item>"
        + person("aaaaaaaa-0000-0000-0000-000000000002").replace(
            "<m:emails/>", "<m:emails><m:item> a@b.ru </m:item><m:item></m:item></m:emails>"
        )
    )
    found, last, has_more, errors = records.snapshot_page(_page(items), MSK)
    first, second = found
    assert isinstance(first, Person)
    assert (first.last_name, first.middle_name, first.birth_date, first.gender) == (
        "Петрова",
        None,
        None,
        None,
    )
    assert first.emails == ()
    assert first.phones[0].value == "+79991234567"
    assert isinstance(second, Person)
    assert second.emails == ("a@b.ru",)
    assert second.birth_date == date(1990, 5, 4)
    assert last == R1.lower() and has_more is False and errors == ()


def test_employee_with_history_and_nil_current() -> None:
    hist = (
        "<m:item><m:period>2025-01-10T00:00:00</m:period><m:event>Hire</m:event>"
        f"<m:orgRef>{R1}</m:orgRef><m:deptRef>{ZERO}</m:deptRef><m:positionRef>{R1}</m:positionRef>"
        "<m:validUntil>0001-01-01T00:00:00</m:validUntil></m:item>"
    )
    items = (
        f"<m:item><m:employee><m:ref>{R1}</m:ref><m:personnelNo> 0000000042 </m:personnelNo>"
        f"<m:personRef>{R1}</m:personRef><m:headOrgRef>{R1}</m:headOrgRef><m:mainEmployeeRef>{ZERO}"
        '</m:mainEmployeeRef><m:archived>true</m:archived><m:current xsi:nil="true"/>'
        f"<m:history>{hist}</m:history><m:deleted>false</m:deleted></m:employee></m:item>"
    )
    found, *_ = records.snapshot_page(_page(items), MSK)
    employee = found[0]
    assert isinstance(employee, Employee)
    assert employee.personnel_no == "0000000042"
    assert employee.main_employee_ref is None and employee.current is None and employee.archived
    assert employee.history[0].period == date(2025, 1, 10)
    assert employee.history[0].department_ref is None and employee.history[0].valid_until is None


def test_missing_required_ref_is_a_protocol_error() -> None:
    items = "<m:item><m:organization><m:name>ООО</m:name></m:organization></m:item>"
    with pytest.raises(OneCProtocolError):
        records.snapshot_page(_page(items), MSK)


def test_change_batch_deleted_and_request_status() -> None:
    inner = (
        "<m:messageNo>7</m:messageNo><m:items>"
        f'<m:item><m:entity>Organization</m:entity><m:ref>{R1}</m:ref><m:deleted>true</m:deleted><m:payload xsi:nil="true"/></m:item>'
        f"<m:item><m:entity>Request</m:entity><m:ref>req-1</m:ref><m:deleted>false</m:deleted><m:payload><m:request>"
        "<m:requestId>req-1</m:requestId><m:status>Rejected</m:status><m:reason> нет дней </m:reason>"
        '<m:reviewedBy xsi:nil="true"/><m:reviewedAt>2026-11-20T10:00:00</m:reviewedAt><m:docType xsi:nil="true"/>'
        f"<m:docRef>{ZERO}</m:docRef></m:request></m:payload></m:item>"
        f"<m:item><m:entity>Organization</m:entity><m:ref>{R1}</m:ref><m:deleted>false</m:deleted><m:payload>"
        f"<m:organization><m:ref>{R1}</m:ref><m:name>ООО «Ромашка» </m:name><m:fullName/><m:inn>7707083893</m:inn>"
        f'<m:kpp xsi:nil="true"/><m:ogrn/><m:headOrgRef>{ZERO}</m:headOrgRef><m:deleted>false</m:deleted>'
        "</m:organization></m:payload></m:item></m:items><m:hasMore>true</m:hasMore><m:errors/>"
    )
    batch, errors = records.change_batch(envelope("GetChanges", inner).encode(), MSK)
    assert batch.message_no == 7 and batch.has_more and errors == ()
    gone, req, org = batch.items
    assert gone.deleted and gone.record is None and gone.ref == R1.lower()
    assert isinstance(req.record, RequestStatus)
    assert req.ref == "req-1" and req.record.reason == "нет дней" and req.record.doc_ref is None
    assert req.record.reviewed_at == datetime(2026, 11, 20, 10, tzinfo=MSK)
    assert isinstance(org.record, Organization)
    assert org.record.name == "ООО «Ромашка»" and org.record.kpp is None and org.record.head_org_ref is None


def test_unknown_entity_in_the_feed_is_a_protocol_error() -> None:
    inner = (
        "<m:messageNo>1</m:messageNo><m:items><m:item><m:entity>Payroll</m:entity><m:ref>x</m:ref>"
        "<m:deleted>true</m:deleted></m:item></m:items><m:hasMore>false</m:hasMore>"
    )
    with pytest.raises(OneCProtocolError):
        records.change_batch(envelope("GetChanges", inner).encode(), MSK)


def test_fast_path_values_follow_the_same_rules() -> None:
    assert values.opt_ref(f" {R1}\n") == R1.lower()
    assert values.opt_ref(ZERO) is None and values.opt_ref("  ") is None
    assert values.opt_day(" 2026-01-31T00:00:00 ") == date(2026, 1, 31)
    assert values.opt_day("0001-01-01T00:00:00") is None and values.opt_day(" ") is None
    assert (
        values.flag("true") and values.flag(" true ") and not values.flag("false") and not values.flag(None)
    )
    assert values.opt_decimal(" 0.25 ") == Decimal("0.25")
    with pytest.raises(OneCProtocolError):
        values.opt_day("31.01.2026")
    with pytest.raises(OneCProtocolError):
        values.req_day(None, "x")
