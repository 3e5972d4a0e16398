"""Full list reads, 50 pages to a ``batch`` request.

A list page holds 50 rows (bitrix24-rest.md §1.3) and a ``batch`` request carries 50 commands (§7), so one
request can read 2,500 rows. Two ways to chain the pages inside one batch:

* **keyset** (every list method with a ``filter`` object): ``order ID ASC``, ``start=-1`` (no COUNT), and
  command *k* filters ``>ID`` on ``$result[p<k-1>][49][ID]`` — the last row of the page before it
  (settings/performance/huge-data.md; batch.md "Using Results": list results are indexed by row, then
  field). The first command of each batch filters on the last id read so far.
* **offset** (``department.get``, whose filters are top-level keys with no documented ``>ID``, §3): the
  50 commands ask ``start`` = 0, 50, 100, … independently of each other.

The end of the list is the first page with fewer than 50 rows; what the commands after it return is
ignored: a reference to a row that does not exist resolves, in Bitrix's
``CRestUtil::processBatchElement``, to the deepest node it finds (here the whole short page, an array),
so those commands filter on nonsense.
A failed command ends the chain too (``halt``): the pages before it are kept, and the next request starts
again from the last row read, so the failed page is read again, never skipped. A first command that fails
is read once alone, through the gateway's retrying single request, which raises when it cannot.

Every request goes through the gateway (``batch`` / ``call``) and so through the shared rate budget.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from connectors.bitrix24.port import Bitrix24Port, Call

PAGE_SIZE = 50
"""Rows per list page (bitrix24-rest.md §1.3)."""
PAGES_PER_REQUEST = 50
"""Commands per ``batch`` request (§7)."""
OFFSET_PAGED = frozenset({"department.get"})
"""List methods without a ``filter`` object: paged by ``start`` offsets instead of the ``>ID`` keyset."""


def _as_items(result: Any) -> list[dict[str, Any]]:
    if isinstance(result, list):
        return result
    if isinstance(result, dict) and len(result) == 1 and isinstance(next(iter(result.values())), list):
        return list(next(iter(result.values())))  # e.g. {"items": [...]}
    return []


def _keyset_params(
    method: str, params: Mapping[str, Any] | None, id_key: str
) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """The base parameters (ordered by ``id_key`` ascending), the filter's key and the caller's filter."""
    base = {k: v for k, v in (params or {}).items() if k.lower() not in ("order", "sort", "start")}
    filter_key = next((k for k in base if k.lower() == "filter"), "filter")
    user_filter = dict(base.pop(filter_key, None) or {})
    if method == "user.get":
        base.update({"sort": id_key, "order": "ASC"})  # user.get takes them as strings (§1.4 item 10)
    else:
        base["order"] = {id_key: "ASC"}
    return base, filter_key, user_filter


def keyset_chain(
    method: str,
    params: Mapping[str, Any] | None,
    after: int | None,
    *,
    id_key: str = "ID",
    pages: int = PAGES_PER_REQUEST,
) -> list[Call]:
    """``pages`` commands of one ``batch``: the first reads after ``after``, each next one after the last
    row of the page before it."""
    base, filter_key, user_filter = _keyset_params(method, params, id_key)
    calls: list[Call] = []
    for k in range(pages):
        page_filter = dict(user_filter)
        if k:
            page_filter[f">{id_key}"] = f"$result[p{k - 1}][{PAGE_SIZE - 1}][{id_key}]"
        elif after is not None:
            page_filter[f">{id_key}"] = after
        calls.append(Call(method, {**base, filter_key: page_filter, "start": -1}, f"p{k}"))
    return calls


def offset_pages(
    method: str, params: Mapping[str, Any] | None, first: int, *, id_key: str = "ID"
) -> list[Call]:
    """50 independent commands reading the pages at ``start`` = first, first + 50, …"""
    base = {k: v for k, v in (params or {}).items() if k.lower() not in ("order", "sort", "start")}
    base.update({"sort": id_key, "order": "ASC"})
    return [Call(method, {**base, "start": first + k * PAGE_SIZE}, f"p{k}") for k in range(PAGES_PER_REQUEST)]


async def list_pages(
    port: Bitrix24Port, method: str, params: Mapping[str, Any] | None = None, *, id_key: str = "ID"
) -> AsyncIterator[list[dict[str, Any]]]:
    """Every row of a list method, page by page, 50 pages per request."""
    name = method.strip().lower()
    offset = name in OFFSET_PAGED
    after: int | None = None
    start = 0
    while True:
        calls = (
            offset_pages(name, params, start, id_key=id_key)
            if offset
            else keyset_chain(name, params, after, id_key=id_key)
        )
        outcomes = await port.batch(calls, halt=not offset)
        read = 0
        for call, outcome in zip(calls, outcomes, strict=True):
            if outcome.ok:
                items = _as_items(outcome.result)
            elif read == 0:  # the first page failed: read it alone, with the gateway's retries (or raise)
                items = _as_items(await port.call(name, call.params))
            else:
                break  # read again by the next request, from the last row kept
            read += 1
            if items:
                yield items
                after = max(int(item[id_key]) for item in items)
            if len(items) < PAGE_SIZE:
                return
        start += read * PAGE_SIZE
