"""The process catalog: one YAML file (``catalog.yaml``) validated into strict, frozen models.

Each entry says what the employee fills in (fields with their types and limits), which cross-field
checks run before anything reaches 1C, who approves at each step (and who takes over after the
deadline), when reminders go out, which 1C ``SubmitRequest`` kind an approved request becomes, and what
the employee is told at each outcome. Adding a process is adding an entry: the engine (engine.py), the
validation (validation.py) and the Bitrix24 template builder (bpt.py) read nothing else.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from connectors.onec.port import TRequestKind

CATALOG_FILE = Path(__file__).with_name("catalog.yaml")
CODE = r"^[a-z][a-z0-9_]{0,30}$"
FieldType = Literal[
    "string", "text", "date", "int", "decimal", "select", "bool", "file", "bik", "bank_account", "user"
]
ApproverRole = Literal["client_approver", "provider_manager", "alternate_approver"]
Outcome = Literal[
    "received",
    "invalid",
    "approved",
    "rejected",
    "submitted",
    "done",
    "cancelled",
    "failed",
    "withdrawn",
    "withdraw_refused",
]
OUTCOMES: tuple[str, ...] = get_args(Outcome)


class CatalogError(ValueError):
    """The catalog file is missing, not YAML, or breaks a rule; the message names the place."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FormField(_Strict):
    """One field of the request form (a property of the Bitrix24 list)."""

    code: str = Field(pattern=CODE)
    label: str = Field(min_length=1)
    type: FieldType
    required: bool = False
    required_when: dict[str, str] = Field(default_factory=dict)
    """Required only when every named field has the given value (e.g. ``{action: transfer}``)."""
    multiple: bool = False
    options: dict[str, str] = Field(default_factory=dict)
    """select only: value → label."""
    min: float | None = None
    max: float | None = None
    max_length: int | None = Field(default=None, gt=0)
    pattern: str | None = None
    """A regular expression the whole value must match (strings)."""
    hint: str | None = None
    """Shown to the employee beside the field and in the validation message (Russian)."""

    @model_validator(mode="after")
    def _consistent(self) -> FormField:
        if (self.type == "select") != bool(self.options):
            raise ValueError("options are required for a select field and only for it")
        if self.pattern is not None:
            re.compile(self.pattern)
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is greater than max")
        return self


class PeriodCheck(_Strict):
    """The end is not before the start; optionally the period is at most ``max_days`` long."""

    kind: Literal["period"]
    start: str
    end: str
    max_days: int | None = Field(default=None, gt=0)


class BalanceCheck(_Strict):
    """The period's calendar days do not exceed the leave balance that 1C reports."""

    kind: Literal["leave_balance"]
    start: str
    end: str


class BankAccountCheck(_Strict):
    """The account passes the Central Bank control key computed with the BIK."""

    kind: Literal["bank_account"]
    bik: str
    account: str


Check = Annotated[PeriodCheck | BalanceCheck | BankAccountCheck, Field(discriminator="kind")]


class ApprovalStep(_Strict):
    """One approval: who decides, how long they have, when they are reminded, who takes over."""

    code: str = Field(pattern=CODE)
    title: str = Field(min_length=1)
    approver: ApproverRole
    deadline_hours: int = Field(gt=0)
    remind_after_hours: int | None = Field(default=None, gt=0)
    alternate: ApproverRole | None = None
    """Decides instead when ``approver`` is silent past the deadline; None = the task waits, reminded."""
    comment_required_on_reject: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> ApprovalStep:
        if self.remind_after_hours is not None and self.remind_after_hours >= self.deadline_hours:
            raise ValueError("remind_after_hours must come before deadline_hours")
        if self.alternate == self.approver:
            raise ValueError("the alternate must differ from the approver")
        return self


def _known_kind(kind: str) -> str:
    if kind not in get_args(TRequestKind):
        raise ValueError(f"unknown 1C request kind {kind!r}; known: {', '.join(get_args(TRequestKind))}")
    return kind


class KindByField(_Strict):
    """The 1C kind chosen by a select field's value (e.g. the certificate kind)."""

    field: str
    values: dict[str, str] = Field(min_length=1)

    @field_validator("values")
    @classmethod
    def _known_kinds(cls, values: dict[str, str]) -> dict[str, str]:
        for kind in values.values():
            _known_kind(kind)
        return values


