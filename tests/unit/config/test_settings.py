"""Settings load from YAML and environment; `config check` reports every bad key without a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from config.check import check_config
from config.settings import Settings, load_settings

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "example.yaml"


def _keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    found = set()
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found |= _keys(annotation, f"{prefix}{name}.")
        else:
            found.add(prefix + name)
    return found


def _flatten(document: dict[str, Any], prefix: str = "") -> set[str]:
    found = set()
    for key, value in document.items():
        if isinstance(value, dict):
            found |= _flatten(value, f"{prefix}{key}.")
        else:
            found.add(prefix + key)
    return found


def test_example_documents_every_key_and_is_valid() -> None:
    documented = _flatten(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")))
    assert documented == _keys(Settings)
    settings, problems = check_config(EXAMPLE)
    assert problems == []
    assert settings is not None


def test_environment_overrides_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("bitrix24:\n  rate: 5\n  burst: 250\nonec:\n  username: Иванов\n", encoding="utf-8")
    monkeypatch.setenv("EXTRANET_BRIDGE_BITRIX24__RATE", "3")
    monkeypatch.setenv("EXTRANET_BRIDGE_ONEC__PASSWORD", "пароль")
    settings = load_settings(path)
    assert settings.bitrix24.rate == 3
    assert settings.bitrix24.burst == 250
    assert settings.onec.username == "Иванов"
    assert settings.onec.password.get_secret_value() == "пароль"
    assert "пароль" not in repr(settings)


def test_check_reports_every_problem_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "databse:\n  url: x\n"
        "bitrix24:\n  rate: -1\n  webhook_url: ftp://nowhere\n"
        "onec:\n  soap_version: '1.3'\n"
        "sync:\n  batch_size: 80\n",
        encoding="utf-8",
    )
    settings, problems = check_config(path)
    assert settings is None
    paths = {p.path for p in problems}
    assert paths == {
        "databse",
        "bitrix24.rate",
        "bitrix24.webhook_url",
        "onec.soap_version",
        "sync.batch_size",
    }
    assert next(p for p in problems if p.path == "databse").reason == "unknown key"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("bitrix24: [1, 2\n", "not valid YAML"),
        ("- just\n- a list\n", "top level must be a mapping"),
    ],
)
def test_check_reports_broken_files(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(content, encoding="utf-8")
    _settings, problems = check_config(path)
    assert len(problems) == 1
    assert expected in problems[0].reason


def test_check_reports_missing_file(tmp_path: Path) -> None:
    _settings, problems = check_config(tmp_path / "absent.yaml")
    assert [p.reason for p in problems] == ["file not found"]
