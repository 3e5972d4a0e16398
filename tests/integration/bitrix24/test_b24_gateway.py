"""The gateway against the Bitrix24 sandbox over loopback HTTP: calls, paging, batches, values, refusals."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from connectors.bitrix24.errors import Action, Bitrix24ApiError, Bitrix24TerminalError
from connectors.bitrix24.gateway import Bitrix24Gateway
from connectors.bitrix24.port import Call
from sandbox.bitrix24.testing import RunningSandbox
from tests.integration.bitrix24.conftest import requests_for

MakeGateway = Callable[..., Bitrix24Gateway]


def invite(i: int, **extra: object) -> Call:
    return Call(
        "user.add", {"EMAIL": f"person{i}@example.test", "NAME": f"P{i}", "UF_DEPARTMENT": [1], **extra}
    )


async def test_single_calls_return_results(sb: RunningSandbox, make_gateway: MakeGateway) -> None:
    async with make_gateway(sb.webhook_url) as gateway:
        me = await gateway.call("user.current")
        new_id = await gateway.call(
            "user.add", {"EMAIL": "ann@example.test", "NAME": "Ann", "UF_DEPARTMENT": [1]}
        )
    assert str(me["ID"]) == "1"
    assert isinstance(new_id, int)
    stored = sb.knobs.user(new_id)
    assert stored is not None and stored["fields"]["NAME"] == "Ann"


async def test_list_all_pages_by_id_with_start_minus_one(
    sb: RunningSandbox, make_gateway: MakeGateway
) -> None:
    async with make_gateway(sb.webhook_url) as gateway:
        outcomes = await gateway.batch([invite(i) for i in range(120)])
        assert all(o.ok for o in outcomes)
        pages = [page async for page in gateway.list_all("user.get")]
    # The gateway returns ``result`` only; the envelope's ``total`` is read on the wire.
    params = {"start": -1, "sort": "ID", "order": "ASC"}
    first = httpx.post(sb.webhook_url + "user.get.json", json=params).json()
    ids = [int(item["ID"]) for page in pages for item in page]
    assert ids == sorted(ids) and len(ids) == len(set(ids)) == 121
    assert [len(page) for page in pages] == [50, 50, 21]
    assert len(requests_for(sb, "user.get")) == 1  # the wire read above; the pages went in one batch
    assert len(requests_for(sb, "batch")) == 3 + 1
    assert not first.get("total")  # start=-1: no COUNT, total is 0 or absent (bitrix24-rest.md §1.3)


async def test_list_all_keeps_the_callers_filter(sb: RunningSandbox, make_gateway: MakeGateway) -> None:
    async with make_gateway(sb.webhook_url) as gateway:
        await gateway.batch([invite(i, WORK_POSITION="Welder" if i % 3 == 0 else "Cook") for i in range(60)])
        pages = [page async for page in gateway.list_all("user.get", {"FILTER": {"WORK_POSITION": "Welder"}})]
    found = [item for page in pages for item in page]
    assert len(found) == 20 and all(item["WORK_POSITION"] == "Welder" for item in found)


async def test_batch_gives_one_outcome_per_call_with_item_errors(
    sb: RunningSandbox, make_gateway: MakeGateway
) -> None:
    calls = [invite(i) for i in range(55)]
    calls.insert(3, Call("user.add", {"EMAIL": "not-an-email", "UF_DEPARTMENT": [1]}, label="bad"))
    calls.insert(7, invite(0))  # the same e-mail as calls[0]
    async with make_gateway(sb.webhook_url) as gateway:
        outcomes = await gateway.batch(calls)
    assert len(outcomes) == 57
    failed = {i: o for i, o in enumerate(outcomes) if not o.ok}
    assert set(failed) == {3, 7}
    assert failed[3].label == "bad"
    for outcome in failed.values():
        assert isinstance(outcome.error, Bitrix24ApiError)
        assert outcome.error.action is Action.QUARANTINE
    assert all(isinstance(o.result, int) for o in outcomes if o.ok)
    batches = requests_for(sb, "batch")
    assert len(batches) == 2 and sorted(int(str(b["commands"])) for b in batches) == [7, 50]


async def test_values_are_encoded_for_bitrix24(sb: RunningSandbox, make_gateway: MakeGateway) -> None:
    async with make_gateway(sb.webhook_url) as gateway:
        first = await gateway.call(
            "user.add", {"EMAIL": "a@example.test", "UF_DEPARTMENT": (1,), "WORK_POSITION": "X"}
        )
        second = await gateway.call(
            "user.add", {"EMAIL": "b@example.test", "UF_DEPARTMENT": [1], "WORK_POSITION": "Y"}
        )
        outcomes = await gateway.batch(
            [
                Call("user.update", {"ID": first, "ACTIVE": False, "WORK_POSITION": None}),
                Call("user.update", {"ID": second, "ACTIVE": True, "WORK_POSITION": ""}),
            ]
        )
        await gateway.call("user.update", {"ID": second, "ACTIVE": False, "PERSONAL_CITY": None})
    assert all(o.ok for o in outcomes)
    a, b = (sb.sandbox.portal.users[i].fields for i in (first, second))  # as stored, not as presented
    assert a["ACTIVE"] == "N" and a.get("WORK_POSITION") in ("", None)
    assert b["ACTIVE"] == "N" and b.get("WORK_POSITION") in ("", None)
    assert a["UF_DEPARTMENT"] == [1]
    for fields in (a, b):
        assert not {"None", "True", "False", "(1,)"} & {str(v) for v in fields.values()}


async def test_400_is_not_retried(sb: RunningSandbox, make_gateway: MakeGateway) -> None:
    async with make_gateway(sb.webhook_url) as gateway:
        with pytest.raises(Bitrix24TerminalError) as caught:
            await gateway.call("user.add", {"EMAIL": "broken", "UF_DEPARTMENT": [1]})
    assert caught.value.status == 400 and caught.value.code == "ERROR_ARGUMENT"
    assert caught.value.action is Action.QUARANTINE
    assert len(requests_for(sb, "user.add")) == 1


async def test_403_is_not_retried(sb: RunningSandbox, make_gateway: MakeGateway) -> None:
    narrow = sb.knobs.webhook(scopes=["department"])
    async with make_gateway(narrow) as gateway:
        with pytest.raises(Bitrix24TerminalError) as caught:
            await gateway.call("user.add", {"EMAIL": "c@example.test", "UF_DEPARTMENT": [1]})
    assert caught.value.status == 403
    assert caught.value.action is Action.FAIL_CONFIG
    assert len(requests_for(sb, "user.add")) == 1


async def test_unknown_method_fails_at_once(sb: RunningSandbox, make_gateway: MakeGateway) -> None:
    async with make_gateway(sb.webhook_url) as gateway:
        with pytest.raises(Bitrix24TerminalError) as caught:
            await gateway.call("no.such.method")
    assert caught.value.code == "ERROR_METHOD_NOT_FOUND"
    assert len(requests_for(sb, "no.such.method")) == 1


async def test_wrong_webhook_code_is_a_config_error(sb: RunningSandbox, make_gateway: MakeGateway) -> None:
    wrong = sb.base_url + "/rest/1/wrongcode0000/"
    async with make_gateway(wrong) as gateway:
        with pytest.raises(Bitrix24TerminalError) as caught:
            await gateway.call("user.current")
    assert caught.value.action is Action.FAIL_CONFIG
    assert "wrongcode0000" not in str(caught.value) and "wrongcode0000" not in (caught.value.internal or "")


async def test_list_all_groups_by_id_keyset(sb: RunningSandbox, make_gateway: MakeGateway) -> None:
    async with make_gateway(sb.webhook_url) as gateway:
        made = await gateway.batch(
            [
                Call("sonet_group.create", {"NAME": f"Site {i}", "VISIBLE": True, "OPENED": False})
                for i in range(70)
            ]
        )
        assert all(o.ok for o in made), [o.error for o in made if o.error][:1]
        pages = [page async for page in gateway.list_all("sonet_group.get", {"FILTER": {"%NAME": "Site"}})]
    ids = [int(row["ID"]) for page in pages for row in page]
    assert len(ids) == len(set(ids)) == 70 and ids == sorted(ids)
    stored = str(sb.sandbox.portal.groups[ids[0]])
    assert "'VISIBLE': 'Y'" in stored and "'OPENED': 'N'" in stored


async def test_list_all_departments_by_offset(sb: RunningSandbox, make_gateway: MakeGateway) -> None:
    async with make_gateway(sb.webhook_url) as gateway:
        made = await gateway.batch(
            [Call("department.add", {"NAME": f"Crew {i}", "PARENT": 1}) for i in range(64)]
        )
        assert all(o.ok for o in made)
        pages = [page async for page in gateway.list_all("department.get")]
        only_children = [page async for page in gateway.list_all("department.get", {"PARENT": 1})]
    ids = [int(row["ID"]) for page in pages for row in page]
    assert len(ids) == len(set(ids)) == 65 and ids == sorted(ids)
    assert sum(len(page) for page in only_children) == 64


async def test_app_only_method_through_a_webhook_is_a_config_error(
    sb: RunningSandbox, make_gateway: MakeGateway
) -> None:
    async with make_gateway(sb.webhook_url) as gateway:
        with pytest.raises(Bitrix24TerminalError) as caught:
            await gateway.call(
                "event.bind", {"event": "ONUSERADD", "handler": "https://bridge.example.invalid/h"}
            )
    assert caught.value.action is Action.FAIL_CONFIG and caught.value.status == 403
    assert len(requests_for(sb, "event.bind")) == 1
