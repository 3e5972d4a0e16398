"""Compile a mapping file into a ``Mapping``: the functions sync/map.py calls. Validated up front.

Every problem (YAML, unknown keys, unknown transforms or placeholders) is found before anything runs,
so `plan` and `config check` fail before a single write.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mappings.model import DesiredGroup, PersonView, TGroupKind, group_key
from mappings.schema import GROUP_PLACEHOLDERS, GroupRule, MappingFile, TGroupRole
from mappings.transforms import TRANSFORMS

DEFAULT_MAPPING = Path(__file__).with_name("default.yaml")


class MappingError(ValueError):
    """The mapping file is invalid; ``problems`` lists (path, reason) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{p}: {r}" for p, r in problems))
        self.problems = problems


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@dataclass(frozen=True)
class Mapping:
    spec: MappingFile

    def group(self, kind: TGroupKind, ref: str, values: dict[str, Any]) -> DesiredGroup:
        rule: GroupRule = getattr(self.spec.groups, kind)
        clean = {k: ("" if v is None else v) for k, v in values.items()}
        fields: dict[str, Any] = {
            "NAME": rule.name.format(**clean).strip(),
            "DESCRIPTION": rule.description.format(**clean).strip(),
            **rule.fields,
        }
        return DesiredGroup(group_key(kind, ref), kind, ref, fields)

    @property
    def path_separator(self) -> str:
        return self.spec.groups.department.path_separator

    @property
    def intranet_roots(self) -> frozenset[str]:
        return frozenset(self.spec.intranet.department_refs)

    @property
    def intranet_parent_id(self) -> int:
        return self.spec.intranet.parent_id

    def manager_group_role(self, role: str) -> TGroupRole:
        """The workgroup role (E moderator, K member) a client manager of ``role`` gets in a site's group."""
        chosen: TGroupRole = getattr(self.spec.managers.roles, role)
        return chosen

    @property
    def memberships(self) -> tuple[str, ...]:
        return tuple(self.spec.user.memberships)

    def user_fields(self, view: PersonView) -> dict[str, Any]:
        """Bitrix24 user fields for a person; raises TransformError for values that cannot be mirrored."""
        fields: dict[str, Any] = {}
        for name, rule in self.spec.user.fields.items():
            value = TRANSFORMS[rule.transform](getattr(view, rule.source))
            fields[name] = "" if value is None else value
        return fields


def compile_mapping(document: Any) -> Mapping:
    try:
        spec = MappingFile.parse(document)
    except ValidationError as exc:
        raise MappingError(
            [(".".join(str(p) for p in e["loc"]) or "(top level)", e["msg"]) for e in exc.errors()]
        ) from exc
    problems: list[tuple[str, str]] = []
    for name, rule in spec.user.fields.items():
        if rule.transform not in TRANSFORMS:
            problems.append(
                (
                    f"user.fields.{name}.transform",
                    f"unknown transform {rule.transform!r}; known: {', '.join(TRANSFORMS)}",
                )
            )
    for kind in ("organization", "department"):
        rule = getattr(spec.groups, kind)
        for attr in ("name", "description"):
            try:
                unknown = _placeholders(getattr(rule, attr)) - GROUP_PLACEHOLDERS
            except ValueError as exc:
                problems.append((f"groups.{kind}.{attr}", f"bad template: {exc}"))
                continue
            if unknown:
                problems.append(
                    (f"groups.{kind}.{attr}", f"unknown placeholder(s): {', '.join(sorted(unknown))}")
                )
    if problems:
        raise MappingError(problems)
    return Mapping(spec)


def load_mapping(path: str | Path | None = None) -> Mapping:
    """Read and compile a mapping file (the default one when ``path`` is empty)."""
    file = Path(path) if path else DEFAULT_MAPPING
    try:
        document = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise MappingError([(str(file), "file not found")]) from exc
    except yaml.YAMLError as exc:
        raise MappingError([(str(file), f"not valid YAML ({exc})")]) from exc
    return compile_mapping(document)
