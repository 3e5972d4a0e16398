"""The mapping file's schema: YAML validated into pydantic models (unknown keys are errors)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

PERSON_SOURCES = frozenset(
    {
        "person_ref",
        "first_name",
        "last_name",
        "middle_name",
        "birth_date",
        "gender",
        "emails",
        "phones",
        "position_name",
        "org_name",
        "department_name",
        "personnel_no",
    }
)
GROUP_PLACEHOLDERS = frozenset(
    {"org_name", "org_full_name", "org_inn", "department_name", "department_path", "department_code"}
)
# user.add/user.update fields (bitrix24-rest.md §2.1) the mapping may fill; UF_* custom fields too.
USER_FIELDS = frozenset(
    {
        "NAME",
        "LAST_NAME",
        "SECOND_NAME",
        "EMAIL",
        "XML_ID",
        "PERSONAL_GENDER",
        "PERSONAL_PROFESSION",
        "PERSONAL_BIRTHDAY",
        "PERSONAL_PHONE",
        "PERSONAL_MOBILE",
        "PERSONAL_CITY",
        "PERSONAL_NOTES",
        "WORK_PHONE",
        "WORK_COMPANY",
        "WORK_POSITION",
        "WORK_DEPARTMENT",
        "WORK_NOTES",
    }
)
GROUP_FIELDS = frozenset({"VISIBLE", "OPENED", "CLOSED", "KEYWORDS", "INITIATE_PERMS", "PROJECT"})


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GroupRule(Strict):
    name: str
    description: str = ""
    path_separator: str = " / "
    fields: dict[str, str] = Field(default_factory=dict)

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - GROUP_FIELDS)
        if unknown:
            raise ValueError(f"not a sonet_group.create field: {', '.join(unknown)}")
        return value


class Groups(Strict):
    organization: GroupRule
    department: GroupRule


class FieldRule(Strict):
    source: str
    transform: str = "text"

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        if value not in PERSON_SOURCES:
            raise ValueError(f"unknown source {value!r}; known: {', '.join(sorted(PERSON_SOURCES))}")
        return value


class UserRule(Strict):
    fields: dict[str, FieldRule]
    memberships: tuple[Literal["organization", "department"], ...] = ("organization", "department")

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: dict[str, FieldRule]) -> dict[str, FieldRule]:
        unknown = sorted(k for k in value if k not in USER_FIELDS and not k.startswith("UF_"))
        if unknown:
            raise ValueError(f"not a user field: {', '.join(unknown)}")
        if "EMAIL" not in value:
            raise ValueError("EMAIL must be mapped: user.add requires it")
        if "XML_ID" not in value or value["XML_ID"].source != "person_ref":
            raise ValueError("XML_ID must be mapped from person_ref: it is how users are matched")
        return value


class IntranetRule(Strict):
    """Provider staff: people whose main employment is in these 1C departments (or below them) become
    intranet employees of a mirrored Bitrix24 department tree instead of extranet users."""

    department_refs: list[str] = Field(default_factory=list)
    parent_id: int = Field(1, gt=0)
    """The Bitrix24 department the mirrored tree hangs under (1 = the company's top department)."""


TGroupRole = Literal["E", "K"]
"""A workgroup role the bridge gives: E moderator, K member (bitrix24-rest.md §4.5)."""


class ManagerRoles(Strict):
    """The workgroup role each client-manager role gets in the groups of its sites."""

    timesheet_approver: TGroupRole = "E"
    order_submitter: TGroupRole = "K"
    viewer: TGroupRole = "K"


class ManagersRule(Strict):
    roles: ManagerRoles = ManagerRoles()


class MappingFile(Strict):
    version: Literal[1]
    groups: Groups
    user: UserRule
    intranet: IntranetRule = IntranetRule()
    managers: ManagersRule = ManagersRule()

    @classmethod
    def parse(cls, document: Any) -> MappingFile:
        return cls.model_validate(document)
