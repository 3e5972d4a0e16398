"""E-mail over SMTP: builds a UTF-8 MIME message and hands it to the configured server.

Uses the standard library's ``smtplib`` in a worker thread (one connection per message: invitations
are few and spread over the day). STARTTLS when ``SmtpSettings.starttls``; implicit TLS when the port
is 465; AUTH when a username is set. Subjects and bodies may be Russian: headers are RFC 2047-encoded
and bodies UTF-8, so any relay accepts them. Each message gets a Message-ID on the sender's domain,
returned as the delivery id.

smtplib's exceptions are translated here (port.py): authentication or TLS refusal → config error;
a 5xx refusal of the recipient → RecipientInvalid; 4xx, disconnects and timeouts → MessagingUnavailable.
Logs carry reply codes only, never addresses or text.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING

from connectors.messaging.port import (
    Delivery,
    InvalidEmail,
    MessageRejected,
    MessagingConfigError,
    MessagingFailure,
    MessagingUnavailable,
    RecipientInvalid,
)
from connectors.messaging.retry import RetryPolicy
from connectors.messaging.validate import validate_email

if TYPE_CHECKING:
    from config.settings import SmtpSettings

log = logging.getLogger(__name__)
IMPLICIT_TLS_PORT = 465


class SmtpSender:
    """Sends e-mail through one SMTP server; ``send`` raises MessagingFailure subclasses only."""

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        if not settings.host:
            raise MessagingConfigError(
                "SMTP is not configured (messaging.smtp.host)", channel="email", code="no_host"
            )
        sender = validate_email(settings.sender)
        if sender is None:
            raise MessagingConfigError("messaging.smtp.sender is empty", channel="email", code="no_sender")
        self._settings = settings
        self._sender = sender
        self._timeout = timeout
        self._retry = retry or RetryPolicy()
        self._tls_context = tls_context

    def build_message(self, to: str, subject: str, text: str, html: str | None = None) -> EmailMessage:
        """The MIME message as it will be sent (text/plain, plus text/html as an alternative)."""
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = make_msgid(domain=self._sender.rsplit("@", 1)[1])
        message.set_content(text, charset="utf-8")
        if html is not None:
            message.add_alternative(html, subtype="html", charset="utf-8")
        return message

    async def send(self, to: str, subject: str, text: str, html: str | None = None) -> Delivery:
        """Validate the address, send (retrying transient failures) and return the Message-ID."""
        address = validate_email(to)
        if address is None:
            raise InvalidEmail("no e-mail address", code="empty")
        message = self.build_message(address, subject, text, html)
        await self._retry.run(lambda: asyncio.to_thread(self._deliver, message))
        message_id = str(message["Message-ID"])
        log.info("email.sent", extra={"code": 250})
        return Delivery(channel="email", message_id=message_id, status="sent")

    def _connect(self) -> smtplib.SMTP:
        settings = self._settings
        if settings.port == IMPLICIT_TLS_PORT:
            return smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=self._timeout, context=self._context()
            )
        return smtplib.SMTP(settings.host, settings.port, timeout=self._timeout)

    def _context(self) -> ssl.SSLContext:
        return self._tls_context or ssl.create_default_context()

    def _deliver(self, message: EmailMessage) -> None:
        """Blocking: one SMTP session for one message (runs in a worker thread)."""
        settings = self._settings
        try:
            with self._connect() as smtp:
                if settings.starttls and settings.port != IMPLICIT_TLS_PORT:
                    smtp.starttls(context=self._context())
                    smtp.ehlo()
                if settings.username:
                    smtp.login(settings.username, settings.password.get_secret_value())
                refused = smtp.send_message(message)
        except smtplib.SMTPException as exc:
            raise _translate(exc) from None
        except ssl.SSLError as exc:
            raise MessagingConfigError(
                "TLS with the SMTP server failed (certificate or protocol)",
                channel="email",
                code="smtp_tls",
                internal=type(exc).__name__,
            ) from None
        except (TimeoutError, OSError) as exc:
            raise MessagingUnavailable(
                "the SMTP server cannot be reached",
                channel="email",
                code="smtp_unreachable",
                internal=type(exc).__name__,
            ) from None
        if refused:
            code = next(iter(refused.values()))[0]
            raise _recipient_refused(code)


def _recipient_refused(code: int) -> MessagingFailure:
    if 400 <= code < 500:
        return MessagingUnavailable(
            "the SMTP server deferred the recipient", channel="email", code=f"smtp_{code}"
        )
    return RecipientInvalid("the mail server refused this recipient", channel="email", code=f"smtp_{code}")


def _translate(exc: smtplib.SMTPException) -> MessagingFailure:
    """One smtplib exception → our error (port.py); only reply codes and class names are kept."""
    name = type(exc).__name__
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return MessagingConfigError(
            "the SMTP server refused the username or password", channel="email", code="smtp_auth"
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return MessagingConfigError(
            "the SMTP server does not support what the settings ask (STARTTLS or AUTH)",
            channel="email",
            code="smtp_not_supported",
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [value[0] for value in exc.recipients.values()]
        return _recipient_refused(codes[0] if codes else 550)
    if isinstance(exc, smtplib.SMTPSenderRefused):
        if 400 <= exc.smtp_code < 500:
            return MessagingUnavailable(
                "the SMTP server deferred the sender", channel="email", code=f"smtp_{exc.smtp_code}"
            )
        return MessagingConfigError(
            "the SMTP server refused the sender address (messaging.smtp.sender)",
            channel="email",
            code=f"smtp_{exc.smtp_code}",
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        if 400 <= exc.smtp_code < 500:
            return MessagingUnavailable(
                "the SMTP server answered 'try again later'", channel="email", code=f"smtp_{exc.smtp_code}"
            )
        return MessageRejected(
            "the SMTP server refused the message",
            channel="email",
            code=f"smtp_{exc.smtp_code}",
            internal=name,
        )
    # SMTPServerDisconnected, SMTPConnectError without a code, SMTPHeloError …
    return MessagingUnavailable(
        "the SMTP session broke off", channel="email", code="smtp_disconnected", internal=name
    )
