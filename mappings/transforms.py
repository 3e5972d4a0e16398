"""Named transforms a mapping may apply to a source attribute. Pure functions; each is unit-tested.

A transform takes the attribute's value and returns the Bitrix24 value (a string, or None to leave the
field empty) or raises ``TransformError`` with a reason code that sends the person to quarantine. An
optional value that cannot be used is returned as ``Dropped``: the field stays empty, the person is
mirrored, and the reason becomes a data-quality warning (issue 8 item 7).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from connectors.messaging import validate
from connectors.messaging.port import InvalidPhone

EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$"
)


class TransformError(ValueError):
    """A value that cannot be mirrored; ``code`` becomes the quarantine reason code."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Dropped(str):
    """An unusable optional value, sent as the empty string, carrying why (a data-quality warning).

    A ``str`` equal to ``""``, so everything that compares, hashes or sends field values treats it as
    an empty field; ``sync.diff.field_warnings`` finds it by type before the plan is stored.
    """

    code: str
    reason: str

    def __new__(cls, code: str, reason: str) -> Dropped:
        dropped = super().__new__(cls, "")
        dropped.code, dropped.reason = code, reason
        return dropped

    def __reduce__(self) -> tuple[Any, ...]:
        return (Dropped, (self.code, self.reason))


def identity(value: Any) -> Any:
    return value


def text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value).strip() or None


def normalize_email(value: str) -> str:
    """Lower-case and check an address; raises TransformError('malformed_email')."""
    candidate = value.strip().lower()
    if not EMAIL_RE.match(candidate) or ".." in candidate:
        raise TransformError("malformed_email", "the e-mail address is malformed")
    return candidate


def primary_email(value: Any) -> str:
    """The first e-mail of the person; Bitrix24's user.add requires one (bitrix24-rest.md §2.1)."""
    emails = [e for e in (value or ()) if e and e.strip()]
    if not emails:
        raise TransformError("no_email", "the person has no e-mail in 1C; Bitrix24 requires one")
    return normalize_email(emails[0])


def normalize_phone(value: str, region: str = "RU") -> str:
    """E.164 form of a mobile number; raises TransformError('malformed_phone').

    The same check the SMS gateways use (connectors/messaging/validate.py), so a number the mirror
    accepts is one an invitation can be sent to.
    """
    try:
        number = validate.normalize_phone(value, region)
    except InvalidPhone as exc:
        raise TransformError(
            "malformed_phone", f"the mobile phone number is unusable: {exc.operator_message}"
        ) from exc
    if number is None:
        raise TransformError("malformed_phone", "the mobile phone number is empty")
    return number


def mobile_e164(value: Any) -> str | None:
    """The person's mobile number (kind Mobile first, else the first one) in E.164, or None if none.

    A landline or malformed number does not block the account: it is ``Dropped`` (left empty, warned
    about), so the person is mirrored and only SMS invitations leave them out.
    """
    phones = list(value or ())
    if not phones:
        return None
    mobile = next((p for p in phones if getattr(p, "kind", "") == "Mobile"), phones[0])
    raw = getattr(mobile, "value", mobile)
    if not raw or not str(raw).strip():
        return None
    try:
        return normalize_phone(str(raw))
    except TransformError as exc:
        return Dropped("unusable_phone", exc.reason)


def iso_date(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, date) else None


def gender_letter(value: Any) -> str | None:
    return {"Male": "M", "Female": "F"}.get(value or "")


def upper(value: Any) -> str | None:
    return str(value).upper() if value is not None else None


TRANSFORMS: dict[str, Callable[[Any], Any]] = {
    "identity": identity,
    "text": text,
    "primary_email": primary_email,
    "mobile_e164": mobile_e164,
    "iso_date": iso_date,
    "gender_letter": gender_letter,
    "upper": upper,
}
