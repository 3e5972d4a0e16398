"""What Bitrix24 POSTs to the bridge, as strict models: the event (and install) form.

Shapes from bitrix24-rest.md §6.2 (top-level ``event``, ``event_handler_id``, ``data``, ``ts``, ``auth``;
the ``auth`` keys of an application, ``refresh_token`` on ONAPPINSTALL, [SDK] ``expires``/``user_id``)
and §6.3 (``data.ID`` for ONUSERADD, ``data.FIELDS.ID`` for group events). Unknown keys are kept out of
the model (Bitrix24 adds keys over time); a known key of the wrong shape is an error that names it.

``form_schema`` turns a model into the OpenAPI description of its wire form: flat PHP bracket names
(``auth[application_token]``) in ``application/x-www-form-urlencoded``.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, field_validator

from webhooks.forms import FormError, parse_php_form

Token = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9._~+/=-]+$")]
MemberId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Host = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$")]
Url = Annotated[str, Field(min_length=1, max_length=2048, pattern=r"^https?://[^\s]+$")]
Short = Annotated[str, Field(max_length=1024)]
Id = Annotated[int, Field(ge=0, le=2**63 - 1)]
UnixTime = Annotated[int, Field(ge=0, le=32_503_680_000)]
"""Seconds since 1970, up to the year 3000."""
Lifetime = Annotated[int, Field(gt=0, le=366 * 86400)]
"""Token lifetime in seconds: positive, at most a year (Bitrix24 gives 3600, bitrix24-rest.md §8.3)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: Any) -> Any:
        """PHP's http_build_query writes null as an empty value (``auth[expires]=``)."""
        return None if value == "" else value


class EventAuth(_Strict):
    """``auth[…]`` of an application's event (bitrix24-rest.md §6.2)."""

    access_token: Token | None = None
    refresh_token: Token | None = None
    application_token: Token | None = None
    member_id: MemberId | None = None
    domain: Host | None = None
    client_endpoint: Url | None = None
    server_endpoint: Url | None = None
    scope: Short | None = None
    status: Annotated[str, Field(pattern=r"^[A-Z]$")] | None = None
    expires_in: Lifetime | None = None
    expires: UnixTime | None = None
    user_id: Id | None = None

    def __repr_args__(self) -> Any:  # never print a token
        return [(k, v) for k, v in super().__repr_args__() if not (k and k.endswith("_token"))]


class EventData(_Strict):
    """``data[…]``: the object the event is about; other keys are kept as JSON for the handler."""

    model_config = ConfigDict(extra="allow", frozen=True, hide_input_in_errors=True)

    ID: Id | None = None
    FIELDS: dict[str, JsonValue] | None = None

    @property
    def subject(self) -> int | None:
        """The id of the changed object: ``data.ID`` (ONUSERADD) or ``data.FIELDS.ID`` (group events)."""
        if self.ID is not None:
            return self.ID
        value = (self.FIELDS or {}).get("ID")
        return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 19 else None


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


class InstallBody(EventBody):
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
    return f"{name}: {error['msg']}"


def form_schema(model: type[BaseModel], *, open_sections: tuple[str, ...] = ("data",)) -> dict[str, Any]:
    """The wire form of ``model`` for OpenAPI: one property per bracket name, values as strings
    (a form carries text; the pattern says which text parses)."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    schema = model.model_json_schema()
    definitions = schema.get("$defs", {})
    for name, prop in schema["properties"].items():
        target = _resolve(prop, definitions)
        if "properties" in target:
            for inner, inner_prop in target["properties"].items():
                key = f"{name}[{inner}]"
                resolved = _resolve(inner_prop, definitions)
                if resolved.get("type") == "object":  # a group such as data[FIELDS]: its ID as example
                    properties[f"{key}[ID]"] = _as_text({"type": "integer"})
                    continue
                properties[key] = _as_text(resolved)
                if inner in target.get("required", []):
                    required.append(key)
        else:
            properties[name] = _as_text(target)
            if name in schema.get("required", []):
                required.append(name)
    out: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
    if open_sections:
        out["additionalProperties"] = {"type": "string", "maxLength": 1024}
    return out


def _resolve(prop: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in prop:
        return dict(definitions[prop["$ref"].rsplit("/", 1)[-1]])
    options = [p for p in prop.get("anyOf", []) if p.get("type") != "null"]
    if len(options) == 1:
        return _resolve(options[0], definitions)
    return prop


def _as_text(prop: dict[str, Any]) -> dict[str, Any]:
    if prop.get("type") == "integer":
        upper = prop.get("maximum", prop.get("exclusiveMaximum"))
        return {"type": "string", "pattern": r"^[0-9]+$", "maxLength": len(str(upper)) if upper else 19}
    if prop.get("type") == "string":
        return {k: v for k, v in prop.items() if k in ("type", "pattern", "minLength", "maxLength")}
    return {"type": "string", "maxLength": 1024}
