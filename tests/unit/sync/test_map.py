"""Mapping 1C records to desired Bitrix24 state: persons, employments, dates, problems."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from mappings import DesiredUser, MappingError, compile_mapping, load_mapping
from sync.diff import field_warnings
from sync.map import map_groups, map_person
from sync.source import SourceData
from tests.unit.sync.cases import SITE_B, TODAY, company, dismissal, employee, hire, person, transfer

MAPPING = load_mapping()


def desired(data: SourceData, ref: str = "p1", on: date = TODAY) -> DesiredUser | None:
    groups = map_groups(data, MAPPING, on)
    return map_person(data, MAPPING, ref, on, groups)


def test_groups_named_by_org_and_department_path() -> None:
    groups = map_groups(company(), MAPPING, TODAY)
    assert groups["organization:org-1"].fields["NAME"] == "Ромашка"
    assert groups["department:dep-a"].fields["NAME"] == "Ромашка / Склад Север"
    assert groups["department:dep-a"].fields["VISIBLE"] == "N"


def test_active_employee_gets_fields_and_both_groups() -> None:
    data = company()
    data.add(person("p1", email=" Maria.Ivanova@Example.RU ", phone="8 (916) 123-45-67"))
    data.add(employee("e1", "p1", hire(date(2025, 1, 10))))
    user = desired(data)
    assert user is not None and user.active and not user.problems
    assert user.fields["EMAIL"] == "maria.ivanova@example.ru"
    assert user.fields["PERSONAL_MOBILE"] == "+79161234567"
    assert user.fields["XML_ID"] == "p1"
    assert user.fields["WORK_POSITION"] == "Сварщик"
    assert user.fields["PERSONAL_GENDER"] == "F"
    assert user.groups == {"organization:org-1", "department:dep-a"}


def test_second_job_adds_groups_to_the_same_user() -> None:
    data = company()
    data.add(person("p1"))
    data.add(employee("e1", "p1", hire(date(2025, 1, 10))))
    data.add(employee("e2", "p1", hire(date(2025, 3, 1), SITE_B), kind="PartTimeInternal"))
    user = desired(data)
    assert user is not None
    assert user.groups == {"organization:org-1", "department:dep-a", "department:dep-b"}


def test_future_transfer_waits_and_applies_on_its_date() -> None:
    data = company()
    data.add(person("p1"))
    moved_on = TODAY + timedelta(days=10)
    data.add(employee("e1", "p1", hire(date(2025, 1, 10)), transfer(moved_on, SITE_B)))
    today = desired(data)
    assert today is not None and "department:dep-a" in today.groups
    assert today.next_change_on == moved_on
    later = desired(data, on=moved_on)
    assert later is not None and later.groups == {"organization:org-1", "department:dep-b"}


def test_dismissal_takes_effect_the_day_after_the_last_working_day() -> None:
    data = company()
    data.add(person("p1"))
    last_day = TODAY
    data.add(employee("e1", "p1", hire(date(2025, 1, 10)), dismissal(last_day)))
    still = desired(data)
    assert still is not None and still.active
    assert still.next_change_on == last_day + timedelta(days=1)
    gone = desired(data, on=last_day + timedelta(days=1))
    assert gone is not None and not gone.active and gone.groups == frozenset()


def test_rehire_is_the_same_person_active_again() -> None:
    data = company()
    data.add(person("p1"))
    data.add(employee("e1", "p1", hire(date(2024, 1, 10)), dismissal(date(2024, 6, 30))))
    data.add(employee("e2", "p1", hire(date(2025, 2, 1), SITE_B)))
    user = desired(data)
    assert user is not None and user.active
    assert user.groups == {"organization:org-1", "department:dep-b"}


@pytest.mark.parametrize(
    ("email", "phone", "code"),
    [
        (None, "+79161234567", "no_email"),
        ("not-an-email@", "+79161234567", "malformed_email"),
    ],
)
def test_unmirrorable_contacts_are_problems(email: str | None, phone: str, code: str) -> None:
    data = company()
    data.add(person("p1", email=email, phone=phone))
    data.add(employee("e1", "p1", hire(date(2025, 1, 10))))
    user = desired(data)
    assert user is not None
    assert user.problems[0].code == code


@pytest.mark.parametrize("phone", ["12345", "+7 495 123-45-67", "not a number"])
def test_bad_phone_is_left_out_with_a_warning_not_a_problem(phone: str) -> None:
    data = company()
    data.add(person("p1", email="a@example.ru", phone=phone))
    data.add(employee("e1", "p1", hire(date(2025, 1, 10))))
    user = desired(data)
    assert user is not None and not user.problems
    assert user.fields["EMAIL"] == "a@example.ru" and user.fields["PERSONAL_MOBILE"] == ""
    assert [w.code for w in field_warnings(user)] == ["unusable_phone"]
    assert phone not in field_warnings(user)[0].reason, "the reason quotes the number (personal data)"


def test_unknown_department_is_a_problem() -> None:
    data = company()
    data.add(person("p1"))
    data.add(employee("e1", "p1", hire(date(2025, 1, 10), site="dep-missing")))  # type: ignore[arg-type]
    user = desired(data)
    assert user is not None
    assert [p.code for p in user.problems] == ["unknown_department"]


def test_bad_mapping_lists_every_problem() -> None:
    document = {
        "version": 1,
        "groups": {
            "organization": {"name": "{org_nam}", "fields": {"COLOR": "red"}},
            "department": {"name": "{department_path}"},
        },
        "user": {
            "fields": {
                "EMAIL": {"source": "emails", "transform": "first_mail"},
                "XML_ID": {"source": "person_ref"},
            }
        },
    }
    with pytest.raises(MappingError) as caught:
        compile_mapping(document)
    assert any("COLOR" in reason for _path, reason in caught.value.problems)
    document["groups"]["organization"]["fields"] = {}  # type: ignore[index]
    with pytest.raises(MappingError) as caught:
        compile_mapping(document)
    paths = {path for path, _reason in caught.value.problems}
    assert paths == {"user.fields.EMAIL.transform", "groups.organization.name"}


def test_temporary_transfer_returns_to_the_base_site() -> None:
    from connectors.onec.port import HrEvent
    from tests.unit.sync.cases import ORG, WELDER

    data = company()
    data.add(person("p1"))
    start, until = TODAY - timedelta(days=5), TODAY + timedelta(days=5)
    temporary = HrEvent(start, "Transfer", ORG, SITE_B, WELDER, valid_until=until)
    data.add(employee("e1", "p1", hire(date(2025, 1, 10)), temporary))
    now = desired(data)
    assert now is not None and "department:dep-b" in now.groups
    assert now.next_change_on == until + timedelta(days=1)
    back = desired(data, on=until + timedelta(days=1))
    assert back is not None and back.groups == {"organization:org-1", "department:dep-a"}
