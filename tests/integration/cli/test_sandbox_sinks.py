"""The message sinks of `sandbox up`: SMTP and the HTTP SMS gateway file what they receive in a mailbox
that survives a restart, shown on a page."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path

import httpx

from sandbox.server import serve_in_thread
from sandbox.sinks import Mailbox
from sandbox.sinks.smtp import smtp_sink
from sandbox.sinks.web import create_app


def test_sinks_receive_keep_and_show(tmp_path: Path) -> None:
    path = tmp_path / "mailbox.jsonl"
    mailbox = Mailbox(path)
    with smtp_sink(mailbox) as (host, port), serve_in_thread(create_app(mailbox)) as web:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "hr@provider.example", "a@b.example", "Привет"
        message.set_content("Войдите на портал")
        with smtplib.SMTP(host, port, timeout=10) as client:
            client.send_message(message)
        sent = httpx.post(f"{web}/sms", json={"to": "+79001234567", "text": "код", "sender": "HR"})
        assert sent.status_code == 200 and sent.json()["id"]
        assert httpx.post(f"{web}/sms", json={"text": "no recipient"}).status_code == 400
        page = httpx.get(f"{web}/").text
    assert "Привет" in page and "Войдите на портал" in page and "+79001234567" in page
    again = Mailbox(path).messages()
    assert [(m.channel, m.to) for m in again] == [("email", ["a@b.example"]), ("sms", ["+79001234567"])]
