"""SmtpSender against a real SMTP server on loopback (aiosmtpd): the message as received, AUTH, refusals,
an unreachable server, and the factory's e-mail path."""

from __future__ import annotations

import email
import email.policy
import logging
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import SecretStr

from config.settings import Settings, SmtpSettings
from connectors.errors import ConfigError
from connectors.messaging import (
    InvalidEmail,
    MessagingConfigError,
    MessagingUnavailable,
    RecipientInvalid,
    RetryPolicy,
    build_messaging,
    invitation_email,
)
from connectors.messaging.email import SmtpSender
from sandbox.server import free_port
from tests.log_fields import record_text

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
FAST = RetryPolicy(attempts=2, initial_delay=0)
SENDER = "portal@bridge.example.ru"


@dataclass
class Sink:
    """An aiosmtpd handler that keeps what it received and refuses chosen recipients."""

    received: list[Any] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    rcpt_calls: int = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        self.rcpt_calls += 1
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(envelope)
        return "250 Message accepted"


class Accounts:
    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            b"bridge",
            b"s3cret",
        )
        return AuthResult(success=ok, handled=False)


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    handler = Sink()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def auth_sink() -> Iterator[tuple[Sink, int]]:
    handler = Sink()
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=Accounts(),
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def smtp(port: int, **kwargs: Any) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=port, sender=SENDER, **kwargs)


async def test_russian_invitation_arrives_intact(sink: tuple[Sink, int]) -> None:
    handler, port = sink
    content = invitation_email("Мария", "https://portal.example.ru/invite?c=1")
    sender = SmtpSender(smtp(port), retry=FAST)
    delivery = await sender.send("Maria.Ivanova@Client.RU", content.subject, content.text, content.html)

    assert delivery.channel == "email" and delivery.status == "sent"
    assert len(handler.received) == 1
    envelope = handler.received[0]
    assert envelope.mail_from == SENDER
    assert envelope.rcpt_tos == ["maria.ivanova@client.ru"]
    message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert message["Subject"] == "Приглашение на портал сотрудников"
    assert message["Message-ID"] == delivery.message_id
    assert delivery.message_id.endswith("@bridge.example.ru>")
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    assert "Здравствуйте, Мария!" in plain.get_content()
    assert "https://portal.example.ru/invite?c=1" in plain.get_content()
    assert "Войти на портал" in html.get_content()
    # Headers travel RFC 2047-encoded: the raw subject line is pure ASCII.
    raw_subject = [line for line in envelope.original_content.split(b"\r\n") if line.startswith(b"Subject:")]
    assert raw_subject and raw_subject[0].isascii() and b"=?utf-8?" in raw_subject[0].lower()


async def test_plain_text_only(sink: tuple[Sink, int]) -> None:
    handler, port = sink
    await SmtpSender(smtp(port), retry=FAST).send("a@client.ru", "Тема", "Текст письма")
    message = email.message_from_bytes(handler.received[0].original_content, policy=email.policy.default)
    assert not message.is_multipart()
    assert message.get_content().strip() == "Текст письма"


async def test_login_with_the_right_password(auth_sink: tuple[Sink, int]) -> None:
    handler, port = auth_sink
    sender = SmtpSender(smtp(port, username="bridge", password=SecretStr("s3cret")), retry=FAST)
    await sender.send("a@client.ru", "Тема", "Текст")
    assert len(handler.received) == 1


async def test_wrong_password_is_a_config_error_and_not_retried(auth_sink: tuple[Sink, int]) -> None:
    handler, port = auth_sink
    sender = SmtpSender(smtp(port, username="bridge", password=SecretStr("wrong")), retry=FAST)
    with pytest.raises(MessagingConfigError) as caught:
        await sender.send("a@client.ru", "Тема", "Текст")
    assert isinstance(caught.value, ConfigError)
    assert caught.value.code == "smtp_auth"
    assert "wrong" not in caught.value.operator_message
    assert handler.received == []


async def test_starttls_unsupported_is_a_config_error(sink: tuple[Sink, int]) -> None:
    _, port = sink
    with pytest.raises(MessagingConfigError) as caught:
        await SmtpSender(smtp(port, starttls=True), retry=FAST).send("a@client.ru", "Тема", "Текст")
    assert caught.value.code == "smtp_not_supported"


