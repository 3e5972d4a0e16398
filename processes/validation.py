"""Validation of a request before anything reaches 1C: pure functions, one clear Russian message each.

``validate_request`` reads the form values as Bitrix24 sends them (strings, lists, file references),
checks every field against its catalog definition, then the entry's cross-field checks: reversed or too
long periods, leave longer than the balance 1C reports, a bank account failing its control key. A missing
attachment is a required file field left empty. The employee sees the messages in Bitrix24; nothing is
sent to 1C while any problem remains.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from processes import bank_account
from processes.catalog import (
    BalanceCheck,
    BankAccountCheck,
    FormField,
    PeriodCheck,
    ProcessEntry,
)

_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing the employee must fix: the field it concerns (None = the whole request) and why."""

    field: str | None
    message: str


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def parse_date(value: Any) -> date | None:
    """ISO ``2026-03-16`` (also with a time), ``16.03.2026`` or Bitrix24's ``03/16/2026 …``; else None."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text[:10], fmt).date()
        except ValueError:
            continue
    return None


def _number(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value).strip().replace(" ", "").replace(",", "."))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _digits(value: Any) -> str:
    return re.sub(r"[\s-]", "", str(value))


def _required(f: FormField, values: Mapping[str, Any]) -> bool:
    if f.required:
        return True
    return bool(f.required_when) and all(str(values.get(k)) == v for k, v in f.required_when.items())


def _check_one(f: FormField, value: Any) -> str | None:
    """The message for a non-empty value that does not fit its field, or None."""
    label = f"«{f.label}»"
    if f.type == "date":
        return None if parse_date(value) else f"{label}: дата не распознана, укажите её как ДД.ММ.ГГГГ"
    if f.type in ("int", "decimal"):
        number = _number(value)
        if number is None or (f.type == "int" and number != number.to_integral_value()):
            return f"{label}: нужно {'целое ' if f.type == 'int' else ''}число"
        if f.min is not None and number < Decimal(str(f.min)):
            return f"{label}: не меньше {f.min:g}"
        if f.max is not None and number > Decimal(str(f.max)):
            return f"{label}: не больше {f.max:g}"
        return None
    if f.type == "select":
        return None if str(value) in f.options else f"{label}: выберите значение из списка"
    if f.type == "bool":
        return None if str(value) in ("Y", "N", "1", "0", "true", "false") else f"{label}: да или нет"
    if f.type == "bik":
        return None if bank_account.is_bik(_digits(value)) else f"{label}: БИК — 9 цифр, начинается с 04"
    if f.type == "bank_account":
        ok = bank_account.is_account_number(_digits(value))
        return None if ok else f"{label}: номер счёта — 20 цифр"
    if f.type in ("string", "text"):
        text = str(value)
        if f.max_length is not None and len(text) > f.max_length:
            return f"{label}: не длиннее {f.max_length} символов"
        if f.pattern is not None and not re.fullmatch(f.pattern, text.strip()):
            return f"{label}: неверный формат" + (f" ({f.hint})" if f.hint else "")
    return None


def check_fields(entry: ProcessEntry, values: Mapping[str, Any]) -> list[Problem]:
    """Every field against its definition: required ones present, filled ones well-formed."""
    problems = []
    for f in entry.fields:
        value = values.get(f.code)
        if _empty(value):
            if _required(f, values):
                what = "приложите файл" if f.type == "file" else "заполните поле"
                problems.append(Problem(f.code, f"«{f.label}»: {what}"))
            continue
        items = value if f.multiple and isinstance(value, list) else [value]
        for item in items:
            message = None if f.type in ("file", "user") else _check_one(f, item)
            if message:
                problems.append(Problem(f.code, message))
                break
    return problems


def leave_days(start: date, end: date, holidays: Collection[date] = ()) -> int:
    """Calendar days of a leave, both ends included; holidays inside are not counted (ТК РФ ст. 120)."""
    days = (end - start).days + 1
    return days - sum(1 for i in range(max(days, 0)) if start + timedelta(days=i) in holidays)


def check_period(start: date, end: date, max_days: int | None = None) -> str | None:
    if end < start:
        return f"дата окончания {end:%d.%m.%Y} раньше даты начала {start:%d.%m.%Y}"
    days = (end - start).days + 1
    if max_days is not None and days > max_days:
        return f"период {days} дн. длиннее допустимых {max_days} дн."
    return None


def check_balance(days: int, balance: Decimal | int | None) -> str | None:
    if balance is None:
        return "остаток отпуска в 1С сейчас недоступен, попробуйте позже"
    if days > balance:
        return f"отпуск на {days} дн. больше остатка: доступно {balance:g} дн."
    return None


def check_bank_account(bik: str, account: str) -> str | None:
    if not bank_account.account_key_ok(_digits(bik), _digits(account)):
        return "номер счёта не сходится с БИК (ошибка в цифрах счёта или БИК) — сверьте с реквизитами банка"
    return None


def validate_request(
    entry: ProcessEntry,
    values: Mapping[str, Any],
    *,
    leave_balance: Decimal | int | None = None,
    holidays: Collection[date] = (),
) -> list[Problem]:
    """All problems of a filled form; an empty list means it may go on to approval and to 1C.

    ``leave_balance`` is what 1C reports for the employee (days); it is only read when the entry has a
    leave-balance check. Cross-field checks run only on fields that passed their own check.
    """
    problems = check_fields(entry, values)
    bad = {p.field for p in problems}
    for check in entry.checks:
        if isinstance(check, PeriodCheck | BalanceCheck):
            if {check.start, check.end} & bad:
                continue
            start, end = parse_date(values.get(check.start)), parse_date(values.get(check.end))
            if start is None or end is None:
                continue  # optional period left empty
            if isinstance(check, PeriodCheck):
                message = check_period(start, end, check.max_days)
            elif end < start:
                continue  # the period check reports it
            else:
                message = check_balance(leave_days(start, end, holidays), leave_balance)
            if message:
                problems.append(Problem(check.end, message))
        elif isinstance(check, BankAccountCheck):
            if {check.bik, check.account} & bad:
                continue
            bik, account = values.get(check.bik), values.get(check.account)
            if _empty(bik) or _empty(account):
                continue
            message = check_bank_account(str(bik), str(account))
            if message:
                problems.append(Problem(check.account, message))
    return problems


def summary(problems: list[Problem]) -> str:
    """One line for the employee's notification: every problem, separated by semicolons."""
    return "; ".join(p.message for p in problems)
