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
            r"api_id|api_key|apikey|code)(?:\]|%5D)?[\"']?\s*[=:]\s*[\"']?)[^&\s\"',;}]+",
            re.IGNORECASE,
        ),
        r"\1" + MASK,
    ),
    # Basic / Bearer credentials in headers.
    (re.compile(r"((?:Basic|Bearer)\s+)[A-Za-z0-9+/=._-]+"), r"\1" + MASK),
    # user:password@ in URLs.
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), r"\1" + MASK + "@"),
    # E-mail addresses.
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "<email>"),
    # Bank account (20 digits), card numbers (13-19 digits, optionally grouped).
    (re.compile(r"(?<!\d)\d{20}(?!\d)"), "<account>"),
    (re.compile(r"(?<!\d)(?:\d{4}[ -]?){3}\d{1,7}(?!\d)"), "<card>"),
    # Phone numbers: +7 / 8 followed by ten digits, with common separators, and other E.164 numbers.
    (re.compile(r"(?<![\w])(?:\+7|8)[\s(-]*\d{3}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}(?!\d)"), "<phone>"),
    (re.compile(r"(?<![\w])\+\d{10,14}(?!\d)"), "<phone>"),
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
