"""Log calls name an event and pass fields; none formats a message with ``%s`` (issue 12, "Logs").

An AST scan of the bridge's own modules: a call ``<…log…>.info/warning/…(message, …)`` whose message
holds a ``%`` placeholder, or that passes positional arguments after it, is a formatted string.
"""

from __future__ import annotations

import ast
import io
import json
import logging
import re
from pathlib import Path

import pytest

from config.logging import configure_logging

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = (
    "connectors",
    "sync",
    "webhooks",
    "processes",
    "cli",
    "config",
    "portal",
    "store",
    "core",
    "timesheets",
)
METHODS = {"debug", "info", "warning", "error", "exception", "critical"}
_PLACEHOLDER = re.compile(r"%[-+ #0]*\d*(?:\.\d+)?[sdifrx]")


def _is_logger(node: ast.expr) -> bool:
    """``log``, ``logger``, ``self._log``, ``structlog.get_logger(…)``, ``logging.getLogger(…)``."""
    if isinstance(node, ast.Name):
        return "log" in node.id.lower()
    if isinstance(node, ast.Attribute):
        return "log" in node.attr.lower()
    if isinstance(node, ast.Call):
        return _is_logger(node.func)
    return False


def formatted_calls(source: str, filename: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in METHODS or not _is_logger(node.func.value) or not node.args:
            continue
        message = node.args[0]
        placeholder = (
            isinstance(message, ast.Constant)
            and isinstance(message.value, str)
            and bool(_PLACEHOLDER.search(message.value))
        )
        if placeholder or len(node.args) > 1:
            found.append(f"{filename}:{node.lineno}")
    return found


def test_the_scan_catches_a_formatted_message() -> None:
    source = 'log.info("job start name=%s", name)\nlogger.warning("x", 1)\nlog.info("job.start", extra={})\n'
    assert formatted_calls(source, "m.py") == ["m.py:1", "m.py:2"]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_logs_a_formatted_string(package: str) -> None:
    found = [
        hit
        for path in sorted((ROOT / package).rglob("*.py"))
        for hit in formatted_calls(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    assert found == [], f"log an event name with fields (extra= or keywords), not a formatted string: {found}"


def test_extra_fields_are_rendered_and_redacted() -> None:
    stream = io.StringIO()
    configure_logging(fmt="json", stream=stream)
    logging.getLogger("connectors.test").warning(
        "messaging.retry", extra={"channel": "sms", "attempt": 2, "to": "maria@client.ru"}
    )
    event = json.loads(stream.getvalue().splitlines()[-1])
    assert (event["event"], event["level"], event["channel"], event["attempt"]) == (
        "messaging.retry",
        "warning",
        "sms",
        2,
    )
    assert "maria@client.ru" not in stream.getvalue()
