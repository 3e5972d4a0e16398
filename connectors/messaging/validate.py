"""Pure checks of contact data from 1C: phone numbers to E.164 mobile numbers, e-mail addresses by syntax.

Both return the normalised value, ``None`` when the field is empty, or raise ``InvalidPhone`` /
``InvalidEmail`` with a fixed ``code`` and an English ``reason`` fit for a quarantine record: the
reason never quotes the value itself (personal data stays out of records and logs).

E-mail decisions (the mirror feeds these addresses to Bitrix24 ``user.add`` and to SMTP):
- syntax only, no DNS (``email-validator`` with ``check_deliverability=False``);
- a Cyrillic (internationalised) domain such as ``почта.рф`` is accepted and returned in its ASCII
  (punycode) form ``xn--80a1acny.xn--p1ai``, which every SMTP server and Bitrix24 accept;
- a non-ASCII local part (``иван@…``) is rejected (``non_ascii_local_part``): it needs SMTPUTF8,
  which neither Bitrix24 nor most relays support;
- reserved domains (``.invalid``, ``.local``, ``localhost``) are rejected; ``.test`` is allowed so the
  sandboxes and demo company can use it;
- the whole address is lower-cased: the mirror compares addresses to find the owner of an e-mail, and
  mail systems treat the local part case-insensitively in practice.
"""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError
from email_validator import validate_email as _library_validate_email
from phonenumbers import NumberParseException, PhoneNumberType

from connectors.messaging.port import InvalidEmail, InvalidPhone

_MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
_SEVERAL = re.compile(r"[,;\s]")


def normalize_phone(raw: str | None, default_region: str = "RU") -> str | None:
    """The number as E.164 (``+79161234567``), ``None`` if empty, or InvalidPhone with the reason."""
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if len(re.findall(r"\d", text)) > 15 and _SEVERAL.search(text):
        raise InvalidPhone("the field holds several phone numbers", code="several_numbers")
    try:
        number = phonenumbers.parse(text, default_region)
    except NumberParseException as exc:
        raise InvalidPhone("not a phone number", code="unparseable") from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhone("the number has the wrong length for its country", code="wrong_length")
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("the number does not exist in its country's numbering plan", code="invalid")
    number_type = phonenumbers.number_type(number)
    if number_type not in _MOBILE_TYPES:
        raise InvalidPhone(f"not a mobile number (type: {_type_name(number_type)})", code="not_mobile")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _type_name(number_type: int) -> str:
    for name in dir(PhoneNumberType):
        if not name.startswith("_") and getattr(PhoneNumberType, name) == number_type:
            return name.lower()
    return "unknown"


def validate_email(raw: str | None) -> str | None:
    """The address lower-cased with an ASCII domain, ``None`` if empty, or InvalidEmail with the reason."""
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if text.count("@") > 1:
        raise InvalidEmail("the field holds several e-mail addresses", code="several_addresses")
    local = text.rsplit("@", 1)[0]
    if not local.isascii():
        raise InvalidEmail(
            "the mailbox name has non-Latin letters (needs SMTPUTF8, unsupported)",
            code="non_ascii_local_part",
        )
    try:
        info = _library_validate_email(
            text, check_deliverability=False, allow_smtputf8=False, test_environment=True
        )
    except EmailNotValidError as exc:
        message = str(exc)
        if "special-use or reserved" in message:
            raise InvalidEmail(
                "the domain is reserved and cannot receive mail", code="reserved_domain"
            ) from exc
        raise InvalidEmail("malformed e-mail address", code="syntax") from exc
    address = info.ascii_email or info.normalized
    return address.lower()
