"""Notifications: events per recipient, per-user channel preferences, one daily digest instead of spam.

Events (``EVENT_TYPES``) come two ways. Timesheet and HR-request transitions are read from the stored
history (``collect``: every ``process_transitions`` row is one event per recipient, keyed by request and
seq, so reading it twice adds nothing); staff-order status changes and team changes on a site are told
by the code that makes them (``note_order_status``, ``note_assignment_change``). Recipients follow the
access policy: a site's events go to that site's client managers (by role) or to the employee concerned,
never to another site's people.

``send_digests(sessions, data_for, day=…)`` is the scheduler's job: per user, the day's undigested events
become one message per channel the user chose for those event types — an ``im.notify`` outbox row for
Bitrix24 (delivered by the outbox's Bitrix24 sender, as processes/onec_answers.py queues them), an
``email`` / ``sms`` outbox row delivered here through connectors/messaging. The digest row (user, day) is
written in the same transaction as its outbox rows: a second run, or a run after a crash, sends nothing
twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from connectors.errors import MessagingError, Transient
from connectors.messaging.port import MessagingPort
from core.ids import B24UserId
from portal.access import Principal
from portal.data import Order, PortalData, TeamMember
from portal.pages import Kit, Unavailable, ports, request_state
from portal.tables import NotificationDigest, NotificationEvent, NotificationPreference
from processes.catalog import Catalog, default_catalog
from store.models import IdentityLink, PlanItem, ProcessInstance, ProcessTransition
from store.outbox import Outbox
from store.uow import UnitOfWork

if TYPE_CHECKING:
    from portal.web import PortalSettings

log = logging.getLogger(__name__)

EVENT_TYPES = {
    "timesheet_submitted": "Табель отправлен на согласование",
    "timesheet_disputed": "Табель возвращён с причиной",
    "timesheet_approved": "Табель согласован",
    "assignment_changed": "Изменения в команде на объекте",
    "request_status": "Статус заявки сотрудника",
    "order_status": "Статус заявки на персонал",
}
CHANNELS = {"bitrix24": "Битрикс24", "email": "E-mail", "sms": "SMS"}
DEFAULT_ON = {"bitrix24": True, "email": False, "sms": False}
TIMESHEET = "timesheet"
IM_NOTIFY = "im.notify"
DIGEST_KIND = "portal.digest"


# -- the store ------------------------------------------------------------------------------------------
class NotificationStore:
    """Events, preferences and digests inside the caller's session (the unit of work commits)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def record(
        self,
        user_id: B24UserId,
        event_type: str,
        key: str,
        text: str,
        at: datetime,
        site_ref: str | None = None,
    ) -> bool:
        """One event for one recipient; False when that key was recorded for them already."""
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown notification event {event_type!r}")
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(NotificationEvent)
            .values(
                user_id=user_id,
                event_type=event_type,
                event_key=key[:200],
                site_ref=site_ref,
                text=text,
                created_at=at,
            )
            .on_conflict_do_nothing(index_elements=["user_id", "event_key"])
            .returning(NotificationEvent.id)
        )
        return self.session.execute(statement).scalar_one_or_none() is not None

    def preferences(self, user_id: B24UserId) -> dict[tuple[str, str], bool]:
        chosen = {(e, c): DEFAULT_ON[c] for e in EVENT_TYPES for c in CHANNELS}
        rows = self.session.scalars(
            select(NotificationPreference).where(NotificationPreference.user_id == user_id)
        )
        chosen.update({(r.event_type, r.channel): r.enabled for r in rows})
        return chosen

    def save_preferences(self, user_id: B24UserId, enabled: set[tuple[str, str]], at: datetime) -> None:
        """Every (event type, channel) pair: on when in ``enabled``, off otherwise."""
        for event_type in EVENT_TYPES:
            for channel in CHANNELS:
                row = self.session.get(NotificationPreference, (user_id, event_type, channel))
                row = row or NotificationPreference(user_id=user_id, event_type=event_type, channel=channel)
                row.enabled, row.updated_at = (event_type, channel) in enabled, at
                self.session.add(row)
        self.session.flush()

    def recent(self, user_id: B24UserId, limit: int = 30) -> list[NotificationEvent]:
        query = (
            select(NotificationEvent)
            .where(NotificationEvent.user_id == user_id)
            .order_by(NotificationEvent.created_at.desc(), NotificationEvent.id.desc())
            .limit(limit)
        )
        return list(self.session.scalars(query))

    def waiting_users(self, before: datetime) -> list[B24UserId]:
        query = (
            select(NotificationEvent.user_id)
            .where(NotificationEvent.digest_day.is_(None), NotificationEvent.created_at < before)
            .group_by(NotificationEvent.user_id)
            .order_by(NotificationEvent.user_id)
        )
        return list(self.session.scalars(query))

    def waiting(self, user_id: B24UserId, before: datetime) -> list[NotificationEvent]:
        query = (
            select(NotificationEvent)
            .where(
                NotificationEvent.user_id == user_id,
                NotificationEvent.digest_day.is_(None),
                NotificationEvent.created_at < before,
            )
            .order_by(NotificationEvent.created_at, NotificationEvent.id)
        )
        return list(self.session.scalars(query))

    def digest(self, user_id: B24UserId, day: date) -> NotificationDigest | None:
        return self.session.get(NotificationDigest, (user_id, day))

    def close_digest(
        self,
        user_id: B24UserId,
        day: date,
        events: Sequence[NotificationEvent],
        channels: Iterable[str],
        at: datetime,
    ) -> None:
        self.session.add(
            NotificationDigest(
                user_id=user_id, day=day, events=len(events), channels=",".join(channels), created_at=at
            )
        )
        ids = [e.id for e in events]
        if ids:
            self.session.execute(
                update(NotificationEvent)
                .where(NotificationEvent.id.in_(ids))
                .values(digest_day=day)
                .execution_options(synchronize_session=False)
            )
        self.session.flush()

    def digests(self, day: date) -> int:
        return int(self.session.scalar(select(func.count()).where(NotificationDigest.day == day)) or 0)


