"""Logging set-up: structlog for our events, the same pipeline for stdlib loggers, one redaction step.

Every event — ours and what fast_bitrix24, zeep, aiohttp or httpx emit through stdlib logging — passes
``redact`` before it is rendered, so webhook codes, tokens, passwords, e-mails, phone numbers and bank
details never reach the output. Those libraries log whole requests below WARNING, so they are kept at
WARNING unless the settings ask otherwise.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog

LIBRARY_LOGGERS = (
    "fast_bitrix24",
    "zeep",
    "aiohttp",
    "httpx",
    "httpcore",
    "urllib3",
    "apscheduler",
    "uvicorn.access",
    "alembic",
)
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


def _redact_value(key: str | None, value: Any) -> Any:
    if key is not None and SECRET_KEYS.search(key) and value not in (None, "", [], {}):
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(None, v) for v in value]
    if isinstance(value, BaseException):
        return redact_text(str(value))
    return value


_SAFE_KEYS = {"event", "level", "logger", "timestamp", "exc_info"}


def redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: redact every value of the event (the message included)."""
    for key, value in list(event_dict.items()):
        event_dict[key] = _redact_value(None if key in _SAFE_KEYS else key, value)
    return event_dict


def _render_exception(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Turn exc_info into text and redact it: tracebacks quote URLs and arguments."""
    event_dict = structlog.processors.format_exc_info(_logger, _method, event_dict)
    if isinstance(event_dict.get("exception"), str):
        event_dict["exception"] = redact_text(event_dict["exception"])
    return event_dict


def configure_logging(
    level: str = "INFO",
    fmt: str = "auto",
    library_level: str = "WARNING",
    stream: TextIO | None = None,
) -> None:
    """Route structlog and stdlib logging through one redacting renderer on ``stream`` (stderr)."""
    stream = stream or sys.stderr
    as_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.PositionalArgumentsFormatter(),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if as_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _render_exception,
            redact,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_extranet_bridge", False):
            root.removeHandler(old)
    handler._extranet_bridge = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(library_level)


def get_logger(name: str) -> Any:
    """A structlog logger bound to a module name."""
    return structlog.get_logger(name)
