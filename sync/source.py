"""The 1C master data the mapping reads: a plain in-memory view, built from a snapshot or the replica.

The replica (table source_records) keeps the last known record of every 1C entity, so an incremental
change to one employment can be mapped with the person's other employments at hand.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from connectors.onec.port import (
    Absence,
    ContactPhone,
    Department,
    Employee,
    HrEvent,
    Organization,
    Person,
    Placement,
    Position,
    Record,
)

ENTITY_TYPES: dict[str, type[Any]] = {
    "Organization": Organization,
    "Department": Department,
    "Position": Position,
    "Person": Person,
    "Employee": Employee,
    "Absence": Absence,
}
MIRRORED_ENTITIES = ("Organization", "Department", "Position", "Person", "Employee")


@dataclass
class SourceData:
    organizations: dict[str, Organization] = field(default_factory=dict)
    departments: dict[str, Department] = field(default_factory=dict)
    positions: dict[str, Position] = field(default_factory=dict)
    persons: dict[str, Person] = field(default_factory=dict)
    employees: dict[str, Employee] = field(default_factory=dict)
    employees_by_person: dict[str, list[str]] = field(default_factory=dict)

    def add(self, record: Record) -> None:
        if isinstance(record, Organization):
            self.organizations[record.ref] = record
        elif isinstance(record, Department):
            self.departments[record.ref] = record
        elif isinstance(record, Position):
            self.positions[record.ref] = record
        elif isinstance(record, Person):
            self.persons[record.ref] = record
        elif isinstance(record, Employee):
            self.employees[record.ref] = record
            refs = self.employees_by_person.setdefault(record.person_ref, [])
            if record.ref not in refs:
                refs.append(record.ref)


def entity_of(record: Record) -> str:
    return type(record).__name__


def parent_of(record: Record) -> str | None:
    """The ref a record hangs off, for replica look-ups (an employment's person)."""
    if isinstance(record, Employee):
        return record.person_ref
    if isinstance(record, Department):
        return record.org_ref
    return None


def _encode(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def to_json(record: Record) -> dict[str, Any]:
    encoded: dict[str, Any] = _encode(record)
    return encoded


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def from_json(entity: str, payload: dict[str, Any]) -> Record:
    """Rebuild a record stored by ``to_json``."""
    data = dict(payload)
    if entity == "Person":
        data["birth_date"] = _date(data.get("birth_date"))
        data["emails"] = tuple(data.get("emails") or ())
        data["phones"] = tuple(ContactPhone(**p) for p in data.get("phones") or ())
        return Person(**data)
    if entity == "Employee":
        current = data.get("current")
        if current:
            current = dict(current)
            current["hire_date"] = _date(current.get("hire_date"))
            current["dismissal_date"] = _date(current.get("dismissal_date"))
            current["rate"] = Decimal(current["rate"]) if current.get("rate") is not None else None
            data["current"] = Placement(**current)
        data["history"] = tuple(
            HrEvent(**{**h, "period": _date(h["period"]), "valid_until": _date(h.get("valid_until"))})
            for h in data.get("history") or ()
        )
        return Employee(**data)
    if entity == "Department":
        data["created_on"] = _date(data.get("created_on"))
        data["disbanded_on"] = _date(data.get("disbanded_on"))
        return Department(**data)
    if entity == "Absence":
        data["date_from"], data["date_to"] = _date(data.get("date_from")), _date(data.get("date_to"))
        return Absence(**data)
    record: Record = ENTITY_TYPES[entity](**data)
    return record


def content_hash(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
