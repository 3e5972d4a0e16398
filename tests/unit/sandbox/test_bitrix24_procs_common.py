"""Pure helpers of the process families: filters, dates, paging, tokens, template checks, expressions."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.bitrix24 import bizproc_engine as engine
from sandbox.bitrix24.clock import Clock
from sandbox.bitrix24.procs_bizproc_callout import make_token, read_token
from sandbox.bitrix24.procs_common import (
    display_datetime,
    filter_rows,
    order_rows,
    paged,
    parse_datetime,
    split_filter_key,
)

ROWS: list[dict[str, Any]] = [
    {"ID": "1", "NAME": "Molly", "TAGS": ["a", "b"]},
    {"ID": "2", "NAME": "Ann"},
    {"ID": "10", "NAME": "Mo"},
]


@pytest.mark.parametrize(
    "conditions, ids",
    [
        ({">ID": 1}, ["2", "10"]),  # numeric, not string, comparison
        ({"<=ID": "2"}, ["1", "2"]),
        ({"!ID": 2}, ["1", "10"]),
        ({"@ID": [1, 10]}, ["1", "10"]),
        ({"!@ID": [1, 10]}, ["2"]),
        ({"%NAME": "mo"}, ["1", "10"]),
        ({"=%NAME": "Mo%"}, ["1", "10"]),
        ({"!=%NAME": "%ly"}, ["2", "10"]),
        ({"TAGS": "b"}, ["1"]),  # a multiple value matches when any of its values does
        ({"?NAME": "x"}, ["1", "2", "10"]),  # unknown operator → ignored
    ],
)
def test_filter_operators(conditions: dict[str, Any], ids: list[str]) -> None:
    assert [r["ID"] for r in filter_rows(ROWS, conditions, lambda r, n: r.get(n))] == ids


def test_filter_ops_can_be_limited_like_bizproc() -> None:
    assert split_filter_key("%NAME", ("", "!", "<")) is None
    assert split_filter_key("<=ID") == ("<=", "ID")


def test_order_and_paging() -> None:
    ordered = order_rows(ROWS, {"NAME": "desc"}, lambda r, n: r.get(n))
    assert [r["NAME"] for r in ordered] == ["Molly", "Mo", "Ann"]
    page = paged(list(range(120)), 50)
    assert (page.items[0], page.total, page.next) == (50, 120, 100)
    no_count = paged(list(range(120)), -1)
    assert (len(no_count.items), no_count.total, no_count.next) == (50, 0, None)  # §1.3: total becomes 0


def test_dates() -> None:
    moment = parse_datetime("2024-12-31 23:59:59")
    assert moment is not None and display_datetime(moment) == "12/31/2024 11:59:59 pm"
    assert parse_datetime("2024-12-31T23:59:59+01:00") == moment - 3600
    assert parse_datetime("12/31/2024 11:59:59 pm") == moment
    assert parse_datetime("not a date") is None


class _Portal:
    def __init__(self) -> None:
        self.extensions: dict[str, Any] = {}
        self.clock = Clock(frozen_at=1_767_225_600.0)


def test_event_tokens_are_signed_per_portal() -> None:
    portal, other = _Portal(), _Portal()
    token = make_token(portal, "66e81a641752f8.56521481", "A1", "x" * 32)
    assert token.startswith("66e81a641752f8.56521481|A1|" + "x" * 32 + ".")
    assert read_token(portal, token) == ("66e81a641752f8.56521481", "A1", "x" * 32)
    assert read_token(other, token) is None
    assert read_token(portal, token.replace("|A1|", "|A2|")) is None


@pytest.mark.parametrize(
    "steps",
    [
        [{"type": "teleport"}],
        [{"type": "rest", "name": "A1"}],  # no activity code
        [{"type": "approve", "name": "A1", "users": 1}, {"type": "approve", "name": "A1", "users": 1}],
        "not a list",
    ],
)
def test_template_steps_are_checked(steps: Any) -> None:
    with pytest.raises(ValueError):
        engine.install_template(
            _Portal(), name="t", document_type=["lists", "BizprocDocument", "iblock_1"], steps=steps
        )


def test_expressions_and_users() -> None:
    portal = _Portal()
    wf = engine.Workflow("w", 1, ["lists", "BizprocDocument", "1"], [], 0, 5, 0, [], {"Approver": "user_7"})
    wf.outputs["A1"] = {"approver": ["user_3", "4"], "days": 14}
    assert engine.resolve(portal, wf, "{=A1:days} days") == "14 days"
    assert engine.resolve(portal, wf, "{=A1:approver}") == ["user_3", "4"]
    assert engine.user_ids(portal, wf, ["{=A1:approver}", "{=Template:Approver}", 3]) == [3, 4, 7]
