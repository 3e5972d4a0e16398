"""Validation before 1C: each mistake an employee can make gets one clear Russian message."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processes import bank_account
from processes.catalog import default_catalog
from processes.validation import leave_days, parse_date, summary, validate_request

LEAVE = default_catalog().entry("leave")
BANK = default_catalog().entry("bank_details")
SBER = "044525225"


def _leave(**values: str) -> dict[str, str]:
    return {"leave_kind": "annual", "date_from": "2026-07-01", "date_to": "2026-07-14", **values}


def test_a_good_leave_passes() -> None:
    assert validate_request(LEAVE, _leave(), leave_balance=28) == []


def test_reversed_dates() -> None:
    problems = validate_request(LEAVE, _leave(date_to="2026-06-20"), leave_balance=28)
    assert [p.field for p in problems] == ["date_to"]
    assert problems[0].message == "дата окончания 20.06.2026 раньше даты начала 01.07.2026"


def test_leave_longer_than_the_balance() -> None:
    problems = validate_request(LEAVE, _leave(), leave_balance=Decimal("10.5"))
    assert summary(problems) == "отпуск на 14 дн. больше остатка: доступно 10.5 дн."
    unknown = validate_request(LEAVE, _leave(), leave_balance=None)
    assert unknown[0].message.startswith("остаток отпуска в 1С сейчас недоступен")


def test_public_holidays_do_not_count() -> None:
    assert (
        leave_days(date(2026, 5, 1), date(2026, 5, 14), holidays={date(2026, 5, 1), date(2026, 5, 9)}) == 12
    )
    assert (
        validate_request(
            LEAVE,
            _leave(date_from="2026-05-01", date_to="2026-05-14"),
            leave_balance=12,
            holidays={date(2026, 5, 1), date(2026, 5, 9)},
        )
        == []
    )


def test_missing_attachment_and_required_fields() -> None:
    problems = validate_request(BANK, {"bik": SBER, "account": ""})
    assert {p.field: p.message for p in problems} == {
        "account": "«Номер счёта»: заполните поле",
        "statement": "«Заявление с подписью (скан)»: приложите файл",
    }


def test_bad_formats_are_named() -> None:
    problems = validate_request(
        LEAVE, _leave(leave_kind="sabbatical", date_from="32.13.2026", comment="x" * 501)
    )
    assert [p.message for p in problems] == [
        "«Вид отпуска»: выберите значение из списка",
        "«Дата начала»: дата не распознана, укажите её как ДД.ММ.ГГГГ",
        "«Комментарий»: не длиннее 500 символов",
    ]


def test_required_when_another_field_says_so() -> None:
    entry = default_catalog().entry("leave_change")
    base = {"original_request": "6f1c8f0e-2b0a-4c53-9d7e-0d6b1c2a3e4f", "reason": "семья"}
    assert validate_request(entry, {**base, "action": "cancel"}, leave_balance=0) == []
    missing = validate_request(entry, {**base, "action": "transfer"}, leave_balance=0)
    assert [p.field for p in missing] == ["date_from", "date_to"]


def test_bank_account_control_key() -> None:
    good = bank_account.with_key(SBER, "40817810099910004312")
    files = {"statement": ["scan.pdf", "JVBERi0="]}
    assert validate_request(BANK, {"bik": SBER, "account": good, **files}) == []
    wrong = good[:-1] + str((int(good[-1]) + 1) % 10)
    problems = validate_request(BANK, {"bik": SBER, "account": wrong, **files})
    assert [p.field for p in problems] == ["account"]
    assert "не сходится с БИК" in problems[0].message
    short = validate_request(BANK, {"bik": "123", "account": "4081", **files})
    assert [p.message for p in short] == [
        "«БИК банка»: БИК — 9 цифр, начинается с 04",
        "«Номер счёта»: номер счёта — 20 цифр",
    ]


@pytest.mark.parametrize(
    ("bik", "correspondent"),
    [  # published requisites of three banks: the algorithm matches the Central Bank's keys
        ("044525225", "30101810400000000225"),
        ("044525974", "30101810145250000974"),
        ("044525593", "30101810200000000593"),
    ],
)
def test_real_correspondent_accounts_pass(bik: str, correspondent: str) -> None:
    assert bank_account.correspondent_account_ok(bik, correspondent)
    broken = correspondent[:12] + str((int(correspondent[12]) + 1) % 10) + correspondent[13:]
    assert not bank_account.correspondent_account_ok(bik, broken)


@given(st.from_regex(r"04[0-9]{7}", fullmatch=True), st.from_regex(r"[0-9]{20}", fullmatch=True))
def test_every_single_digit_error_is_caught(bik: str, account: str) -> None:
    keyed = bank_account.with_key(bik, account)
    assert bank_account.account_key_ok(bik, keyed)
    position = 19 if keyed[19] != keyed[8] else 0
    changed = keyed[:position] + str((int(keyed[position]) + 1) % 10) + keyed[position + 1 :]
    assert not bank_account.account_key_ok(bik, changed)


def test_dates_in_the_forms_bitrix24_sends() -> None:
    assert parse_date("2026-07-01") == date(2026, 7, 1)
    assert parse_date("01.07.2026") == date(2026, 7, 1)
    assert parse_date("07/01/2026 12:00:00 am") == date(2026, 7, 1)
    assert parse_date("later") is None
