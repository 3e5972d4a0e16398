"""``$result[...]`` references resolve as Bitrix's CRestUtil::processBatchElement does (rest_util.php)."""

from __future__ import annotations

from typing import Any

from sandbox.bitrix24.batch import _substitute

PAGE = [{"ID": "7"}, {"ID": "9"}]
SECTIONS: dict[str, Any] = {
    "result": {"page": PAGE, "me": {"ID": "1", "ACTIVE": True}},
    "next": {"page": 50},
    "total": {"page": 2},
    "time": {},
    "error": {},
}


def resolve(value: Any) -> Any:
    return _substitute(value, SECTIONS)


def test_whole_value_takes_the_node_of_any_type() -> None:
    assert resolve("$result[page][1][ID]") == "9"
    assert resolve("$result[page]") == PAGE
    assert resolve("$next[page]") == 50 and resolve("$total[page]") == 2


def test_missing_key_stops_at_the_deepest_node_found() -> None:
    assert resolve("$result[page][49][ID]") == PAGE  # a short page: the page itself, not ""
    assert resolve("$result[nobody][0]") == SECTIONS["result"]  # unknown label: the whole section


def test_inside_text_only_strings_and_numbers_are_spliced() -> None:
    assert resolve("id-$result[page][0][ID]") == "id-7"
    assert resolve("n=$next[page]") == "n=50"
    assert resolve("x $result[page] y") == "x $result[page] y"  # an array stays as written
    assert resolve("flag $result[me][ACTIVE]") == "flag $result[me][ACTIVE]"  # PHP is_numeric(true) is false


def test_the_reference_runs_to_the_next_whitespace_and_needs_a_key() -> None:
    assert resolve("$result[page][0][ID]tail") == "7"  # "tail" is part of the match, not a key
    assert resolve("$result") == "$result"  # no [key]: not a reference
    assert resolve("$RESULT[page][0][ID]") is None  # section names are case-sensitive array keys


def test_nested_parameters_are_walked() -> None:
    assert resolve({"FILTER": {">ID": "$result[page][1][ID]"}, "x": ["$total[page]"]}) == {
        "FILTER": {">ID": "9"},
        "x": [2],
    }
