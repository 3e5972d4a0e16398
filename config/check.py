"""`config check`: every problem in the settings (and the files they name) as (path, reason) lines.

Never raises for bad input: a missing file, broken YAML or a typo becomes a Problem, not a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from config.settings import Settings, config_path, env_variable, load_settings


@dataclass(frozen=True)
class Problem:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def check_mapping(settings: Settings) -> list[Problem]:
    """The mapping file named by sync.mapping (or the default one) compiles."""
    from mappings import MappingError, load_mapping

    try:
        load_mapping(settings.sync.mapping or None)
    except MappingError as exc:
        return [Problem(f"sync.mapping → {path}", reason) for path, reason in exc.problems]
    return []


def check_wsdl(settings: Settings) -> list[Problem]:
    """A local WSDL named by onec.wsdl exists (a URL is fetched by `doctor`, not here)."""
    return _missing_files({"onec.wsdl": settings.onec.wsdl})


def _missing_files(named: dict[str, str]) -> list[Problem]:
    problems = []
    for key, value in named.items():
        if value and not value.startswith(("http://", "https://")) and not Path(value).is_file():
            problems.append(Problem(key, f"file not found: {value}"))
    return problems


def _files_in(document: object) -> list[Problem]:
    """The files a (possibly invalid) document names, checked even when other keys are wrong."""
    if not isinstance(document, dict):
        return []
    named = {}
    for section, key in (("sync", "mapping"), ("onec", "wsdl")):
        block = document.get(section)
        value = block.get(key) if isinstance(block, dict) else None
        if isinstance(value, str):
            named[f"{section}.{key}"] = value
    return _missing_files(named)


# Checks of the files the settings name; each gets the loaded settings.
EXTRA_CHECKS: list[Callable[[Settings], list[Problem]]] = [check_wsdl, check_mapping]


def problems_from_validation(error: ValidationError, prefix: str = "") -> list[Problem]:
    found = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        reason = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            reason = "unknown key"
        variable = env_variable(where)
        if variable:
            reason += f" (from the environment variable {variable})"
        found.append(Problem(prefix + where, reason))
    return found


def check_config(path: str | Path | None = None) -> tuple[Settings | None, list[Problem]]:
    """Load and validate; return the settings (if they loaded) and every problem found."""
    yaml_file = config_path(path)
    document: object = None
    if yaml_file is not None:
        if not yaml_file.is_file():
            return None, [Problem(str(yaml_file), "file not found")]
        try:
            document = yaml.safe_load(yaml_file.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{yaml_file}:{mark.line + 1}" if mark is not None else str(yaml_file)
            return None, [Problem(where, f"not valid YAML ({getattr(exc, 'problem', None) or exc})")]
        if document is not None and not isinstance(document, dict):
            return None, [Problem(str(yaml_file), "the top level must be a mapping of sections")]
    try:
        settings = load_settings(yaml_file)
    except ValidationError as exc:
        return None, problems_from_validation(exc) + _files_in(document)
    problems: list[Problem] = []
    for extra in EXTRA_CHECKS:
        problems.extend(extra(settings))
    return settings, problems
