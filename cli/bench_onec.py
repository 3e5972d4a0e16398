"""`extranet-bridge bench onec`: the full 1C snapshot through the connector against a raw lxml parse.

One run: the 1C sandbox starts in-process with a seeded company; the connector reads every entity's
snapshot over HTTP while the response bodies are recorded; the same bodies are then replayed through the
connector (httpx MockTransport: zeep envelopes, checks, decoding and normalisation, no server time), and
parsed raw with lxml (each record's leaf texts into a dict: the least work that gets the data out).
Replay and raw parse run ``--repeat`` times, best of each kept. Printed as JSON: records/s for each, and
``ratio`` = raw records/s ÷ connector (replay) records/s — the target is ≤ 3.
"""

from __future__ import annotations

import asyncio
import gc
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
import typer
from lxml import etree

from cli.options import EmployeesCount
from connectors.onec.connector import OneCConnector, OneCOptions
from connectors.onec.contract import NAMESPACE
from connectors.onec.port import TEntity

ENTITIES: tuple[TEntity, ...] = ("Organization", "Department", "Position", "Person", "Employee", "Absence")
_NS = "{" + NAMESPACE + "}"
_ENTITY = re.compile(rb"<(?:\w+:)?entity>(\w+)</")
_AFTER = re.compile(rb"<(?:\w+:)?afterRef>([0-9a-fA-F-]+)</")


@dataclass
class Recorded:
    info: bytes = b""
    pages: dict[tuple[bytes, bytes], bytes] = field(default_factory=dict)

    @property
    def bodies(self) -> list[bytes]:
        return list(self.pages.values())