# -- events -----------------------------------------------------------------------------------------------
def _period_label(data: dict[str, Any]) -> str:
    try:
        start, end = (date.fromisoformat(d) for d in data["period"])
    except (KeyError, TypeError, ValueError):
        return ""
    return f"{start:%d.%m}–{end:%d.%m.%Y}"


def _approvers(data: PortalData, site_ref: str, role: str) -> list[B24UserId]:
    return sorted({m.user_id for m in data.managers(site_ref) if m.role == role and m.user_id})


def collect(session: Session, data: PortalData, since: datetime, catalog: Catalog | None = None) -> int:
    """Events for the timesheet and HR-request transitions stored at or after ``since``; how many new.

    An HR request is a process of the catalog (the shipped one unless given); other instances (local-act
    acknowledgements…) are not requests and tell nobody here."""
    store = NotificationStore(session)
    titles = {code: entry.title for code, entry in (catalog or default_catalog()).processes.items()}
    rows = session.execute(
        select(ProcessInstance, ProcessTransition)
        .join(ProcessTransition, ProcessTransition.instance_id == ProcessInstance.id)
        .where(ProcessTransition.at >= since)
        .order_by(ProcessTransition.at, ProcessTransition.id)
    ).all()
    added = 0
    for instance, step in rows:
        key = f"transition:{instance.request_id}:{step.seq}"
        for user_id, event_type, text in _recipients(session, data, titles, instance, step):
            added += store.record(user_id, event_type, key, text, step.at, instance.site_ref)
    return added


