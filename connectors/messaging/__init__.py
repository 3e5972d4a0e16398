"""connectors/messaging: e-mail over SMTP and SMS through a gateway, behind one port (port.py)."""

from connectors.messaging.factory import Messenger, build_messaging
from connectors.messaging.port import (
    Delivery,
    InvalidEmail,
    InvalidPhone,
    MessageRejected,
    MessagingConfigError,
    MessagingFailure,
    MessagingPort,
    MessagingUnavailable,
    RecipientInvalid,
    SendLimitReached,
)
from connectors.messaging.retry import RetryPolicy
from connectors.messaging.templates import EmailContent, invitation_email, invitation_sms, sms_segments
from connectors.messaging.validate import normalize_phone, validate_email

__all__ = [
    "Delivery",
    "EmailContent",
    "InvalidEmail",
    "InvalidPhone",
    "MessageRejected",
    "MessagingConfigError",
    "MessagingFailure",
    "MessagingPort",
    "MessagingUnavailable",
    "Messenger",
    "RecipientInvalid",
    "RetryPolicy",
    "SendLimitReached",
    "build_messaging",
    "invitation_email",
    "invitation_sms",
    "normalize_phone",
    "sms_segments",
    "validate_email",
]