class RecordingTransport(httpx.AsyncBaseTransport):
    """Passes requests to the real transport and keeps GetInfo and GetSnapshotPage answers."""

    def __init__(self, inner: httpx.AsyncBaseTransport, recorded: Recorded) -> None:
        self.inner = inner
        self.recorded = recorded

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        action = request.headers.get("SOAPAction", "") + request.headers.get("content-type", "")
        if "GetSnapshotPage" in action:
            self.recorded.pages[_page_key(request.content)] = body
        elif "GetInfo" in action:
            self.recorded.info = body
        return httpx.Response(response.status_code, headers=response.headers, content=body, request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _page_key(request_body: bytes) -> tuple[bytes, bytes]:
    entity = _ENTITY.search(request_body)
    after = _AFTER.search(request_body)
    return (entity.group(1) if entity else b"", after.group(1).lower() if after else b"")


def _replay(recorded: Recorded) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        action = request.headers.get("SOAPAction", "") + request.headers.get("content-type", "")
        body = recorded.info if "GetInfo" in action else recorded.pages[_page_key(request.content)]
        return httpx.Response(200, content=body, headers={"Content-Type": "text/xml; charset=utf-8"})

    return httpx.MockTransport(handler)


async def _read_all(connector: OneCConnector, page_size: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    try:
        for entity in ENTITIES:
            async for page in connector.snapshot(entity, page_size=page_size):
                counts[entity] = counts.get(entity, 0) + len(page)
    finally:
        await connector.close()
    return counts


def zeep_parse(bodies: list[bytes]) -> float:
    """Seconds zeep takes to build its objects from the same answers (what the lxml fast path avoids)."""
    import requests  # zeep's response type
    from zeep import Client
    from zeep.transports import Transport

    from connectors.onec.contract import WSDL_PATH
    from connectors.onec.wsdl import load_wsdl, pick_port

    transport = Transport()  # type: ignore[no-untyped-call]
    client = Client(load_wsdl(WSDL_PATH.read_bytes(), transport=transport, source="contract").document)  # type: ignore[no-untyped-call]
    _name, binding, _address = pick_port(client.wsdl, "1.1")
    operation = binding.get("GetSnapshotPage")
    started = time.perf_counter()
    for body in bodies:
        response = requests.Response()
        response._content, response.status_code = body, 200
        response.headers["Content-Type"] = "text/xml; charset=utf-8"
        binding.process_reply(client, operation, response)
    return time.perf_counter() - started


def raw_parse(bodies: list[bytes]) -> int:
    """Parse each body and pull every record's leaf texts into a dict; returns the number of records."""
    count = 0
    item_tag, items_tag = _NS + "item", _NS + "items"
    for body in bodies:
        root = etree.fromstring(body)
        for items in root.iter(items_tag):
            for item in items.iterchildren(item_tag):
                for entity in item:
                    data: dict[str, Any] = {}
                    for leaf in entity.iter():
                        if leaf.text is not None:
                            data[leaf.tag] = leaf.text
                    count += 1
    return count


@contextmanager
def _sandbox(employees: int, seed: int) -> Iterator[tuple[str, str, str]]:
    """(endpoint, username, password) of an in-process 1C sandbox."""
    from sandbox.onec.testing import onec_sandbox

    with onec_sandbox(seed=seed, employees=employees) as sandbox:
        yield sandbox.endpoint, sandbox.user, sandbox.password


async def _timed_read(options: OneCOptions, http: httpx.AsyncClient) -> tuple[dict[str, int], float]:
    async with http:
        started = time.perf_counter()
        counts = await _read_all(OneCConnector(options, http=http), options.page_size)
        return counts, time.perf_counter() - started


def run_bench(
    employees: int, seed: int, page_size: int, repeat: int = 3, with_zeep: bool = False
) -> dict[str, Any]:
    recorded = Recorded()
    with _sandbox(employees, seed) as (endpoint, username, password):
        options = OneCOptions(endpoint=endpoint, username=username, password=password, page_size=page_size)
        http = httpx.AsyncClient(
            auth=httpx.BasicAuth(username.encode(), password.encode()),
            timeout=httpx.Timeout(10.0, read=300.0),
            transport=RecordingTransport(httpx.AsyncHTTPTransport(), recorded),
        )
        counts, wire_seconds = asyncio.run(_timed_read(options, http))

    bodies = recorded.bodies
    connector_seconds = raw_seconds = float("inf")
    for _ in range(repeat):  # best of N: the machine may be busy with something else
        gc.collect()  # the sandbox's 50,000-employee company is garbage now: collect it outside the timing
        replay_counts, seconds = asyncio.run(
            _timed_read(options, httpx.AsyncClient(transport=_replay(recorded)))
        )
        connector_seconds = min(connector_seconds, seconds)
        gc.collect()
        started = time.perf_counter()
        raw_records = raw_parse(bodies)
        raw_seconds = min(raw_seconds, time.perf_counter() - started)

    gc.collect()
    started = time.perf_counter()
    for body in bodies:
        etree.fromstring(body)
    parse_only_seconds = time.perf_counter() - started

    records = sum(counts.values())
    if replay_counts != counts or raw_records != records:
        raise RuntimeError(f"record counts differ: wire {counts}, replay {replay_counts}, raw {raw_records}")
    connector_rps = records / connector_seconds
    raw_rps = records / raw_seconds
    extra: dict[str, Any] = {}
    if with_zeep:
        zeep_seconds = zeep_parse(bodies)
        extra["zeep_objects"] = {
            "seconds": round(zeep_seconds, 3),
            "records_per_s": round(records / zeep_seconds),
        }
    return {
        "employees": employees,
        "seed": seed,
        "page_size": page_size,
        "records": records,
        "by_entity": counts,
        "pages": len(bodies),
        "response_bytes": sum(len(b) for b in bodies),
        "connector_over_http": {
            "seconds": round(wire_seconds, 3),
            "records_per_s": round(records / wire_seconds),
        },
        "connector": {"seconds": round(connector_seconds, 3), "records_per_s": round(connector_rps)},
        "raw_lxml": {"seconds": round(raw_seconds, 3), "records_per_s": round(raw_rps)},
        "lxml_fromstring_only": {"seconds": round(parse_only_seconds, 3)},
        **extra,
        "repeat": repeat,
        "ratio": round(raw_rps / connector_rps, 2),
        "target_ratio": 3.0,
    }


def register(group: typer.Typer) -> None:
    @group.command("onec")
    def bench_onec(
        employees: EmployeesCount = 50_000,
        seed: Annotated[int, typer.Option(help="Generator seed.")] = 1,
        page_size: Annotated[int, typer.Option(help="GetSnapshotPage pageSize.")] = 1000,
        repeat: Annotated[int, typer.Option(help="Replay and raw parse runs; the best of each counts.")] = 3,
        zeep: Annotated[bool, typer.Option(help="Also time zeep's own object building (slow).")] = False,
    ) -> None:
        """Snapshot records/s through the 1C connector vs a raw lxml parse of the same responses (JSON)."""
        typer.echo(
            json.dumps(
                run_bench(employees, seed, page_size, max(1, repeat), zeep), indent=2, ensure_ascii=False
            )
        )
