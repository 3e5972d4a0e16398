"""SMS gateways over an injected ``httpx.AsyncClient``: SMS.ru and a generic JSON-over-HTTP gateway.

SMS.ru (``POST https://sms.ru/sms/send`` with ``api_id``, ``to``, ``msg``, ``from``, ``json=1``) answers
HTTP 200 with a body whose top-level ``status``/``status_code`` say whether the request as a whole was
accepted (credentials, sender, balance) and whose ``sms.<number>`` entry says what happened to each
number; ``SMSRU_CODES`` maps each documented code to our error. The form is POSTed so the api_id and the
text never appear in a URL (proxies and access logs keep URLs).

The generic gateway POSTs JSON ``{to, text, sender}`` to a configured URL with an optional bearer
token: any 2xx is "sent" (the id is read from ``id`` or ``message_id`` if the body has one).

Both retry ``MessagingUnavailable`` (5xx, connect failures, SMS.ru 220/500) with backoff (retry.py);
nothing else is retried here — a read timeout after the request went out is reported as
``maybe_delivered`` and not resent. Logs carry status codes only: no numbers, texts or keys.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.messaging.port import (
    Delivery,
    InvalidPhone,
    MessageRejected,
    MessagingConfigError,
    MessagingFailure,
    MessagingUnavailable,
    RecipientInvalid,
    SendLimitReached,
)
from connectors.messaging.retry import RetryPolicy
from connectors.messaging.validate import normalize_phone

log = logging.getLogger(__name__)

SMSRU_URL = "https://sms.ru"

# SMS.ru status codes (sms.ru/api/send, "коды ответов") → (error class, our operator message).
SMSRU_CODES: dict[int, tuple[type[MessagingFailure], str]] = {
    200: (MessagingConfigError, "SMS.ru refused the api_id (messaging.sms.api_key)"),
    201: (MessageRejected, "the SMS.ru balance is too low"),
    202: (RecipientInvalid, "SMS.ru: wrong recipient number or no route to it"),
    203: (MessageRejected, "SMS.ru: the message has no text"),
    204: (MessagingConfigError, "SMS.ru: the sender name is not approved (messaging.sms.sender)"),
    205: (MessageRejected, "SMS.ru: the message is too long (over 8 SMS)"),
    206: (SendLimitReached, "SMS.ru: the daily sending limit is reached"),
    207: (RecipientInvalid, "SMS.ru: messages cannot be sent to this number"),
    208: (MessageRejected, "SMS.ru: the 'time' parameter is wrong"),
    209: (RecipientInvalid, "SMS.ru: the number is on the account's stop list"),
    210: (MessageRejected, "SMS.ru: GET used where POST is required"),
    211: (MessageRejected, "SMS.ru: method not found"),
    212: (MessageRejected, "SMS.ru: the text must be UTF-8"),
    213: (MessageRejected, "SMS.ru: more than 100 recipients in one request"),
    220: (MessagingUnavailable, "SMS.ru is temporarily unavailable"),
    230: (SendLimitReached, "SMS.ru: daily limit of messages to this number"),
    231: (SendLimitReached, "SMS.ru: limit of identical messages to this number per minute"),
    232: (SendLimitReached, "SMS.ru: limit of identical messages to this number per day"),
    233: (SendLimitReached, "SMS.ru: too many repeated code messages to this number"),
    300: (MessagingConfigError, "SMS.ru: wrong token (expired, or the IP changed)"),
    301: (MessagingConfigError, "SMS.ru: wrong api_id, or login/password"),
    302: (MessagingConfigError, "SMS.ru: the account is not confirmed"),
    500: (MessagingUnavailable, "SMS.ru: server error, try again"),
}
SMSRU_OK = 100


def smsru_error(code: int) -> MessagingFailure:
    """The error for an SMS.ru status code; an unknown code counts as transient and is logged 'unmapped'."""
    known = SMSRU_CODES.get(code)
    if known is None:
        log.warning("sms.smsru.unmapped", extra={"status_code": code})
        return MessagingUnavailable(
            f"SMS.ru answered unknown code {code}", channel="sms", code=f"smsru_{code}"
        )
    cls, message = known
    return cls(message, channel="sms", code=f"smsru_{code}")


def _http_error(response: httpx.Response, gateway: str) -> MessagingFailure:
    """A non-2xx HTTP answer → our error, from the status alone (bodies may echo the message)."""
    status = response.status_code
    code = f"{gateway}_http_{status}"
    if status in (401, 403):
        return MessagingConfigError(
            f"{gateway}: the gateway refused our credentials", channel="sms", code=code
        )
    if status == 404:
        return MessagingConfigError(f"{gateway}: the gateway URL is wrong (404)", channel="sms", code=code)
    if status in (408, 425, 429) or status >= 500:
        return MessagingUnavailable(
            f"{gateway}: the gateway answered HTTP {status}", channel="sms", code=code
        )
    return MessageRejected(
        f"{gateway}: the gateway refused the message (HTTP {status})", channel="sms", code=code
    )


async def _post(client: httpx.AsyncClient, url: str, gateway: str, **kwargs: Any) -> httpx.Response:
    try:
        return await client.post(url, **kwargs)
    except (httpx.ConnectTimeout, httpx.PoolTimeout):
        raise MessagingUnavailable(
            f"{gateway}: the gateway timed out", channel="sms", code=f"{gateway}_timeout"
        ) from None
    except httpx.TimeoutException:
        # The request went out; whether the gateway acted on it is unknown: never resend in place.
        raise MessagingUnavailable(
            f"{gateway}: no answer from the gateway; the SMS may have been sent",
            channel="sms",
            code=f"{gateway}_no_answer",
            maybe_delivered=True,
        ) from None
    except httpx.TransportError as exc:
        raise MessagingUnavailable(
            f"{gateway}: the gateway cannot be reached",
            channel="sms",
            code=f"{gateway}_unreachable",
            internal=type(exc).__name__,
        ) from None


def _recipient(to: str, default_region: str) -> str:
    number = normalize_phone(to, default_region)
    if number is None:
        raise InvalidPhone("no phone number", code="empty")
    return number


class SmsRuGateway:
    """SMS.ru's HTTP API (one number per request)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        api_id: SecretStr,
        *,
        sender: str = "",
        base_url: str = SMSRU_URL,
        test: bool = False,
        default_region: str = "RU",
        retry: RetryPolicy | None = None,
    ) -> None:
        if not api_id.get_secret_value():
            raise MessagingConfigError("SMS.ru needs messaging.sms.api_key", channel="sms", code="no_api_key")
        self._client = client
        self._api_id = api_id
        self._sender = sender
        self._url = base_url.rstrip("/") + "/sms/send"
        self._test = test
        self._region = default_region
        self._retry = retry or RetryPolicy()

    async def send(self, to: str, text: str) -> Delivery:
        number = _recipient(to, self._region)
        return await self._retry.run(lambda: self._send_once(number.lstrip("+"), text))

    async def _send_once(self, number: str, text: str) -> Delivery:
        form = {"api_id": self._api_id.get_secret_value(), "to": number, "msg": text, "json": "1"}
        if self._sender:
            form["from"] = self._sender
        if self._test:
            form["test"] = "1"
        response = await _post(self._client, self._url, "smsru", data=form)
        if not response.is_success:
            raise _http_error(response, "smsru")
        try:
            body = response.json()
        except ValueError:
            raise MessagingUnavailable(
                "SMS.ru answered something that is not JSON", channel="sms", code="smsru_body"
            ) from None
        if not isinstance(body, dict):
            raise MessagingUnavailable("SMS.ru answered an unexpected body", channel="sms", code="smsru_body")
        if body.get("status") != "OK":
            raise smsru_error(_int(body.get("status_code")))
        entries = body.get("sms") or {}
        entry = entries.get(number) if isinstance(entries, dict) else None
        if entry is None and isinstance(entries, dict) and len(entries) == 1:
            entry = next(iter(entries.values()))  # one number sent, whatever key it came back under
        if not isinstance(entry, dict):
            raise MessagingUnavailable(
                "SMS.ru did not report on the number", channel="sms", code="smsru_body"
            )
        if entry.get("status") != "OK":
            raise smsru_error(_int(entry.get("status_code")))
        log.info(
            "sms.sent",
            extra={
                "gateway": "smsru",
                "status_code": entry.get("status_code", SMSRU_OK),
                "balance": body.get("balance"),
            },
        )
        return Delivery(channel="sms", message_id=str(entry.get("sms_id", "")), status="queued")


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


