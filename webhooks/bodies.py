"""What Bitrix24 POSTs to the bridge, as strict models: the event (and install) form.

Shapes from bitrix24-rest.md §6.2 (top-level ``event``, ``event_handler_id``, ``data``, ``ts``, ``auth`` and
nothing else; the ``auth`` keys of an application, ``refresh_token`` on ONAPPINSTALL, [SDK]
``expires``/``user_id``) and §6.3 (``data.ID`` for ONUSERADD, ``data.FIELDS.ID`` for group events).
Further ``auth`` and ``data`` keys are accepted when their names are plain (``[A-Za-z0-9_]``) and their
values text, since Bitrix24 adds keys over time; a known key of the wrong shape is an error naming it.

A form carries text: every field is described by the pattern its text must match, and the same pattern
is what the validator checks, so the OpenAPI document (``form_schema``) and the service agree exactly.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from webhooks.forms import MAX_DEPTH, FormError, parse_php_form

NAME = r"[A-Za-z0-9_]{1,64}"
TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
"""Any text without control characters (the form parser refuses them)."""
_NAME = re.compile(NAME)
ID_PATTERN = r"^[0-9]{1,18}$"
_ID = re.compile(ID_PATTERN)


def _digits(pattern: str, what: str) -> BeforeValidator:
    """An integer sent as text that must match ``pattern`` exactly (no sign, spaces or underscores)."""
    compiled = re.compile(pattern)

    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValueError(f"must be {what}")
        if isinstance(value, str) and not compiled.fullmatch(value):
            raise ValueError(f"must be {what}")
        return value

    return BeforeValidator(check)


def _as_text(pattern: str) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "pattern": pattern})


Token = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9._~+/=-]+$")]
MemberId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Host = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$")]
Url = Annotated[
    str, Field(min_length=1, max_length=2048, pattern=r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[!-~]*)?$")
]
"""An http(s) URL on a host name (a portal's endpoint); no IPv6 literal, nothing urlsplit could refuse."""
Text = Annotated[str, Field(max_length=1024, pattern=TEXT)]
_TIME = r"^[0-9]{1,11}$"
_LIFETIME = r"^[1-9][0-9]{0,7}$"
Id = Annotated[int, _digits(ID_PATTERN, "a whole number of at most 18 digits"), _as_text(ID_PATTERN)]
UnixTime = Annotated[int, _digits(_TIME, "a Unix time in seconds (at most 11 digits)"), _as_text(_TIME)]
Lifetime = Annotated[
    int, _digits(_LIFETIME, "a positive number of seconds (at most 8 digits)"), _as_text(_LIFETIME)
]
"""Token lifetime: Bitrix24 gives 3600 (bitrix24-rest.md §8.3); anything up to ~3 years is taken."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_absent(cls, data: Any) -> Any:
        """PHP's http_build_query writes null as an empty value (``auth[expires]=``): a declared field
        sent empty is absent. (One call per model, not one per field: this runs on every call-out.)"""
        if not isinstance(data, dict):
            return data
        fields = cls.model_fields
        return {key: None if value == "" and key in fields else value for key, value in data.items()}


def _plain_extras(model: BaseModel, *, nested: bool) -> None:
    for key, value in (model.model_extra or {}).items():
        _check_plain(key, value, nested=nested)


def _check_plain(key: str, value: Any, *, nested: bool) -> None:
    if not _NAME.fullmatch(key):
        raise ValueError(f"key {key[:64]!r} is not a plain name ([A-Za-z0-9_], at most 64)")
    if isinstance(value, str):
        return
    if not nested:
        raise ValueError(f"[{key}] must be text")
    children = value.items() if isinstance(value, dict) else (("0", item) for item in value)
    for child_key, child in children:
        _check_plain(child_key, child, nested=True)


class EventAuth(_Strict):
    """``auth[…]`` of an application's event (bitrix24-rest.md §6.2)."""

    model_config = ConfigDict(extra="allow", frozen=True, hide_input_in_errors=True)

    access_token: Token | None = None
    refresh_token: Token | None = None
    application_token: Token | None = None
    member_id: MemberId | None = None
    domain: Host | None = None
    client_endpoint: Url | None = None
    server_endpoint: Url | None = None
    scope: Text | None = None
    status: Annotated[str, Field(pattern=r"^[A-Z]$")] | None = None
    expires_in: Lifetime | None = None
    expires: UnixTime | None = None
    user_id: Id | None = None

    @model_validator(mode="after")
    def _extras(self) -> EventAuth:
        _plain_extras(self, nested=False)
        return self

    def __repr_args__(self) -> Any:  # never print a token
        return [(k, v) for k, v in super().__repr_args__() if not (k and k.endswith("_token"))]


class EventData(_Strict):
    """``data[…]``: the object the event is about; other keys are kept as JSON for the handler."""

    model_config = ConfigDict(extra="allow", frozen=True, hide_input_in_errors=True)

    ID: Id | None = None
    FIELDS: dict[str, JsonValue] | None = None

    @field_validator("FIELDS")
    @classmethod
    def _fields(cls, value: dict[str, JsonValue] | None) -> dict[str, JsonValue] | None:
        for key, item in (value or {}).items():
            _check_plain(key, item, nested=True)
        subject = (value or {}).get("ID")
        if subject not in (None, "") and not (isinstance(subject, str) and _ID.fullmatch(subject)):
            raise ValueError("[ID] must be a whole number of at most 18 digits")
        return value

    @model_validator(mode="after")
    def _extras(self) -> EventData:
        _plain_extras(self, nested=True)
        return self

    @property
    def subject(self) -> int | None:
        """The id of the changed object: ``data.ID`` (ONUSERADD) or ``data.FIELDS.ID`` (group events)."""
        if self.ID is not None:
            return self.ID
        value = (self.FIELDS or {}).get("ID")
        return int(value) if isinstance(value, str) and value else None


class EventBody(_Strict):
    """An event POSTed by Bitrix24 to an application's handler (bitrix24-rest.md §6.2)."""

    event: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_]+$")]
    event_handler_id: Id | None = None
    ts: UnixTime | None = None
    data: EventData = EventData()
    auth: EventAuth = EventAuth()

    @field_validator("event")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


