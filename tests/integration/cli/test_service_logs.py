"""`serve` logs uvicorn's access lines as events with fields, through the bridge's structlog pipeline."""

from __future__ import annotations

import io
import json
import logging

from cli.service import route_uvicorn_logs
from config.logging import configure_logging


def test_access_lines_become_events_with_fields() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", "INFO", stream=stream)
    route_uvicorn_logs()
    route_uvicorn_logs()  # idempotent: one event per line, not two
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:50000", "POST", "/bitrix24/events", "1.1", 200
    )
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 1
    event = lines[0]
    assert event["event"] == "http.request" and event["logger"] == "uvicorn.access"
    assert (event["method"], event["path"], event["status"]) == ("POST", "/bitrix24/events", 200)
    logging.getLogger("uvicorn.error").warning("plain %s", "line")
    assert json.loads(stream.getvalue().splitlines()[-1])["event"] == "plain line"