class HttpSmsGateway:
    """A generic gateway: POST JSON {to, text, sender} to ``url``; 2xx means sent."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        *,
        token: SecretStr | None = None,
        sender: str = "",
        default_region: str = "RU",
        retry: RetryPolicy | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise MessagingConfigError(
                "the HTTP SMS gateway needs messaging.sms.url (http or https)", channel="sms", code="no_url"
            )
        self._client = client
        self._url = url
        self._token = token
        self._sender = sender
        self._region = default_region
        self._retry = retry or RetryPolicy()

    async def send(self, to: str, text: str) -> Delivery:
        number = _recipient(to, self._region)
        return await self._retry.run(lambda: self._send_once(number, text))

    async def _send_once(self, number: str, text: str) -> Delivery:
        headers = {}
        if self._token is not None and self._token.get_secret_value():
            headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        payload = {"to": number, "text": text, "sender": self._sender}
        response = await _post(self._client, self._url, "gateway", json=payload, headers=headers)
        if not response.is_success:
            raise _http_error(response, "gateway")
        log.info("sms.sent", extra={"gateway": "generic", "status": response.status_code})
        return Delivery(channel="sms", message_id=_message_id(response), status="sent")


def _message_id(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        for key in ("id", "message_id", "messageId"):
            if body.get(key) is not None:
                return str(body[key])
    return ""
