"""The batched keyset chain (connectors/bitrix24/reads.py) against a port that fails chosen commands."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from connectors.bitrix24.errors import Action, Resolution, api_error
from connectors.bitrix24.port import Call, CallOutcome
from connectors.bitrix24.reads import keyset_chain, list_pages

_REF = re.compile(r"\$result\[(\w+)\]\[(\d+)\]\[(\w+)\]")
_FAILED = Resolution(Action.RETRY, "test: this command failed")


class ChainPort:
    """Rows with ids 1..n; a batch runs its commands in order, resolving ``$result`` references."""

    def __init__(self, rows: int, fail: set[int] | None = None) -> None:
        self.ids = list(range(1, rows + 1))
        self.fail = set(fail or ())
        """Commands (counted over the whole read, from 0) that fail once."""
        self.commands = 0
        self.batches = 0
        self.singles = 0

    def _page(self, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        after = params["filter"].get(">ID", 0)
        after = after if isinstance(after, int) or str(after).isdigit() else 0  # unresolved: no filter
        return [{"ID": str(i)} for i in self.ids if i > int(after)][:50]

    async def batch(self, calls: Sequence[Call], *, halt: bool = False) -> list[CallOutcome]:
        self.batches += 1
        results: dict[str, Any] = {}
        outcomes: list[CallOutcome] = []
        stopped = False
        for call in calls:
            number, self.commands = self.commands, self.commands + 1
            if stopped:
                outcomes.append(CallOutcome(call.label, error=api_error(_FAILED, code="NOT_RUN")))
                continue
            if number in self.fail:
                self.fail.discard(number)
                outcomes.append(CallOutcome(call.label, error=api_error(_FAILED, code="ERROR_CORE")))
                stopped = halt
                continue
            flt = dict(call.params["filter"])
            ref = _REF.fullmatch(str(flt.get(">ID", "")))
            if ref:
                label, row, key = ref.groups()
                page = results.get(label) or []
                flt[">ID"] = page[int(row)][key] if int(row) < len(page) else page  # as Bitrix does
            results[call.label] = self._page({**call.params, "filter": flt})
            outcomes.append(CallOutcome(call.label, result=results[call.label]))
        return outcomes

    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        self.singles += 1
        return self._page(params or {})


async def read(port: ChainPort) -> list[int]:
    return [int(row["ID"]) async for page in list_pages(port, "user.get") for row in page]  # type: ignore[arg-type]


def test_each_command_of_a_chain_reads_after_the_last_row_of_the_one_before() -> None:
    calls = keyset_chain("user.get", {"FILTER": {"ACTIVE": True}, "order": "DESC"}, 700)
    assert len(calls) == 50 and calls[0].params["FILTER"] == {"ACTIVE": True, ">ID": 700}
    assert calls[7].params["FILTER"] == {"ACTIVE": True, ">ID": "$result[p6][49][ID]"}
    assert all(c.params["start"] == -1 and c.params["order"] == "ASC" for c in calls)
    assert [c.label for c in calls[:3]] == ["p0", "p1", "p2"]


@pytest.mark.parametrize("rows", [0, 49, 50, 2500, 2549, 5001])
async def test_every_row_once_in_order_in_one_request_per_50_pages(rows: int) -> None:
    port = ChainPort(rows)
    assert await read(port) == list(range(1, rows + 1))
    assert port.batches == -(-(rows // 50 + 1) // 50) and port.singles == 0


async def test_a_command_failing_inside_the_chain_is_read_again_not_skipped() -> None:
    port = ChainPort(2800, fail={7})
    assert await read(port) == list(range(1, 2801))
    assert port.batches == 2 and port.singles == 0  # pages 8..57 (the last one empty) in the second


async def test_a_failing_first_command_is_read_alone_and_the_chain_goes_on() -> None:
    port = ChainPort(3000, fail={0, 51})
    assert await read(port) == list(range(1, 3001))
    assert port.singles == 1