class InstallAuth(EventAuth):
    """ONAPPINSTALL carries the admin's tokens: everything the bridge must verify and keep."""

    access_token: Token
    application_token: Token
    member_id: MemberId
    domain: Host
    client_endpoint: Url


INSTALL_EVENT = "ONAPPINSTALL"


class InstallBody(EventBody):
    event: Annotated[str, Field(pattern="^" + "".join(f"[{c}{c.lower()}]" for c in INSTALL_EVENT) + "$")]
    auth: InstallAuth


class BodyError(ValueError):
    """A body that is not what Bitrix24 sends; ``str()`` is the message for the caller (no values)."""


M = TypeVar("M", bound=EventBody)


def parse_body(model: type[M], raw: bytes) -> M:
    """The raw form → ``model``, or ``BodyError`` naming the bad fields in PHP bracket form."""
    try:
        form = parse_php_form(raw)
    except FormError as exc:
        raise BodyError(str(exc)) from None
    try:
        return model.model_validate(form)
    except ValidationError as exc:
        raise BodyError("; ".join(_describe(error) for error in exc.errors()[:5])) from None


def _describe(error: Any) -> str:
    location = [str(part) for part in error["loc"]]
    name = location[0] + "".join(f"[{part}]" for part in location[1:]) if location else "body"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error.get("type") == "extra_forbidden":
        message = "not a field of a Bitrix24 event (event, event_handler_id, ts, data[…], auth[…])"
    return f"{name}: {message}"


def form_schema(model: type[EventBody]) -> dict[str, Any]:
    """The wire form of ``model`` for OpenAPI: one property per bracket name, each value text with the
    pattern the validator checks; further ``auth[…]``/``data[…]`` keys as pattern properties."""
    schema = model.model_json_schema(ref_template="{model}")
    definitions = schema.get("$defs", {})
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, prop in schema["properties"].items():
        section = definitions.get(prop.get("$ref", ""))
        if section is None:
            properties[name] = _text(prop)
            required += [name] if name in schema.get("required", []) else []
            continue
        for inner, inner_prop in section["properties"].items():
            if _nullable(inner_prop).get("type") == "object":  # data[FIELDS]: its ID, then a pattern
                properties[f"{name}[{inner}][ID]"] = _text({"anyOf": [_ID_TEXT, {"type": "null"}]})
                continue
            properties[f"{name}[{inner}]"] = _text(inner_prop)
            required += [f"{name}[{inner}]"] if inner in section.get("required", []) else []

    def deeper(levels: int) -> str:
        return rf"(\[({NAME})?\]){{0,{levels}}}"

    text = {"type": "string", "pattern": TEXT}
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "patternProperties": {
            rf"^auth\[(?!({'|'.join(EventAuth.model_fields)})\]){NAME}\]$": text,
            rf"^data\[(?!(ID|FIELDS)\]){NAME}\]{deeper(MAX_DEPTH - 2)}$": text,
            rf"^data\[FIELDS\]\[(?!ID\]){NAME}\]{deeper(MAX_DEPTH - 3)}$": text,
        },
        "additionalProperties": False,
    }


def _nullable(prop: dict[str, Any]) -> dict[str, Any]:
    options = [p for p in prop.get("anyOf", []) if p.get("type") != "null"]
    return options[0] if len(options) == 1 else prop


_ID_TEXT = {"type": "string", "pattern": ID_PATTERN}


def _text(prop: dict[str, Any]) -> dict[str, Any]:
    """The text a field takes; an optional one may also be sent empty (it then counts as absent)."""
    kept = ("type", "pattern", "minLength", "maxLength")
    text = {k: v for k, v in _nullable(prop).items() if k in kept}
    if "anyOf" in prop and text.get("pattern") != TEXT:
        return {"anyOf": [{"type": "string", "maxLength": 0}, text]}
    return text
