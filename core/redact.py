"""Redaction: mask secrets and personal data in free text and in structured values.

Webhook codes, tokens, passwords, e-mail addresses, phone numbers and bank details are masked; the
logging set-up (config/logging.py) runs every event and every traceback through here, and error types
redact the internal detail they keep.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "***"

# Keys whose values are never shown, whatever they contain.
SECRET_KEYS = re.compile(
    r"(pass(word)?|secret|token|auth|api[_-]?key|email|e_mail|phone|mobile|account|bik|inn|snils|"
    r"card|iban|passport)",
    re.IGNORECASE,
)

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Incoming-webhook URLs carry their secret in the path: /rest/<user_id>/<code>/ (bitrix24-rest.md §1.1).
    (re.compile(r"(/rest/\d+/)[^/\s\"'?]+"), r"\1" + MASK),
    # OAuth and form credentials in query strings or bodies: auth=, access_token=, refresh_token=, ...
    (
        re.compile(
            r"((?<![\w])(?:auth|access_token|refresh_token|application_token|client_secret|password|passwd|token|"
            r"api_id|api_key|apikey)(?:\]|%5D)?[\"']?\s*[=:]\s*[\"']?)[^&\s\"',;}]+",
            re.IGNORECASE,
        ),
        r"\1" + MASK,
    ),
    # An OAuth authorization code= — but not an error code (QUERY_LIMIT_EXCEEDED, expired_token), which
    # tells the operator why a call failed.
    (
        re.compile(
            r"((?<![\w])code(?:\]|%5D)?[\"']?\s*[=:]\s*[\"']?)"
            r"(?-i:(?![A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*(?:[&\s\"',;})]|$)|[a-z]+(?:_[a-z]+)+(?:[&\s\"',;})]|$)))"
            r"[^&\s\"',;}]+",
            re.IGNORECASE,
        ),
        r"\1" + MASK,
    ),
    # Basic / Bearer credentials in headers.
    (re.compile(r"((?:Basic|Bearer)\s+)[A-Za-z0-9+/=._-]+"), r"\1" + MASK),
    # user:password@ in URLs.
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), r"\1" + MASK + "@"),
    # E-mail addresses, internationalised ones too (иванов@почта.рф, …@xn--80a1acny.xn--p1ai).
    (re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.(?:[^\W\d_]{2,}|xn--[\w-]+)"), "<email>"),
    # Bank account (20 digits), card numbers (13-19 digits, optionally grouped).
    (re.compile(r"(?<!\d)\d{20}(?!\d)"), "<account>"),
    (re.compile(r"(?<!\d)(?:\d{4}[ -]?){3}\d{1,7}(?!\d)"), "<card>"),
    # Phone numbers: ten digits, bare or after +7 / 7 / 8, with common separators; other E.164 numbers.
    (
        re.compile(r"(?<![\w+-])(?:(?:\+7|7|8)[\s(-]*)?\(?\d{3}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}(?![\w-])"),
        "<phone>",
    ),
    (re.compile(r"(?<![\w])\+\d{10,14}(?!\d)"), "<phone>"),
    # Tax and registration numbers: INN (10/12 digits), KPP (9), OGRN (13/15), SNILS (123-456-789 01).
    (re.compile(r"(?<![\w-])\d{3}-\d{3}-\d{3}[\s-]\d{2}(?![\w-])"), "<snils>"),
    (re.compile(r"(?<![\w-])\d{9,15}(?![\w-])"), "<number>"),
    # Full names in Cyrillic (Иванов Иван Иванович, Иванова-Петрова Анна): two or three capitalised words.
    (
        re.compile(
            r"(?<!\w)[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?(?:\s+[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?){1,2}(?!\w)"
        ),
        "<name>",
    ),
]


def redact_text(text: str) -> str:
    """Mask secrets and personal data inside free text."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(key: str | None, value: Any) -> Any:
    if key is not None and SECRET_KEYS.search(key) and value not in (None, "", [], {}):
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(None, v) for v in value]
    if isinstance(value, BaseException):
        return redact_text(str(value))
    return value
