"""Notifications on SQLite and PostgreSQL: events read from a stored timesheet round, an order and a team
change; each recipient only of their own site; one digest per user and day through the outbox (a second
run adds nothing); e-mail and SMS delivered through connectors/messaging to the sandbox's sinks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from config.settings import Settings
from config.wiring import Store
from connectors.messaging import RetryPolicy, build_messaging
from connectors.onec.port import (
    ContactPhone,
    DepartmentRef,
    Employee,
    EmploymentRef,
    OrgRef,
    Person,
    PersonRef,
    Placement,
)
from core.ids import B24UserId
from portal.data import Order, TeamMember
from portal.models import PortalSite
from portal.notifications import (
    NotificationStore,
    build_digests,
    deliver_messages,
    note_assignment_change,
    note_order_status,
)
from portal.service import PortalService
from portal.store import ONEC_TARGET, SqlPortalData
from processes.catalog import default_catalog
from processes.engine import Event
from processes.regulations import AckEvent, ack_id, record
from sandbox.server import serve_in_thread
from sandbox.sinks.mailbox import Mailbox
from sandbox.sinks.smtp import smtp_sink
from sandbox.sinks.web import create_app as sinks_app
from store.models import ClientManager, IdentityLink, OutboxMessage, PlanItem, SourceRecord, SyncRun
from store.process_repo import ProcessRepository
from store.regulations import Regulations
from sync.source import to_json
from timesheets.model import Day, Timesheet, period_of

NOW = datetime(2026, 3, 20, 9, tzinfo=UTC)
DAY = NOW.date()
MARCH = period_of("half_month", date(2026, 3, 2))
FAST = RetryPolicy(attempts=1, initial_delay=0)
LEAVE = default_catalog().entry("leave")


def _seed(store: Store) -> None:
    person = Person(
        PersonRef("p-1"), "Иванов", "Пётр", None, None,
        emails=("petr.ivanov@example.test",), phones=(ContactPhone("Mobile", "+79161234567"),),
    )  # fmt: skip
    employee = Employee(
        EmploymentRef("e-1"), "0001", PersonRef("p-1"), OrgRef("org-1"), None, False,
        Placement(OrgRef("org-1"), DepartmentRef("site-A"), None, "Main", date(2025, 1, 1), None),
    )  # fmt: skip
    with store.sessions.begin() as session:
        for ref, name in (("site-A", "Северный склад"), ("site-B", "Южный терминал")):
            session.add(PortalSite(site_ref=ref, name=name, client="ООО Клиент", org_ref="org-1",
                                   period_kind="half_month", settings={}))  # fmt: skip
        for user, site, email, role in (
            (20, "site-A", "anna@example.test", "timesheet_approver"),
            (22, "site-A", "oleg@example.test", "order_submitter"),
            (21, "site-B", "boris@example.test", "timesheet_approver"),
        ):
            session.add(ClientManager(email=email, name=email.split("@")[0], site_ref=site, role=role,
                                      b24_user_id=user, created_at=NOW))  # fmt: skip
        session.add(IdentityLink(kind="person", source_ref="p-1", b24_id=10, state={}, updated_at=NOW))
        session.add(SourceRecord(entity="Person", ref="p-1", payload=to_json(person), content_hash="x",
                                 updated_at=NOW))  # fmt: skip
        session.add(SourceRecord(entity="Employee", ref="e-1", parent_ref="p-1", payload=to_json(employee),
                                 content_hash="y", updated_at=NOW))  # fmt: skip


def _round(store: Store) -> None:
    """Submit, dispute, resubmit, both approvals of one sheet of site A; an order; a team change on B."""
    days = tuple(Day(d, "Я" if d.weekday() < 5 else "В", Decimal(8) if d.weekday() < 5 else Decimal(0))
                 for d in MARCH.days())  # fmt: skip
    clock = iter(NOW + timedelta(minutes=n) for n in range(100))
    with store.sessions.begin() as session:
        data = SqlPortalData(session, provider_managers={B24UserId(30)})
        service = PortalService(data, lambda: next(clock))
        me, client, provider = (data.principal(B24UserId(u)) for u in (10, 20, 30))
        assert me and client and provider
        service.open_sheet(
            Timesheet("ts-1", "e-1", "site-A", "org-1", MARCH, days, employee_name="Иванов Пётр")
        )
        service.save_days(me, "ts-1", [Day(date(2026, 3, 3), "Я", Decimal("7.5"))], submit=True)
        service.dispute(client, "ts-1", "3-го было 8 часов")
        service.save_days(me, "ts-1", [Day(date(2026, 3, 3), "Я", Decimal(8))], submit=True)
        service.approve(client, "ts-1")
        service.approve(provider, "ts-1")
        order = Order(
            "o-1",
            "site-A",
            "order",
            "Грузчик",
            2,
            date(2026, 4, 1),
            "",
            B24UserId(22),
            NOW,
            "answered",
            "Двое с 1 апреля",
        )
        assert note_order_status(session, data, order, NOW) == 1
        assert note_order_status(session, data, order, NOW) == 0  # told once
        team = [TeamMember("e-9", "site-B", "Соколова Анна", "Кладовщик")]
        assert note_assignment_change(session, data, "site-B", team, "2026-03-20", NOW) == 1
        # An HR request of the person (requests name the 1C person) rejected; a local act assigned to them.
        repo = ProcessRepository(session)
        repo.open(LEAVE, request_id="r-1", event=Event("receive", "10"), at=NOW, person_ref="p-1")
        repo.apply(LEAVE, "r-1", Event("validated", "bridge"), NOW)
        reject = Event("reject", "20", "Нет замены", step=LEAVE.approvals[0].code)
        repo.apply(LEAVE, "r-1", reject, NOW + timedelta(minutes=30))
        assign = AckEvent("assign", "bridge", data={"task_id": 7})
        Regulations(session).append(
            ack_id("doc-1", "p-1"), lambda ack, last: record(ack, last, assign, NOW), NOW, person_ref="p-1"
        )


@pytest.fixture
def sinks() -> Iterator[tuple[Mailbox, Settings]]:
    mailbox = Mailbox()
    with smtp_sink(mailbox) as (host, port), serve_in_thread(sinks_app(mailbox)) as base:
        settings = Settings(
            messaging={"smtp": {"host": host, "port": port, "sender": "portal@example.test"},
                       "sms": {"provider": "http", "url": f"{base}/sms", "sender": "Portal"}}
        )  # fmt: skip
        yield mailbox, settings


def _outbox(store: Store) -> list[OutboxMessage]:
    """The notification rows (an approval also queues its SubmitTimesheet for 1C: not a notification)."""
    with store.sessions() as session:
        query = select(OutboxMessage).where(OutboxMessage.target != ONEC_TARGET).order_by(OutboxMessage.id)
        return list(session.scalars(query))


async def test_one_digest_per_user_and_day_each_of_their_own_site(
    store: Store, sinks: tuple[Mailbox, Settings]
) -> None:
    _seed(store)
    _round(store)
    with store.sessions.begin() as session:
        prefs = NotificationStore(session)
        chosen = {("timesheet_disputed", "email"), ("timesheet_approved", "sms")}
        on_bitrix24 = {("timesheet_approved", "bitrix24"), ("request_status", "bitrix24")}
        prefs.save_preferences(B24UserId(10), chosen | on_bitrix24, NOW)

    def data_for(session: Session) -> SqlPortalData:
        return SqlPortalData(session, provider_managers={B24UserId(30)})

    report = build_digests(store.sessions, data_for, day=DAY, now=NOW + timedelta(hours=21))
    assert report.digests == 4 and report.skipped == 0
    rows = {(r.target, r.payload.get("to")): r for r in _outbox(store)}
    assert set(rows) == {
        ("bitrix24", 20), ("bitrix24", 21), ("bitrix24", 22), ("bitrix24", 10),
        ("email", "petr.ivanov@example.test"), ("sms", "+79161234567"),
    }  # fmt: skip
    anna = rows[("bitrix24", 20)].payload["message"]
    assert anna.count("ждёт согласования") == 2 and "Южный" not in anna and "Соколова" not in anna
    boris = rows[("bitrix24", 21)].payload["message"]
    assert "Соколова Анна" in boris and "Иванов" not in boris and "Грузчик" not in boris
    assert "Двое с 1 апреля" in rows[("bitrix24", 22)].payload["message"]
    petr = rows[("bitrix24", 10)].payload["message"]
    assert "Табель за 01.03–15.03.2026 согласован" in petr and "возвращён" not in petr  # dispute: e-mail only
    assert "3-го было 8 часов" in rows[("email", "petr.ivanov@example.test")].payload["text"]
    assert (
        "Заявление на отпуск» на согласовании" in petr
        and "Заявление на отпуск» отклонена: Нет замены" in petr
    )
    assert "regulation" not in petr and "Заявка «" in petr

    again = build_digests(store.sessions, data_for, day=DAY, now=NOW + timedelta(hours=22))
    assert (again.digests, again.skipped, len(_outbox(store))) == (0, 0, 6)  # nothing waits: nothing new

    mailbox, settings = sinks
    messaging = build_messaging(settings, retry=FAST)
    try:
        sent = await deliver_messages(store.sessions, messaging, now=NOW + timedelta(hours=21))
        assert sent == {"email": 1, "sms": 1}
        assert await deliver_messages(store.sessions, messaging, now=NOW + timedelta(hours=22)) == {}
    finally:
        await messaging.close()
    received = {m.channel: m for m in mailbox.messages()}
    assert received["email"].to == ["petr.ivanov@example.test"]
    assert received["email"].subject == "Сводка за 20.03.2026: событий 1"
    assert received["sms"].to == ["+79161234567"] and "Битрикс24" in received["sms"].text
    assert {r.status for r in _outbox(store) if r.target in ("email", "sms")} == {"sent"}


def test_a_late_event_waits_for_the_next_days_digest(store: Store) -> None:
    _seed(store)
    with store.sessions.begin() as session:
        data = SqlPortalData(session)
        team = [TeamMember("e-9", "site-B", "Соколова Анна", "Кладовщик")]
        note_assignment_change(session, data, "site-B", team, "v1", NOW)
    first = build_digests(store.sessions, SqlPortalData, day=DAY, now=NOW + timedelta(hours=20))
    with store.sessions.begin() as session:
        note_assignment_change(session, SqlPortalData(session), "site-B", team, "v2", NOW + timedelta(days=1))
    second = build_digests(store.sessions, SqlPortalData, day=DAY, now=NOW + timedelta(hours=23))
    third = build_digests(
        store.sessions, SqlPortalData, day=DAY + timedelta(days=1), now=NOW + timedelta(days=2)
    )
    assert (first.digests, second.digests, third.digests) == (1, 0, 1)
    keys = sorted(r.dedup_key for r in _outbox(store))
    assert keys == ["portal:digest:bitrix24:21:2026-03-20", "portal:digest:bitrix24:21:2026-03-21"]


def test_orders_and_team_changes_are_collected_from_the_store(store: Store) -> None:
    """An order created then answered in the portal, and a team the mirror changed on site B, reach that
    site's people through the digest without anyone calling the note_* functions."""
    _seed(store)
    clock = iter(NOW + timedelta(minutes=n) for n in range(10))
    with store.sessions.begin() as session:
        data = SqlPortalData(session, provider_managers={B24UserId(30)})
        service = PortalService(data, lambda: next(clock))
        oleg, provider = data.principal(B24UserId(22)), data.principal(B24UserId(30))
        assert oleg and provider
        order = service.create_order(
            oleg, "site-A", kind="order", position="Грузчик", headcount="2", start="2026-04-01", details=""
        )
        service.comment_order(provider, order.order_id, "Двое с 1 апреля")
        run = SyncRun(mode="incremental", status="committed", started_at=NOW)
        session.add(run)
        session.flush()
        for seq, (op, state) in enumerate((("add_members", "done"), ("remove_members", "failed"))):
            session.add(PlanItem(run_id=run.id, seq=seq, op=op, kind="group", source_ref="department:site-B",
                                 payload={"group_key": "department:site-B", "person_refs": ["p-9"]},
                                 state=state, updated_at=NOW))  # fmt: skip

    def data_for(session: Session) -> SqlPortalData:
        return SqlPortalData(session, provider_managers={B24UserId(30)})

    report = build_digests(store.sessions, data_for, day=DAY, now=NOW + timedelta(hours=21))
    rows = {(r.target, r.payload.get("to")): r.payload["message"] for r in _outbox(store)}
    assert "Двое с 1 апреля" in rows[("bitrix24", 22)] and "Грузчик" in rows[("bitrix24", 22)]
    assert "Команда на объекте «Южный терминал» изменилась" in rows[("bitrix24", 21)]
    assert ("bitrix24", 20) not in rows or "Южный" not in rows[("bitrix24", 20)]  # site A hears nothing of B
    assert report.digests == len(rows)
    again = build_digests(store.sessions, data_for, day=DAY, now=NOW + timedelta(hours=22))
    assert again.digests == 0 and len(_outbox(store)) == len(rows)
