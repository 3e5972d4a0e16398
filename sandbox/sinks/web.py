"""The SMS gateway sink (``POST /sms`` with JSON ``{to, text, sender}``, the bridge's generic HTTP
gateway) and the mailbox page (``GET /``) listing what both sinks received; ``GET /messages`` is JSON."""

from __future__ import annotations

import html
from dataclasses import asdict
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from sandbox.sinks.mailbox import Mailbox

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Mailbox</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{border-bottom:1px solid #ddd;padding:.3em .6em;
text-align:left;vertical-align:top}}pre{{white-space:pre-wrap;margin:0}}</style></head><body>
<h1>Mailbox of the sandbox gateways</h1><p>{count} message(s): e-mail through SMTP, SMS through the HTTP
gateway. Nothing leaves this machine.</p><table><tr><th>received</th><th>channel</th><th>to</th>
<th>subject</th><th>text</th></tr>{rows}</table></body></html>"""


def _row(values: list[str]) -> str:
    cells = "".join(f"<td>{html.escape(v)}</td>" for v in values[:-1])
    return f"<tr>{cells}<td><pre>{html.escape(values[-1])}</pre></td></tr>"


def create_app(mailbox: Mailbox) -> Starlette:
    async def page(request: Request) -> Response:
        messages = mailbox.messages()
        rows = "".join(
            _row([m.received_at, m.channel, ", ".join(m.to), m.subject, m.text]) for m in reversed(messages)
        )
        return HTMLResponse(_PAGE.format(count=len(messages), rows=rows))

    async def listing(request: Request) -> Response:
        return JSONResponse({"messages": [asdict(m) for m in mailbox.messages()]})

    async def sms(request: Request) -> Response:
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not body.get("to") or not isinstance(body.get("text"), str):
            return JSONResponse({"error": "expected JSON {to, text, sender}"}, status_code=400)
        message = mailbox.add("sms", str(body.get("sender") or ""), [str(body["to"])], "", body["text"])
        return JSONResponse({"id": f"sms-{len(mailbox.messages())}", "received_at": message.received_at})

    return Starlette(
        routes=[
            Route("/", page, methods=["GET"]),
            Route("/messages", listing, methods=["GET"]),
            Route("/sms", sms, methods=["POST"]),
        ]
    )