async def test_refused_recipient_is_terminal(sink: tuple[Sink, int]) -> None:
    handler, port = sink
    handler.refuse["gone@client.ru"] = "550 5.1.1 No such user"
    with pytest.raises(RecipientInvalid) as caught:
        await SmtpSender(smtp(port), retry=FAST).send("gone@client.ru", "Тема", "Текст")
    assert caught.value.code == "smtp_550"
    assert handler.rcpt_calls == 1


async def test_deferred_recipient_is_retried_then_transient(
    sink: tuple[Sink, int], caplog: pytest.LogCaptureFixture
) -> None:
    handler, port = sink
    handler.refuse["busy@client.ru"] = "451 4.3.0 Try again later"
    with caplog.at_level(logging.DEBUG, logger="connectors"), pytest.raises(MessagingUnavailable) as caught:
        await SmtpSender(smtp(port), retry=FAST).send("busy@client.ru", "Тема", "Текст")
    assert caught.value.code == "smtp_451"
    assert handler.rcpt_calls == FAST.attempts
    logged = "\n".join(
        record_text(record) for record in caplog.records if record.name.startswith("connectors")
    )
    assert "messaging.retry" in logged and "code=smtp_451" in logged
    assert "busy" not in logged and "client.ru" not in logged and "Тема" not in logged


async def test_unreachable_server_is_transient() -> None:
    sender = SmtpSender(smtp(free_port()), retry=FAST, timeout=2)
    with pytest.raises(MessagingUnavailable) as caught:
        await sender.send("a@client.ru", "Тема", "Текст")
    assert caught.value.code == "smtp_unreachable"


async def test_malformed_address_never_reaches_the_server(sink: tuple[Sink, int]) -> None:
    handler, port = sink
    with pytest.raises(InvalidEmail):
        await SmtpSender(smtp(port), retry=FAST).send("not-an-address", "Тема", "Текст")
    assert handler.rcpt_calls == 0


async def test_factory_sends_email_and_refuses_sms_when_provider_is_none(sink: tuple[Sink, int]) -> None:
    handler, port = sink
    settings = Settings(messaging={"smtp": {"host": "127.0.0.1", "port": port, "sender": SENDER}})
    port_ = build_messaging(settings, retry=FAST)
    try:
        await port_.send_email("a@client.ru", "Тема", "Текст")
        with pytest.raises(MessagingConfigError) as caught:
            await port_.send_sms("+79161234567", "Текст")
        assert caught.value.code == "sms_not_configured"
    finally:
        await port_.close()
    assert len(handler.received) == 1


async def test_factory_without_smtp_refuses_email() -> None:
    port_ = build_messaging(Settings())
    with pytest.raises(MessagingConfigError) as caught:
        await port_.send_email("a@client.ru", "Тема", "Текст")
    assert caught.value.code == "email_not_configured"


@pytest.fixture
def tls_sink() -> Iterator[tuple[Sink, int, ssl.SSLContext]]:
    """A server that offers STARTTLS with a certificate from a throwaway CA and requires it before AUTH."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    handler = Sink()
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_context,
        require_starttls=True,
        authenticator=Accounts(),
        auth_required=True,
    )
    controller.start()
    try:
        yield handler, port, client_context
    finally:
        controller.stop()


async def test_starttls_then_login(tls_sink: tuple[Sink, int, ssl.SSLContext]) -> None:
    handler, port, trusted = tls_sink
    settings = smtp(port, starttls=True, username="bridge", password=SecretStr("s3cret"))
    await SmtpSender(settings, retry=FAST, tls_context=trusted).send("a@client.ru", "Тема", "Текст")
    assert len(handler.received) == 1
    assert handler.received[0].rcpt_tos == ["a@client.ru"]


async def test_untrusted_certificate_is_a_config_error(tls_sink: tuple[Sink, int, ssl.SSLContext]) -> None:
    handler, port, _ = tls_sink
    settings = smtp(port, starttls=True, username="bridge", password=SecretStr("s3cret"))
    with pytest.raises(MessagingConfigError) as caught:
        await SmtpSender(settings, retry=FAST).send("a@client.ru", "Тема", "Текст")  # system CAs only
    assert caught.value.code == "smtp_tls"
    assert handler.received == []


async def test_server_requiring_starttls_refuses_plain_sessions(
    tls_sink: tuple[Sink, int, ssl.SSLContext],
) -> None:
    handler, port, _ = tls_sink
    with pytest.raises(MessagingConfigError):
        await SmtpSender(smtp(port, username="bridge", password=SecretStr("s3cret")), retry=FAST).send(
            "a@client.ru", "Тема", "Текст"
        )
    assert handler.received == []
