"""connectors/messaging: e-mail over SMTP and SMS through a gateway, behind one port (port.py).

Importing this package (or ``port``, ``validate``, ``templates``) loads no I/O library: the senders
(smtplib, httpx) and their factory are imported on first use of their names.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
from connectors.messaging.templates import EmailContent, invitation_email, invitation_sms, sms_segments
from connectors.messaging.validate import normalize_phone, validate_email

if TYPE_CHECKING:
    from connectors.messaging.factory import Messenger, build_messaging
    from connectors.messaging.retry import RetryPolicy

_LAZY = {"Messenger": "factory", "build_messaging": "factory", "RetryPolicy": "retry"}

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


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