def _employee_user(session: Session, data: PortalData, instance: ProcessInstance) -> B24UserId | None:
    """The Bitrix24 user of the request's or sheet's employee: the id the request carries, the employment's
    user, or the user linked to the 1C person (requests name the person, sheets the employment)."""
    given = (instance.data or {}).get("b24_user_id")
    if isinstance(given, int) or (isinstance(given, str) and given.isdecimal()):
        return B24UserId(int(given))
    if not instance.person_ref:
        return None
    found = data.user_of_employee(instance.person_ref)
    if found is not None:
        return found
    linked = session.scalar(
        select(IdentityLink.b24_id).where(
            IdentityLink.kind == "person", IdentityLink.source_ref == instance.person_ref
        )
    )
    return B24UserId(linked) if linked is not None else None


def _recipients(
    session: Session,
    data: PortalData,
    titles: Mapping[str, str],
    instance: ProcessInstance,
    step: ProcessTransition,
) -> list[tuple[B24UserId, str, str]]:
    event = (step.data or {}).get("event")
    if instance.kind != TIMESHEET:
        employee = _employee_user(session, data, instance) if instance.kind in titles else None
        if step.seq == 1 or employee is None:
            return []
        state = request_state(step.to_state)
        reason = f": {step.reason}" if step.reason else ""
        return [(employee, "request_status", f"Заявка «{titles[instance.kind]}» {state}{reason}")]
    employee = _employee_user(session, data, instance)
    who = str(instance.data.get("employee_name") or "сотрудника")
    period = _period_label(instance.data)
    site = instance.site_ref or ""
    if event == "submit":
        text = f"Табель {who} за {period} ждёт согласования"
        return [(u, "timesheet_submitted", text) for u in _approvers(data, site, "timesheet_approver")]
    if event == "dispute" and employee:
        return [
            (employee, "timesheet_disputed", f"Табель за {period} возвращён: {step.reason or ''}".strip())
        ]
    if event == "approve" and step.to_state == "approved" and employee:
        return [(employee, "timesheet_approved", f"Табель за {period} согласован")]
    return []


def note_order_status(session: Session, data: PortalData, order: Order, at: datetime) -> int:
    """Tell the order's author and the site's order submitters that its status or answer changed."""
    store = NotificationStore(session)
    people = set(_approvers(data, order.site_ref, "order_submitter"))
    people.add(order.author)
    text = f"Заявка на персонал «{order.position} × {order.headcount}»: {order.status}"
    if order.answer:
        text += f" — {order.answer}"
    key = f"order:{order.order_id}:{order.status}:{len(order.comments)}"
    return sum(store.record(u, "order_status", key, text, at, order.site_ref) for u in sorted(people))


def collect_site_changes(session: Session, data: PortalData, since: datetime) -> int:
    """Events for what changed on sites since ``since``: staff orders created or answered, and teams the
    mirror changed (its journal's done ``add_members``/``remove_members`` of a site's group, one event per
    site and run); how many new. Keys make a second reading add nothing."""
    added = 0
    for order in data.orders():
        moments = [order.created_at, *(c.at for c in order.comments)]
        latest = max(moments)
        if latest >= since:
            added += note_order_status(session, data, order, latest)
    rows = session.execute(
        select(PlanItem.run_id, PlanItem.payload, PlanItem.updated_at).where(
            PlanItem.op.in_(("add_members", "remove_members")),
            PlanItem.state == "done",
            PlanItem.updated_at >= since,
        )
    )
    changed: dict[tuple[str, int], datetime] = {}
    for run_id, payload, at in rows:
        group = str((payload or {}).get("group_key") or "")
        if group.startswith("department:"):
            key = (group.removeprefix("department:"), int(run_id))
            changed[key] = max(changed.get(key, at), at)
    for (site_ref, run_id), at in sorted(changed.items()):
        if data.site(site_ref) is not None:
            added += note_assignment_change(session, data, site_ref, data.team(site_ref), f"run{run_id}", at)
    return added


