"""A stdlib log record as text: its event name and the fields given with ``extra=``, for log assertions."""

from __future__ import annotations

import logging

_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def fields(record: logging.LogRecord) -> dict[str, object]:
    """The fields a call passed with ``extra=``."""
    return {key: value for key, value in vars(record).items() if key not in _STANDARD}


def record_text(record: logging.LogRecord) -> str:
    """``event key=value …``: what the product's pipeline renders, minus timestamp and level."""
    return " ".join([record.getMessage(), *(f"{key}={value}" for key, value in fields(record).items())])
