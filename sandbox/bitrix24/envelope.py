"""The response envelope: ``result`` + ``total``/``next`` for lists + the ``time`` block, and error bodies.

Owns the JSON shapes only; it must not decide whether a call succeeds.
Sources: bitrix24-rest.md §1.2 (envelope, ``time`` keys), §1.3 (paging by 50, ``start=-1``), §11.19.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sandbox.bitrix24.core import Page, RestError

PAGE_SIZE = 50  # bitrix24-rest.md §1.3: page size is fixed at 50.


@dataclass(frozen=True)
class Timing:
    start: float
    finish: float
    processing: float
    operating: float | None = None
    operating_reset_at: int | None = None


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(int(moment), UTC).isoformat()


def time_block(timing: Timing) -> dict[str, Any]:
    """bitrix24-rest.md §1.2: start/finish floats, date_* ISO strings, operating keys in the cloud only."""
    block: dict[str, Any] = {
        "start": timing.start,
        "finish": timing.finish,
        "duration": timing.finish - timing.start,
        "processing": timing.processing,
        "date_start": _iso(timing.start),
        "date_finish": _iso(timing.finish),
    }
    if timing.operating_reset_at is not None:
        block["operating_reset_at"] = timing.operating_reset_at
    if timing.operating is not None:
        block["operating"] = timing.operating
    return block


def page_slice(start: Any) -> tuple[int, bool]:
    """``start`` → (offset, count?). ``-1`` means "no COUNT": offset 0, total 0 (bitrix24-rest.md §1.3)."""
    try:
        value = int(start) if start not in (None, "") else 0
    except (TypeError, ValueError):
        value = 0
    if value == -1:
        return 0, False
    # [S] CRestUtil::getNavData: page = intval(start / 50) + 1, so start is floored to a page boundary
    # (bitrix24-rest.md §12: "start multiples of 50 or -1").
    return max(value, 0) // PAGE_SIZE * PAGE_SIZE, True


def paged(items: list[Any], start: Any) -> Page:
    """One page of an already filtered and ordered list, with ``total``/``next`` per §1.2/§1.3."""
    offset, counting = page_slice(start)
    rows = items[offset : offset + PAGE_SIZE]
    if not counting:
        # §1.3, settings/performance/huge-data.md: start=-1 skips the COUNT query: `total` 0, no `next`.
        return Page(rows, 0)
    nxt = offset + PAGE_SIZE if offset + PAGE_SIZE < len(items) else None
    return Page(rows, len(items), nxt)


def success(result: Any, timing: Timing) -> dict[str, Any]:
    body: dict[str, Any]
    if isinstance(result, Page):
        body = {"result": {result.key: result.items} if result.key else result.items}
        # §1.2 / §11.19: total (and next) are top-level siblings of result; an empty list may omit total.
        if result.total is not None and (result.total > 0 or result.items):
            body["total"] = result.total
        if result.next is not None:
            body["next"] = result.next
    else:
        body = {"result": result}
    body["time"] = time_block(timing)
    return body


def error_body(error: RestError) -> dict[str, Any]:
    """``{"error": code, "error_description": text}`` (+ e.g. ``argument``), bitrix24-rest.md §1.2."""
    return error.body()