def note_assignment_change(
    session: Session,
    data: PortalData,
    site_ref: str,
    team: Sequence[TeamMember],
    change_key: str,
    at: datetime,
) -> int:
    """Tell every client manager of the site that the team changed, naming the new team."""
    store = NotificationStore(session)
    site = data.site(site_ref)
    names = ", ".join(m.name for m in team) or "никого"
    text = f"Команда на объекте «{site.name if site else site_ref}» изменилась. Теперь: {names}"
    people = sorted({m.user_id for m in data.managers(site_ref) if m.user_id})
    key = f"team:{site_ref}:{change_key}"
    return sum(store.record(u, "assignment_changed", key, text, at, site_ref) for u in people)


# -- the digest ---------------------------------------------------------------------------------------------
def digest_text(day: date, events: Sequence[NotificationEvent]) -> tuple[str, str]:
    """A subject and a plain-text body: events grouped by type, oldest first."""
    grouped: dict[str, list[NotificationEvent]] = defaultdict(list)
    for event in events:
        grouped[event.event_type].append(event)
    lines = []
    for event_type in EVENT_TYPES:
        if grouped.get(event_type):
            lines.append(f"{EVENT_TYPES[event_type]}:")
            lines += [f"— {e.text}" for e in grouped[event_type]]
    subject = f"Сводка за {day:%d.%m.%Y}: событий {len(events)}"
    return subject, "\n".join(lines)


@dataclass
class DigestReport:
    day: date
    collected: int = 0
    digests: int = 0
    skipped: int = 0
    """Users whose digest of the day exists already."""
    queued: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    delivered: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def build_digests(
    sessions: sessionmaker[Session],
    data_for: Callable[[Session], PortalData],
    *,
    day: date,
    now: datetime,
    catalog: Catalog | None = None,
) -> DigestReport:
    """Collect the day's events, then write each user's digest with its outbox rows (once per day)."""
    report = DigestReport(day)
    start = datetime.combine(day, time(0), UTC)
    end = start + timedelta(days=1)
    with UnitOfWork(sessions) as uow:
        data = data_for(uow.session)
        report.collected = collect(uow.session, data, start - timedelta(days=1), catalog)
        report.collected += collect_site_changes(uow.session, data, start - timedelta(days=1))
    with UnitOfWork(sessions) as uow:
        users = NotificationStore(uow.session).waiting_users(end)
    for user_id in users:
        with UnitOfWork(sessions) as uow:
            store = NotificationStore(uow.session)
            if store.digest(user_id, day) is not None:
                report.skipped += 1
                continue
            events = store.waiting(user_id, end)
            channels = _queue(uow.outbox, data_for(uow.session), store, user_id, day, events)
            store.close_digest(user_id, day, events, channels, now)
            report.digests += 1
            for channel in channels:
                report.queued[channel] += 1
    return report


def _queue(
    outbox: Outbox,
    data: PortalData,
    store: NotificationStore,
    user_id: B24UserId,
    day: date,
    events: Sequence[NotificationEvent],
) -> list[str]:
    """Outbox rows for the channels the user chose; returns those channels."""
    chosen = store.preferences(user_id)
    contact = data.contact(user_id)
    queued = []
    for channel in CHANNELS:
        mine = [e for e in events if chosen.get((e.event_type, channel))]
        if not mine:
            continue
        subject, text = digest_text(day, mine)
        key = f"portal:digest:{channel}:{user_id}:{day.isoformat()}"
        if channel == "bitrix24":
            outbox.add("bitrix24", IM_NOTIFY, key, {"to": user_id, "message": f"{subject}\n{text}"})
        elif channel == "email" and contact.email:
            outbox.add("email", DIGEST_KIND, key, {"to": contact.email, "subject": subject, "text": text})
        elif channel == "sms" and contact.phone:
            short = f"{subject}. Подробности — в Битрикс24."
            outbox.add("sms", DIGEST_KIND, key, {"to": contact.phone, "text": short})
        else:
            continue
        queued.append(channel)
    return queued


