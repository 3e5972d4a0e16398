"""An SMTP server (aiosmtpd) that accepts every message and files it in the mailbox."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from sandbox.sinks.mailbox import Mailbox


def _text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain", "html"))
    return body.get_content() if body is not None else ""


class MailboxHandler:
    """aiosmtpd's handler protocol: ``handle_DATA`` gets the envelope once the client sent DATA."""

    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.mailbox.add(
            "email", envelope.mail_from, list(envelope.rcpt_tos), str(parsed["Subject"] or ""), _text(parsed)
        )
        return "250 Message accepted for delivery"


@contextmanager
def smtp_sink(mailbox: Mailbox, host: str = "127.0.0.1", port: int = 0) -> Iterator[tuple[str, int]]:
    """Serve SMTP on ``host:port`` (0 = a free port) until the block ends; yields (host, port)."""
    from aiosmtpd.controller import Controller

    from sandbox.server import free_port

    port = port or free_port(host)
    controller = Controller(MailboxHandler(mailbox), hostname=host, port=port)
    controller.start()
    try:
        yield host, port
    finally:
        controller.stop()
