"""``build_messaging``: the MessagingPort built from settings (called from the composition root only).

E-mail goes through SMTP when ``messaging.smtp.host`` is set; SMS through the provider named by
``messaging.sms.provider``: ``smsru`` (``api_key`` is the api_id; ``url``, if set, replaces
https://sms.ru — for a sandbox), ``http`` (``url``, ``api_key`` as bearer token), or ``none``.
A channel that is not set up (no SMTP host, provider ``none``) raises MessagingConfigError when it is
used, so a bridge that only sends e-mail runs without SMS settings; a provider that is chosen but
half-configured (no api_key, no url) fails here, at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import httpx

from connectors.messaging.email import SmtpSender
from connectors.messaging.port import Delivery, MessagingConfigError
from connectors.messaging.retry import RetryPolicy
from connectors.messaging.sms import SMSRU_URL, HttpSmsGateway, SmsRuGateway

if TYPE_CHECKING:
    from config.settings import Settings

DEFAULT_HTTP_TIMEOUT = httpx.Timeout(15.0, connect=5.0)


class SmsGateway(Protocol):
    """What sms.py's gateways offer."""

    async def send(self, to: str, text: str) -> Delivery: ...


class Messenger:
    """MessagingPort over an optional SMTP sender and an optional SMS gateway."""

    def __init__(
        self,
        email: SmtpSender | None,
        sms: SmsGateway | None,
        *,
        sms_provider: str = "none",
        owned_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._email = email
        self._sms = sms
        self._sms_provider = sms_provider
        self._owned_client = owned_client

    async def send_email(self, to: str, subject: str, text: str, html: str | None = None) -> Delivery:
        if self._email is None:
            raise MessagingConfigError(
                "e-mail is not configured (set messaging.smtp.host)",
                channel="email",
                code="email_not_configured",
            )
        return await self._email.send(to, subject, text, html)

    async def send_sms(self, to: str, text: str) -> Delivery:
        if self._sms is None:
            raise MessagingConfigError(
                f"SMS is not configured (messaging.sms.provider is '{self._sms_provider}')",
                channel="sms",
                code="sms_not_configured",
            )
        return await self._sms.send(to, text)

    async def close(self) -> None:
        if self._owned_client is not None:
            await self._owned_client.aclose()
            self._owned_client = None


def build_messaging(
    settings: Settings,
    *,
    client: httpx.AsyncClient | None = None,
    retry: RetryPolicy | None = None,
) -> Messenger:
    """Build the port; ``client`` is used for SMS if given, otherwise one is created and owned."""
    messaging = settings.messaging
    email = SmtpSender(messaging.smtp, retry=retry) if messaging.smtp.host else None
    provider = messaging.sms.provider
    if provider == "none":
        return Messenger(email, None, sms_provider=provider)
    # An unused AsyncClient holds no connections, so a config error below leaks nothing.
    http = client if client is not None else httpx.AsyncClient(timeout=DEFAULT_HTTP_TIMEOUT)
    owned = http if client is None else None
    sms = _sms_gateway(settings, http, retry)
    return Messenger(email, sms, sms_provider=provider, owned_client=owned)


def _sms_gateway(settings: Settings, client: httpx.AsyncClient, retry: RetryPolicy | None) -> SmsGateway:
    messaging = settings.messaging
    sms = messaging.sms
    if sms.provider == "smsru":
        return SmsRuGateway(
            client,
            sms.api_key,
            sender=sms.sender,
            base_url=sms.url or SMSRU_URL,
            default_region=messaging.default_region,
            retry=retry,
        )
    return HttpSmsGateway(
        client,
        sms.url,
        token=sms.api_key,
        sender=sms.sender,
        default_region=messaging.default_region,
        retry=retry,
    )