async def deliver_messages(
    sessions: sessionmaker[Session],
    messaging: MessagingPort,
    *,
    now: datetime,
    lease: timedelta = timedelta(minutes=5),
    retry_in: timedelta = timedelta(minutes=10),
) -> dict[str, int]:
    """Send the due ``email`` and ``sms`` outbox rows through connectors/messaging; settle each."""
    sent: dict[str, int] = defaultdict(int)
    for target in ("email", "sms"):
        with UnitOfWork(sessions) as uow:
            claimed = uow.outbox.claim(target, lease=lease, limit=50, now=now)
        for message in claimed:
            payload = message.payload
            try:
                if target == "email":
                    await messaging.send_email(
                        str(payload["to"]), str(payload.get("subject") or ""), str(payload["text"])
                    )
                else:
                    await messaging.send_sms(str(payload["to"]), str(payload["text"]))
            except (MessagingError, KeyError) as exc:
                with UnitOfWork(sessions) as uow:
                    if isinstance(exc, Transient):
                        uow.outbox.retry_later(message, now + retry_in * message.attempts, type(exc).__name__)
                        continue
                    log.warning(
                        "portal.digest.undeliverable", extra={"channel": target, "error": type(exc).__name__}
                    )
                    uow.outbox.dead_letter(message, type(exc).__name__)
                continue
            with UnitOfWork(sessions) as uow:
                uow.outbox.settle_sent(message)
            sent[target] += 1
    return dict(sent)


async def send_digests(
    sessions: sessionmaker[Session],
    data_for: Callable[[Session], PortalData],
    messaging: MessagingPort | None,
    *,
    day: date | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    catalog: Catalog | None = None,
) -> DigestReport:
    """The daily job (the lead registers it in the scheduler): yesterday's digests by default."""
    moment = now()
    report = build_digests(
        sessions, data_for, day=day or (moment.date() - timedelta(days=1)), now=moment, catalog=catalog
    )
    if messaging is not None:
        report.delivered.update(await deliver_messages(sessions, messaging, now=moment))
    log.info(
        "portal.digest.done",
        extra={"day": report.day.isoformat(), "digests": report.digests, "skipped": report.skipped},
    )
    return report


# -- the page ----------------------------------------------------------------------------------------------
def notifications_router(
    data: PortalData, settings: PortalSettings, clock: Callable[[], datetime]
) -> APIRouter:
    """``GET/POST notifications``: the user's events and their choice per event type and channel."""
    kit = Kit(data, settings)
    router = APIRouter()

    def store_sessions(request: Request) -> sessionmaker[Session]:
        found = ports(request).sessions
        if found is None:
            raise Unavailable("Уведомления не настроены: нет хранилища")
        return found

    @router.get("/notifications", response_class=HTMLResponse, name="notifications")
    @kit.guarded
    async def preferences_page(request: Request) -> Response:
        session, principal = kit.who(request)
        with store_sessions(request)() as db:
            store = NotificationStore(db)
            chosen, recent = store.preferences(principal.user_id), store.recent(principal.user_id)
        return kit.page(
            request,
            "notifications.html",
            session,
            principal=principal,
            chosen=chosen,
            recent=recent,
            EVENT_TYPES=_visible_types(principal),
            CHANNELS=CHANNELS,
        )

    @router.post("/notifications", name="notifications_save")
    @kit.guarded
    async def preferences_save(request: Request) -> Response:
        session, principal = kit.who(request)
        form = await kit.form(request, session)
        enabled = {(e, c) for e in EVENT_TYPES for c in CHANNELS if str(form.get(f"{e}__{c}") or "") == "on"}
        with store_sessions(request).begin() as db:
            NotificationStore(db).save_preferences(principal.user_id, enabled, clock())
        return kit.back(str(request.url_for("notifications")), "preferences")

    return router


def _visible_types(principal: Principal) -> dict[str, str]:
    """The event types a person can receive (an employee is never told of orders or team changes)."""
    if principal.kind == "employee":
        keep = ("timesheet_disputed", "timesheet_approved", "request_status")
        return {k: v for k, v in EVENT_TYPES.items() if k in keep}
    return dict(EVENT_TYPES)
