"""Issue 8 item 4 and issue 9 "the inbox feeds work": keys are digests of the whole identifying content,
a message is processed exactly when its handler's work is committed, and the real portal's deliveries
(over HTTP, from the sandbox) reach their handlers: ONUSERADD stops reminders, ONAPPUNINSTALL revokes
the tokens."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config.settings import Settings
from config.wiring import Store
from connectors.bitrix24 import build_bitrix24
from connectors.errors import SyncError, Transient
from sandbox.bitrix24.testing import RunningSandbox
from store import inbox
from store.db import utcnow
from store.models import AppToken, IdentityLink, InboxMessage, Invitation
from tests.integration.webhooks.conftest import FORM, ServedBridge, event_body, install_body
from webhooks import handlers
from webhooks.handlers import SOURCE


def drained(store: Store) -> None:
    """The service dispatches after it answered: wait (bounded) until nothing is pending."""
    deadline = time.monotonic() + 20
    while inbox.pending(store.sessions, SOURCE) and time.monotonic() < deadline:
        time.sleep(0.02)


def messages(store: Store) -> list[InboxMessage]:
    with store.sessions() as session:
        rows = list(session.scalars(select(InboxMessage).order_by(InboxMessage.id)))
        session.expunge_all()
        return rows


def test_keys_are_digests_of_the_whole_content_and_anonymous_messages_stay_apart(store: Store) -> None:
    long_a = {"event": "X", "data": {"NOTE": "n" * 300 + "a"}}
    long_b = {"event": "X", "data": {"NOTE": "n" * 300 + "b"}}
    key_a, key_b = inbox.message_key(long_a), inbox.message_key(long_b)
    assert key_a != key_b and len(key_a) == 64
    assert inbox.message_key(dict(reversed(long_a.items()))) == key_a, "not canonical"
    assert inbox.receive(store.sessions, "test", key_a, "X", long_a)
    assert inbox.receive(store.sessions, "test", key_b, "X", long_b)
    assert not inbox.receive(store.sessions, "test", key_a, "X", long_a)
    anonymous = {"event": "X", "data": {}}
    first, second = inbox.message_key(anonymous, distinct=True), inbox.message_key(anonymous, distinct=True)
    assert first != second
    assert inbox.receive(store.sessions, "test", first, "X", anonymous)
    assert inbox.receive(store.sessions, "test", second, "X", anonymous)
    assert len(messages(store)) == 4


def _remember(session: Session, payload: Mapping[str, Any]) -> None:
    session.add(IdentityLink(kind="person", source_ref=str(payload["ref"]), state={}, updated_at=utcnow()))


def test_processed_only_with_the_handlers_commit(store: Store) -> None:
    class Flaky(Exception, Transient):
        pass

    outcomes = iter([Flaky("portal busy"), SyncError("the payload names nobody"), None])

    def handler(session: Session, payload: Mapping[str, Any]) -> None:
        _remember(session, payload)  # written first: must vanish with a failure
        failure = next(outcomes)
        if failure is not None:
            raise failure

    for ref in ("p1", "p2"):
        inbox.receive(store.sessions, "test", inbox.message_key({"ref": ref}), "K", {"ref": ref})

    def links() -> int:
        with store.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(IdentityLink)) or 0)

    first = inbox.dispatch(store.sessions, {"K": handler}, source="test", retry_on=(Transient,))
    assert (first.done, first.failed, first.pending) == (0, 1, 1)
    rows = messages(store)
    assert rows[0].processed_at is None and rows[0].error and "Flaky" in rows[0].error
    assert isinstance(rows[1].processed_at, datetime) and "SyncError" in (rows[1].error or "")
    assert links() == 0, "a failed handler's writes were kept"
    assert inbox.pending(store.sessions, "test") == 1

    second = inbox.dispatch(store.sessions, {"K": handler}, source="test", retry_on=(Transient,))
    assert (second.done, second.failed, second.pending) == (1, 0, 0)
    assert messages(store)[0].processed_at is not None and messages(store)[0].error is None
    assert links() == 1
    again = inbox.dispatch(store.sessions, {"K": handler}, source="test")
    assert (again.done, again.failed, again.pending) == (0, 0, 0), "a processed message ran twice"


def _bind(portal: RunningSandbox, access_token: str, event: str, handler: str) -> None:
    """``event.bind`` as the installing admin; no handler means an offline binding (bitrix24-rest.md §6.1)."""
    params = {"event": event, "handler": handler} if handler else {"event": event, "event_type": "offline"}
    response = httpx.post(
        f"{portal.base_url}/rest/event.bind", json={"auth": access_token, **params}, timeout=30
    )
    assert response.status_code == 200, response.text


def test_the_portals_deliveries_feed_their_handlers(
    served: ServedBridge, portal: RunningSandbox, store: Store
) -> None:
    installed = portal.knobs.install(served.url + "/bitrix24/install")
    assert installed["delivery"]["status"] == 200, installed
    auth = installed["auth"]
    for event in ("ONUSERADD", "ONAPPUNINSTALL"):
        _bind(portal, auth["access_token"], event, served.url + "/bitrix24/events")
    newcomer = portal.knobs.add_user({"NAME": "Ann", "EMAIL": "ann@example.test"}, registered=False)
    with store.sessions.begin() as session:
        session.add(
            IdentityLink(kind="person", source_ref="P-1", b24_id=str(newcomer), state={}, updated_at=utcnow())
        )

    accepted = portal.knobs.accept(newcomer)
    assert [d["status"] for d in portal.knobs.deliveries() if d["label"] == "ONUSERADD"] == [200], accepted
    drained(store)
    (message,) = messages(store)
    assert message.kind == "ONUSERADD" and message.processed_at is not None and message.error is None
    assert "access_token" not in str(message.payload) and auth["application_token"] not in str(
        message.payload
    )
    with store.sessions() as session:
        statuses = session.scalars(select(Invitation.status).where(Invitation.person_ref == "P-1")).all()
    assert statuses == ["accepted"]

    portal.knobs.uninstall()
    uninstall = [d for d in portal.knobs.deliveries() if d["label"] == "ONAPPUNINSTALL"]
    assert [d["status"] for d in uninstall] == [200]
    drained(store)
    assert messages(store)[-1].kind == "ONAPPUNINSTALL" and messages(store)[-1].processed_at is not None
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AppToken)) == 0, "tokens not revoked"
    late = event_body("ONUSERADD", auth["application_token"], {"ID": newcomer}, ts="1767229999")
    assert served.http.post("/bitrix24/events", content=late, headers=FORM).status_code == 401
    assert served.http.post("/bitrix24/install", content=install_body(auth), headers=FORM).status_code == 403


@pytest.mark.parametrize("ts", [None, "1767225601"])
def test_an_unhandled_kind_is_closed_not_retried(store: Store, ts: str | None) -> None:
    identity = {"event": "ONSOMETHING", "ts": ts}
    inbox.receive(store.sessions, "test", inbox.message_key(identity, distinct=ts is None), "Z", identity)
    report = inbox.dispatch(store.sessions, {}, source="test")
    assert report.done == 1 and messages(store)[0].error == "no handler for Z"


async def test_the_offline_queue_is_drained_into_the_inbox_and_handled(
    served: ServedBridge, portal: RunningSandbox, store: Store, settings: Settings
) -> None:
    auth = portal.knobs.install(served.url + "/bitrix24/install")["auth"]
    _bind(portal, auth["access_token"], "ONUSERADD", "")
    _bind(portal, auth["access_token"], "ONOFFLINEEVENT", served.url + "/bitrix24/events")
    newcomer = portal.knobs.add_user({"NAME": "Bob", "EMAIL": "bob@example.test"}, registered=False)
    with store.sessions.begin() as session:
        session.add(
            IdentityLink(kind="person", source_ref="P-2", b24_id=str(newcomer), state={}, updated_at=utcnow())
        )
    portal.knobs.accept(newcomer)
    assert [d["status"] for d in portal.knobs.deliveries() if d["label"] == "ONOFFLINEEVENT"] == [200]
    drained(store)
    assert [m.kind for m in messages(store)] == ["ONOFFLINEEVENT"]

    gateway = build_bitrix24(settings, store)
    try:
        assert await handlers.drain_offline(gateway, store.sessions) == 1
        assert await handlers.drain_offline(gateway, store.sessions) == 0, "the read batch was not confirmed"
    finally:
        await gateway.close()
    report = handlers.dispatch(store.sessions)
    assert (report.done, report.failed, report.pending) == (1, 0, 0)
    assert [m.kind for m in messages(store)] == ["ONOFFLINEEVENT", "ONUSERADD"]
    assert all(m.processed_at is not None for m in messages(store))
    with store.sessions() as session:
        statuses = session.scalars(select(Invitation.status).where(Invitation.person_ref == "P-2")).all()
    assert statuses == ["accepted"]


def test_retention_deletes_handled_messages_only_and_in_chunks(store: Store) -> None:
    """``store.inbox.prune``: handled before the cut-off → gone; handled after it, or pending however old
    (its key still guards a redelivery, its work is not done) → kept."""
    now = utcnow()
    old, recent = now - timedelta(days=31), now - timedelta(days=1)

    def row(key: str, received: datetime, handled: datetime | None, error: str | None = None) -> InboxMessage:
        return InboxMessage(
            source="test", event_key=key, kind="K", payload={}, received_at=received, processed_at=handled,
            error=error,
        )  # fmt: skip

    with store.sessions.begin() as session:
        session.add_all([row(f"old{n}", old, old, "boom" if n == 0 else None) for n in range(7)])
        session.add_all([row("recent", recent, recent), row("stuck", old, None)])
    assert inbox.prune(store.sessions, now - timedelta(days=30), chunk=3) == 7
    assert sorted(m.event_key for m in messages(store)) == ["recent", "stuck"]
    assert inbox.prune(store.sessions, now - timedelta(days=30)) == 0