class OneCOperation(_Strict):
    """What an approved request becomes in 1C: ``SubmitRequest`` of ``kind`` (docs/onec-contract.md)."""

    kind: str
    """The 1C request kind, or the default when ``kind_by`` does not decide."""
    kind_by: KindByField | None = None
    date_from: str | None = None
    """The form field sent as ``dateFrom``."""
    date_to: str | None = None
    details: dict[str, str] = Field(default_factory=dict)
    """``details`` key → form field (or a fixed value written as ``=value``)."""
    attachments: list[str] = Field(default_factory=list)
    """Form fields of type file sent as ``attachments``."""
    fetch_document: bool = False
    """1C produces a file (a certificate) that the bridge fetches with ``GetDocument``."""

    @field_validator("kind")
    @classmethod
    def _kind(cls, kind: str) -> str:
        return _known_kind(kind)

    def kind_for(self, values: dict[str, Any]) -> str:
        """The 1C kind for this form's values."""
        if self.kind_by is not None:
            return self.kind_by.values.get(str(values.get(self.kind_by.field)), self.kind)
        return self.kind


class ProcessEntry(_Strict):
    """One process of the catalog."""

    code: str = Field(default="", pattern=r"^$|" + CODE)
    """Filled from the key in ``processes:``."""
    title: str = Field(min_length=1)
    description: str = ""
    fields: list[FormField] = Field(min_length=1)
    checks: list[Check] = Field(default_factory=list)
    approvals: list[ApprovalStep] = Field(min_length=1)
    onec: OneCOperation
    messages: dict[Outcome, str]
    """What the employee is told; ``{reason}`` is replaced with the reason of the transition."""

    def field(self, code: str) -> FormField:
        return next(f for f in self.fields if f.code == code)

    @model_validator(mode="after")
    def _consistent(self) -> ProcessEntry:
        codes = [f.code for f in self.fields]
        if len(set(codes)) != len(codes):
            raise ValueError("field codes must be unique")
        steps = [s.code for s in self.approvals]
        if len(set(steps)) != len(steps):
            raise ValueError("approval step codes must be unique")
        for f in self.fields:
            for ref in f.required_when:
                if ref not in codes:
                    raise ValueError(f"field {f.code}: required_when names an unknown field {ref!r}")
        for check in self.checks:
            refs = (
                (check.bik, check.account)
                if isinstance(check, BankAccountCheck)
                else (check.start, check.end)
            )
            for ref in refs:
                if ref not in codes:
                    raise ValueError(f"check {check.kind} names an unknown field {ref!r}")
        op = self.onec
        by = op.kind_by.field if op.kind_by else None
        for named in [op.date_from, op.date_to, by, *op.attachments]:
            if named is not None and named not in codes:
                raise ValueError(f"onec names an unknown field {named!r}")
        for key, source in op.details.items():
            if not source.startswith("=") and source not in codes:
                raise ValueError(f"onec.details.{key} names an unknown field {source!r}")
        if op.kind_by is not None:
            unknown = set(op.kind_by.values) - set(self.field(op.kind_by.field).options)
            if unknown:
                raise ValueError(f"onec.kind_by names values the field does not offer: {sorted(unknown)}")
        for ref in op.attachments:
            if self.field(ref).type != "file":
                raise ValueError(f"onec attachment {ref!r} is not a file field")
        missing = {"invalid", "approved", "rejected", "done"} - set(self.messages)
        if missing:
            raise ValueError(f"messages for {', '.join(sorted(missing))} are required")
        return self


class Catalog(_Strict):
    version: Literal[1]
    processes: dict[str, ProcessEntry] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _codes_from_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("processes"), dict):
            data = {**data, "processes": {k: _with_code(k, v) for k, v in data["processes"].items()}}
        return data

    def entry(self, code: str) -> ProcessEntry:
        try:
            return self.processes[code]
        except KeyError:
            raise CatalogError(f"no process {code!r} in the catalog") from None


def _with_code(key: str, value: Any) -> Any:
    if isinstance(value, dict) and "code" not in value:
        return {**value, "code": key}
    return value


def parse_catalog(data: Any, source: str = "catalog") -> Catalog:
    """Validate already-loaded YAML; errors become one CatalogError naming the place."""
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CatalogError(f"{source}: {where}: {first['msg']} ({exc.error_count()} problem(s))") from None


def load_catalog(path: Path | None = None) -> Catalog:
    """Read and validate a catalog file (the shipped one by default)."""
    path = path or CATALOG_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogError(f"cannot read the process catalog {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise CatalogError(f"the process catalog {path} is not valid YAML: {exc}") from None
    return parse_catalog(data, str(path))


@cache
def default_catalog() -> Catalog:
    """The shipped catalog, read once."""
    return load_catalog()
