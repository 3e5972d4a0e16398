"""From a Bitrix24 list element to the form values of its catalog entry, and from an approved request to
the 1C ``SubmitRequest`` it becomes. Pure: the caller fetched the element (and any files).

A ``lists.element.get`` row keeps each property as ``PROPERTY_<id>: {<value id>: value}``, even for a
single value (bitrix24-rest.md §5.3); the installer knows which id each catalog field got.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from connectors.onec.port import (
    Approval,
    Attachment,
    EmploymentRef,
    PersonRef,
    RequestSubmission,
    TRequestKind,
)
from processes.catalog import ProcessEntry
from processes.validation import parse_date


def form_values(
    entry: ProcessEntry, row: Mapping[str, Any], property_ids: Mapping[str, str]
) -> dict[str, Any]:
    """The entry's fields from an element row; ``property_ids`` maps a field code to ``PROPERTY_<id>``.

    A field the row does not carry is left out; a multiple field gives a list, others their one value.
    """
    values: dict[str, Any] = {}
    for f in entry.fields:
        key = property_ids.get(f.code)
        if key is None or key not in row:
            continue
        raw = row[key]
        items = list(raw.values()) if isinstance(raw, dict) else (raw if isinstance(raw, list) else [raw])
        items = [i for i in items if i not in (None, "")]
        if f.multiple:
            values[f.code] = items
        elif items:
            values[f.code] = items[0]
    return values


def _text(value: Any) -> str:
    parsed = parse_date(value) if isinstance(value, str) and len(value) >= 8 else None
    if parsed is not None and not value.strip().isdigit():
        return parsed.isoformat()
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def submission(
    entry: ProcessEntry,
    values: Mapping[str, Any],
    *,
    request_id: str,
    person_ref: str,
    employee_ref: str | None,
    approvals: Sequence[Approval] = (),
    files: Mapping[str, Sequence[Attachment]] | None = None,
) -> RequestSubmission:
    """The ``SubmitRequest`` of an approved request (docs/onec-contract.md): its kind, period, details
    (dates as ISO, empty values left out, ``=value`` entries fixed), approvals and attachments (``files``
    by field code). The approval path passes no ``files``: its outbox row carries file references and the
    1C worker adds the downloaded files (processes/attachments.py)."""
    op = entry.onec
    details: dict[str, str] = {}
    for key, source in op.details.items():
        if source.startswith("="):
            details[key] = source[1:]
        elif values.get(source) not in (None, "", []):
            details[key] = _text(values[source])
    attachments = tuple(a for code in op.attachments for a in (files or {}).get(code, ()))
    return RequestSubmission(
        request_id=request_id,
        kind=cast(TRequestKind, op.kind_for(dict(values))),
        person_ref=PersonRef(person_ref),
        employee_ref=EmploymentRef(employee_ref) if employee_ref else None,
        date_from=parse_date(values.get(op.date_from)) if op.date_from else None,
        date_to=parse_date(values.get(op.date_to)) if op.date_to else None,
        details=details,
        approvals=tuple(approvals),
        attachments=attachments,
    )
