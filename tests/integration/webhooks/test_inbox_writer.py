"""Group commit of inbox writes (webhooks/inbox_writer.py): concurrent messages share commits, each is
answered only after its row is committed, a redelivery — also inside one batch — is recognised, and a
failing store fails every waiting request instead of answering it."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select

from config.settings import Settings
from config.wiring import Store
from sandbox.bitrix24.testing import RunningSandbox
from store import inbox
from store.models import InboxMessage
from tests.integration.webhooks.conftest import FORM, event_body, install_body
from webhooks.app import create_app
from webhooks.inbox_writer import InboxWriter, _Message, write_batch


def _rows(store: Store) -> int:
    with store.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(InboxMessage)) or 0)


async def test_concurrent_messages_share_commits_and_duplicates_are_recognised(store: Store) -> None:
    writer = InboxWriter(store.sessions)
    inbox.receive(store.sessions, "bitrix24.activity", "known", "eb_x", {"n": -1})
    keys = [f"k{n}" for n in range(60)] + ["k0", "k1", "known"]
    fresh = await asyncio.gather(
        *(writer.receive("bitrix24.activity", key, "eb_x", {"key": key}) for key in keys)
    )
    assert fresh[:60] == [True] * 60
    assert fresh[60:] == [False, False, False]
    assert _rows(store) == 61
    assert 1 <= writer.commits < 60  # many messages per commit, not one commit each


async def test_a_failing_store_fails_every_waiting_request(store: Store) -> None:
    store.engine.dispose()
    writer = InboxWriter(store.sessions)
    with store.engine.begin() as connection:  # the table is gone: every insert fails
        connection.exec_driver_sql("ALTER TABLE inbox RENAME TO inbox_away")
    try:
        results = await asyncio.gather(
            *(writer.receive("bitrix24.activity", f"k{n}", "eb_x", {}) for n in range(5)),
            return_exceptions=True,
        )
        assert all(isinstance(r, Exception) for r in results), results
    finally:
        with store.engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE inbox_away RENAME TO inbox")
    assert await writer.receive("bitrix24.activity", "after", "eb_x", {}) is True


async def test_a_lone_message_is_committed_at_once(store: Store) -> None:
    writer = InboxWriter(store.sessions)
    assert await writer.receive("bitrix24.activity", "only", "eb_x", {}) is True
    assert writer.commits == 1 and _rows(store) == 1


async def test_portal_events_share_commits_and_are_answered_once_stored(
    settings: Settings, store: Store, portal: RunningSandbox
) -> None:
    """``/bitrix24/events`` stores through the same group-commit writer as the call-outs."""
    app = create_app(settings, store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as http:
        auth = portal.knobs.install()["auth"]
        installed = await http.post("/bitrix24/install", content=install_body(auth), headers=FORM)
        assert installed.status_code == 200, installed.text
        token = auth["application_token"]
        bodies = [event_body("ONUSERADD", token, {"ID": str(n)}, ts=str(1767225600 + n)) for n in range(40)]
        answers = await asyncio.gather(
            *(http.post("/bitrix24/events", content=b, headers=FORM) for b in [*bodies, bodies[0]])
        )
    assert [a.status_code for a in answers] == [200] * 41
    assert sum(a.json()["duplicate"] for a in answers) == 1
    assert _rows(store) == 40
    assert 1 <= app.state.inbox_writer.commits < 40  # many events per commit


def test_a_batch_is_one_statement_that_skips_stored_keys(store: Store) -> None:
    """No separate read of the keys (the inbox only grows): one INSERT … ON CONFLICT DO NOTHING RETURNING,
    and the stored key in it comes back as a redelivery."""
    inbox.receive(store.sessions, "bitrix24.activity", "k1", "eb_x", {})
    seen: list[str] = []

    def remember(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "INSERT")):
            seen.append(" ".join(statement.split()))

    event.listen(store.engine, "before_cursor_execute", remember)
    try:
        fresh = write_batch(
            store.sessions, [_Message("bitrix24.activity", f"k{n}", "eb_x", {}) for n in range(3)]
        )
    finally:
        event.remove(store.engine, "before_cursor_execute", remember)
    assert fresh == [True, False, True]
    [statement] = seen
    assert (
        statement.startswith("INSERT INTO inbox")
        and "ON CONFLICT (source, event_key) DO NOTHING" in statement
    )
    assert "RETURNING" in statement


def test_two_instances_writing_the_same_keys_store_each_once(store: Store) -> None:
    """Two writers (instances) racing over the same 50 keys: every key stored once, and for each key
    exactly one of them was told it is new — the unique index decides, nobody gets an error."""
    keys = [f"race{n}" for n in range(50)]
    results: dict[str, list[bool]] = {}
    start = threading.Barrier(2)

    def instance(name: str) -> None:
        start.wait()
        answers: list[bool] = []
        for at in range(0, len(keys), 10):
            batch = [_Message("bitrix24.activity", key, "eb_x", {}) for key in keys[at : at + 10]]
            answers += write_batch(store.sessions, batch)
        results[name] = answers

    threads = [threading.Thread(target=instance, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a + b for a, b in zip(results["a"], results["b"], strict=True)] == [1] * 50
    assert _rows(store) == 50


async def test_messages_arriving_while_the_loop_is_busy_share_a_commit(store: Store) -> None:
    """Requests still being read when a commit is due join it: twenty messages arriving on twenty
    successive passes of the event loop are one commit, not twenty (without the fill, each pass's
    message would wait for the commit under way and the next pass would start another)."""
    writer = InboxWriter(store.sessions, commit_delay=5.0)

    async def after_passes(n: int) -> bool:
        for _ in range(n):
            await asyncio.sleep(0)
        return await writer.receive("bitrix24.activity", f"pass{n}", "eb_x", {})

    assert await asyncio.gather(*(after_passes(n) for n in range(20))) == [True] * 20
    assert writer.commits == 1 and _rows(store) == 20


async def test_the_fill_ends_when_the_loop_is_idle(store: Store) -> None:
    """A quiet loop does not hold a commit for ``commit_delay``: messages 50 ms apart are two commits
    even though the delay allows ten seconds."""
    writer = InboxWriter(store.sessions, commit_delay=10.0)
    began = asyncio.get_running_loop().time()
    assert await writer.receive("bitrix24.activity", "first", "eb_x", {}) is True
    await asyncio.sleep(0.05)
    assert await writer.receive("bitrix24.activity", "second", "eb_x", {}) is True
    assert writer.commits == 2
    assert asyncio.get_running_loop().time() - began < 5


async def test_a_waiter_that_hangs_up_does_not_stop_the_commit(store: Store) -> None:
    """A client that disconnects cancels its own wait; its message is committed with the batch."""
    writer = InboxWriter(store.sessions)
    waiting = asyncio.create_task(writer.receive("bitrix24.activity", "gone", "eb_x", {}))
    stays = asyncio.create_task(writer.receive("bitrix24.activity", "stays", "eb_x", {}))
    await asyncio.sleep(0)
    waiting.cancel()
    assert await stays is True
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert _rows(store) == 2
