"""1C records → the desired Bitrix24 state, declared in YAML with named transforms (no I/O here)."""

from mappings.compile import DEFAULT_MAPPING, Mapping, MappingError, compile_mapping, load_mapping
from mappings.model import (
    DesiredDepartment,
    DesiredGroup,
    DesiredState,
    DesiredUser,
    PersonView,
    Problem,
    department_key,
    group_key,
)
from mappings.transforms import TransformError

__all__ = [
    "DEFAULT_MAPPING",
    "DesiredDepartment",
    "DesiredGroup",
    "DesiredState",
    "DesiredUser",
    "Mapping",
    "MappingError",
    "PersonView",
    "Problem",
    "TransformError",
    "compile_mapping",
    "department_key",
    "group_key",
    "load_mapping",
]
