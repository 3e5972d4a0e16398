"""Phone numbers → E.164 mobile numbers; e-mail addresses → one canonical ASCII form; typed reasons."""

from __future__ import annotations

import pytest

from connectors.errors import Terminal
from connectors.messaging import InvalidEmail, InvalidPhone, normalize_phone, validate_email


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("8 (916) 123-45-67", "+79161234567"),
        ("+7 916 123 45 67", "+79161234567"),
        ("+7(916)123-45-67", "+79161234567"),
        ("79161234567", "+79161234567"),
        ("9161234567", "+79161234567"),
        ("  8-916-123-45-67 ", "+79161234567"),
        ("+380 50 123 4567", "+380501234567"),
    ],
)
def test_mobile_numbers_become_e164(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_empty_phone_is_none(raw: str | None) -> None:
    assert normalize_phone(raw) is None


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("+7 495 123-45-67", "not_mobile"),  # Moscow landline
        ("8 800 555-35-35", "not_mobile"),  # toll-free
        ("12345", "wrong_length"),
        ("+7 916 123", "wrong_length"),
        ("нет телефона", "unparseable"),
        ("+7 916 123-45-67, +7 903 765-43-21", "several_numbers"),
    ],
)
def test_unusable_phones_are_rejected_with_a_reason(raw: str, code: str) -> None:
    with pytest.raises(InvalidPhone) as caught:
        normalize_phone(raw)
    error = caught.value
    assert error.code == code
    assert error.channel == "sms"
    assert isinstance(error, Terminal)
    assert error.reason
    # The reason goes into quarantine records and logs: it must not quote the number.
    assert not any(ch.isdigit() for ch in error.reason)


def test_default_region_reads_national_numbers() -> None:
    assert normalize_phone("050 123 4567", default_region="UA") == "+380501234567"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ivan.Petrov@Example.COM", "ivan.petrov@example.com"),
        ("  ivan@mail.ru ", "ivan@mail.ru"),
        ("ivan@почта.рф", "ivan@xn--80a1acny.xn--p1ai"),  # Cyrillic domain → punycode
        ("staff-1@company.test", "staff-1@company.test"),
    ],
)
def test_email_is_normalised(raw: str, expected: str) -> None:
    assert validate_email(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_empty_email_is_none(raw: str | None) -> None:
    assert validate_email(raw) is None


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("ivan@", "syntax"),
        ("ivan.mail.ru", "syntax"),
        ("ivan petrov@mail.ru", "syntax"),
        ("ivan..p@mail.ru", "syntax"),
        ("ivan@localhost", "syntax"),
        ("ivan@host.invalid", "reserved_domain"),
        ("иван@почта.рф", "non_ascii_local_part"),
        ("a@mail.ru; b@mail.ru", "several_addresses"),
    ],
)
def test_unusable_emails_are_rejected_with_a_reason(raw: str, code: str) -> None:
    with pytest.raises(InvalidEmail) as caught:
        validate_email(raw)
    error = caught.value
    assert error.code == code
    assert error.channel == "email"
    assert "@" not in error.reason and "mail.ru" not in error.reason
