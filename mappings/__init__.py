"""1C records → the desired Bitrix24 state, declared in YAML with named transforms (no I/O here)."""

from mappings.compile import DEFAULT_MAPPING, Mapping, MappingError, compile_mapping, load_mapping
from mappings.model import DesiredGroup, DesiredState, DesiredUser, PersonView, Problem, group_key
from mappings.transforms import TransformError

__all__ = [
    "DEFAULT_MAPPING",
    "DesiredGroup",
    "DesiredState",
    "DesiredUser",
    "Mapping",
    "MappingError",
    "PersonView",
    "Problem",
    "TransformError",
    "compile_mapping",
    "group_key",
    "load_mapping",
]
