"""Logging set-up: structlog for our events, the same pipeline for stdlib loggers, one redaction step.

Every event — ours and what fast_bitrix24, zeep, aiohttp or httpx emit through stdlib logging — passes
``redact`` before it is rendered, so webhook codes, tokens, passwords, e-mails, phone numbers and bank
details never reach the output. Those libraries log whole requests below WARNING, so they are kept at
WARNING unless the settings ask otherwise.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import MutableMapping
from types import TracebackType
from typing import Any, TextIO

import structlog

from core.redact import MASK as MASK  # re-exported for older imports
from core.redact import SECRET_KEYS as SECRET_KEYS
from core.redact import redact_text as redact_text
from core.redact import redact_value

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
_SAFE_KEYS = {"event", "level", "logger", "timestamp", "exc_info"}


def redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: redact every value of the event (the message included)."""
    for key, value in list(event_dict.items()):
        event_dict[key] = redact_value(None if key in _SAFE_KEYS else key, value)
    return event_dict


def _render_exception(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Turn exc_info into text and redact it: tracebacks quote URLs and arguments."""
    event_dict = structlog.processors.format_exc_info(_logger, _method, event_dict)
    if isinstance(event_dict.get("exception"), str):
        event_dict["exception"] = redact_text(event_dict["exception"])
    return event_dict


def _drop_color_message(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    event_dict.pop("color_message", None)
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
        # A stdlib logger's ``extra=`` becomes the event's fields (uvicorn's colour copy is dropped).
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), _drop_color_message],
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
    # A crash's traceback quotes values (names, INN/KPP, addresses): it goes through the same redaction.
    sys.excepthook = _log_crash
    threading.excepthook = _log_thread_crash


def _log_crash(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, trace)
        return
    logging.getLogger("extranet_bridge.crash").critical(
        "crashed", extra={"error": kind.__name__}, exc_info=(kind, error, trace)
    )


def _log_thread_crash(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        _log_crash(args.exc_type, args.exc_value, args.exc_traceback)


def get_logger(name: str) -> Any:
    """A structlog logger bound to a module name."""
    return structlog.get_logger(name)
