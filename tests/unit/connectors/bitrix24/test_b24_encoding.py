"""Values reach Bitrix24 as it expects them: Y/N, lists, empty values that clear — never "None"/"True"."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from urllib.parse import unquote

import pytest

from connectors.bitrix24.encoding import command, encode_params, encode_value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "Y"),
        (False, "N"),
        (None, ""),
        ((1, 2), [1, 2]),
        ({3, 1}, [1, 3]),
        (date(2026, 1, 31), "2026-01-31"),
        (Decimal("12.50"), "12.50"),
        ({"ACTIVE": False, "IDS": (5,)}, {"ACTIVE": "N", "IDS": [5]}),
        ([], []),
        ("text", "text"),
        (7, 7),
    ],
)
def test_encode_value(value: object, expected: object) -> None:
    assert encode_value(value) == expected


def test_unknown_types_are_refused() -> None:
    with pytest.raises(TypeError):
        encode_value(object())


def test_json_params_keep_structure() -> None:
    params = encode_params({"ID": 5, "fields": {"UF_DEPARTMENT": [], "ACTIVE": True, "NOTES": None}})
    assert params == {"ID": 5, "fields": {"UF_DEPARTMENT": [], "ACTIVE": "Y", "NOTES": ""}}


def test_batch_command_has_no_python_reprs() -> None:
    text = command(
        "user.update",
        {"ID": 5, "ACTIVE": False, "PERSONAL_NOTES": None, "UF_DEPARTMENT": (3, 4), "UF_SKILLS": []},
    )
    decoded = unquote(text)
    assert text.startswith("user.update?")
    assert "ACTIVE=N" in decoded
    assert "PERSONAL_NOTES=&" in decoded
    assert "UF_DEPARTMENT[0]=3&UF_DEPARTMENT[1]=4" in decoded
    assert decoded.endswith("UF_SKILLS=")  # an empty list still clears the field
    for bad in ("None", "True", "False", "(3, 4)"):
        assert bad not in decoded


def test_batch_command_escapes_values_and_filter_keys() -> None:
    text = command("user.get", {"filter": {">ID": 10, "NAME": "A&B=C"}, "start": -1})
    assert "NAME%5D" not in text  # brackets stay literal for PHP
    assert "filter[%3EID]=10" in text
    assert "A%26B%3DC" in text
    assert text.endswith("start=-1")


def test_command_without_params_is_the_method() -> None:
    assert command("user.current", None) == "user.current"
