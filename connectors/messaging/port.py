"""The messaging port: the one way the bridge sends e-mail and SMS, its result value and its errors.

connectors/messaging/email.py (SMTP) and sms.py (SMS.ru, a generic HTTP gateway) implement it;
``build_messaging`` (factory.py) puts them behind one object. Nothing outside connectors/messaging
sees smtplib or httpx exceptions: failures are the ``MessagingError`` subclasses below.

    MessagingError                       (connectors.errors)
    ├── MessagingUnavailable   Transient  gateway down, 5xx, timeout: retried here with backoff
    │                                     (unless the message may have gone out: maybe_delivered)
    ├── SendLimitReached       Transient  the gateway's per-number or daily limit: try again later
    ├── RecipientInvalid       Terminal   this recipient cannot be reached: quarantine the person
    │   ├── InvalidPhone                  not a mobile number in E.164 (validate.normalize_phone)
    │   └── InvalidEmail                  not a usable address (validate.validate_email)
    ├── MessageRejected        Terminal   the gateway refuses the message itself (too long, no funds)
    └── MessagingConfigError   Terminal   wrong credentials, sender not approved, channel not set up
                                          (also a ``ConfigError``: the operator must fix settings)

Every error carries ``channel`` and a short ``code`` (ours or the provider's) for logs and quarantine
records; the operator message never contains the recipient or the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from connectors.errors import ConfigError, MessagingError, Terminal, Transient

TChannel = Literal["email", "sms"]
TDeliveryStatus = Literal["sent", "queued"]
"""sent: handed to the next hop (SMTP server, HTTP gateway); queued: the SMS provider queued it."""


@dataclass(frozen=True)
class Delivery:
    """What a gateway said when it accepted one message."""

    channel: TChannel
    message_id: str
    """The provider's id (SMS.ru ``sms_id``) or the e-mail's Message-ID; '' when the gateway gives none."""
    status: TDeliveryStatus


class MessagingPort(Protocol):
    async def send_email(self, to: str, subject: str, text: str, html: str | None = None) -> Delivery:
        """Send one e-mail (plain text, optionally with an HTML alternative); raises MessagingError."""
        ...

    async def send_sms(self, to: str, text: str) -> Delivery:
        """Send one SMS to a mobile number (normalised to E.164 first); raises MessagingError."""
        ...

    async def close(self) -> None:
        """Release what the adapter owns (HTTP clients it created)."""
        ...


class MessagingFailure(MessagingError):
    """A MessagingError with the channel and a short machine-readable code."""

    def __init__(
        self, operator_message: str, *, channel: TChannel, code: str, internal: str | None = None
    ) -> None:
        super().__init__(operator_message, internal=internal)
        self.channel: TChannel = channel
        self.code = code


class MessagingUnavailable(MessagingFailure, Transient):
    """The gateway could not be reached or failed on its side; the same call may succeed later.

    ``maybe_delivered`` is set when the request reached the gateway but its answer was lost (a read
    timeout): the message may have gone out, so it is not retried in place (an SMS costs money and a
    duplicate invitation confuses people); the caller decides, e.g. by the next scheduled invitation.
    """

    def __init__(
        self,
        operator_message: str,
        *,
        channel: TChannel,
        code: str,
        internal: str | None = None,
        maybe_delivered: bool = False,
    ) -> None:
        super().__init__(operator_message, channel=channel, code=code, internal=internal)
        self.maybe_delivered = maybe_delivered


class SendLimitReached(MessagingFailure, Transient):
    """The gateway's sending limit for this number or day is used up; retry later, not right away."""


class MessageRejected(MessagingFailure, Terminal):
    """The gateway refused the message itself (too long, empty, no funds): sending it again won't help."""


class MessagingConfigError(MessagingFailure, ConfigError):
    """The channel is not set up, or the gateway refused our credentials or sender name."""


class RecipientInvalid(MessagingFailure, Terminal):
    """This recipient cannot receive the message; ``reason`` is fit for a quarantine record."""

    def __init__(
        self,
        reason: str,
        *,
        channel: TChannel,
        code: str,
        internal: str | None = None,
    ) -> None:
        super().__init__(reason, channel=channel, code=code, internal=internal)
        self.reason = reason


class InvalidPhone(RecipientInvalid):
    """Not a mobile number we can send an SMS to."""

    def __init__(self, reason: str, *, code: str) -> None:
        super().__init__(reason, channel="sms", code=code)


class InvalidEmail(RecipientInvalid):
    """Not an e-mail address we can send to (or that Bitrix24 would accept)."""

    def __init__(self, reason: str, *, code: str) -> None:
        super().__init__(reason, channel="email", code=code)
