"""The work behind each Bitrix24 event the bridge binds: one handler per event kind, run by the inbox
dispatcher (store/inbox.py) inside the transaction that marks the message processed.

The handlers only call the layer that owns the rule: sync/ for people, connectors/bitrix24/auth for
the application's tokens.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from connectors.bitrix24.auth import revoke_tokens
from connectors.bitrix24.port import Bitrix24Port
from connectors.errors import Transient
from connectors.onec.port import Employee
from portal.models import PortalSite
from processes import callouts
from processes.catalog import ApproverRole
from store import inbox
from store.models import ClientManager, IdentityLink, SourceRecord
from sync import arrivals
from sync.source import from_json

log = logging.getLogger(__name__)

SOURCE = "bitrix24"
ACTIVITY_SOURCE = callouts.SOURCE
"""Inbox source of REST-activity call-outs (webhooks/activity.py), run by ``dispatch_activities``."""


def user_added(session: Session, payload: Mapping[str, Any]) -> None:
    """ONUSERADD (``data.ID``, bitrix24-rest.md §6.2): a mirrored person registered, reminders stop."""
    user_id = payload.get("subject")
    if isinstance(user_id, int):
        arrivals.registered(session, user_id)


def app_uninstalled(session: Session, payload: Mapping[str, Any]) -> None:
    """ONAPPUNINSTALL: the portal removed the application and every token it had (on-app-uninstall.md);
    the bridge forgets them too, so nothing is sent with them and their application_token opens nothing."""
    revoke_tokens(session, str(payload.get("member_id") or ""))


def offline_events_waiting(session: Session, payload: Mapping[str, Any]) -> None:
    """ONOFFLINEEVENT says the offline queue has records (bitrix24-rest.md §6.4); it carries no data. The
    scheduler's inbox job drains the queue every tick (``drain_offline``), so a lost ping loses nothing."""


HANDLERS: dict[str, inbox.Handler] = {
    "ONUSERADD": user_added,
    "ONAPPUNINSTALL": app_uninstalled,
    "ONOFFLINEEVENT": offline_events_waiting,
}


OFFLINE_BATCH = 50


async def drain_offline(b24: Bitrix24Port, sessions: sessionmaker[Session], *, rounds: int = 20) -> int:
    """Move the portal's offline queue into the inbox (bitrix24-rest.md §6.4): ``event.offline.get`` with
    ``clear=0`` reserves up to 50 records under a ``process_id``; they are stored (a redelivered record
    has the same key), then ``event.offline.clear`` confirms that process. Returns the records read."""
    read = 0
    for _ in range(rounds):
        answer = await b24.call("event.offline.get", {"clear": 0, "limit": OFFLINE_BATCH})
        records = answer.get("events") if isinstance(answer, dict) else None
        if not records:
            break
        for record in records:
            _store_offline(sessions, record)
        await b24.call("event.offline.clear", {"process_id": answer["process_id"]})
        read += len(records)
        if len(records) < OFFLINE_BATCH:
            break
    return read


def _store_offline(sessions: sessionmaker[Session], record: Mapping[str, Any]) -> None:
    name = str(record.get("EVENT_NAME") or "").upper()
    data = record.get("EVENT_DATA")
    data = data if isinstance(data, dict) else {}
    fields = data.get("FIELDS")
    subject = data.get("ID", fields.get("ID") if isinstance(fields, dict) else None)
    identity = {
        "event": name,
        "offline_id": str(record.get("MESSAGE_ID") or record.get("ID") or ""),
        "ts": record.get("TIMESTAMP_X"),
        "data": data,
    }
    number = int(subject) if isinstance(subject, int | str) and str(subject).isdigit() else None
    inbox.receive(sessions, SOURCE, inbox.message_key(identity), name, {**identity, "subject": number})


def dispatch(sessions: sessionmaker[Session]) -> inbox.Dispatched:
    """Hand every pending Bitrix24 event to its handler (after a response, and on the scheduler's tick)."""
    return inbox.dispatch(sessions, HANDLERS, source=SOURCE, retry_on=(Transient,))


# ---- REST-activity call-outs (webhooks/activity.py stores them; processes/callouts.py does the work) -------


def _working(employee: Employee) -> bool:
    current = employee.current
    return bool(current and current.department_ref and not current.dismissal_date and not employee.deleted)


class ProcessDirectory:
    """Who filed a request and who approves it: the mirror's identity map and 1C replica, and the sites'
    approvers as the provider set them in the portal (``portal_sites.settings``; a client manager with the
    ``timesheet_approver`` role approves for a site that names none)."""

    def filer(self, session: Session, b24_user_id: int) -> callouts.Filer:
        person_ref = session.scalar(
            select(IdentityLink.source_ref).where(
                IdentityLink.kind == "person", IdentityLink.b24_id == b24_user_id
            )
        )
        employee: Employee | None = None
        if person_ref is not None:
            rows = session.scalars(
                select(SourceRecord).where(
                    SourceRecord.entity == "Employee", SourceRecord.parent_ref == person_ref
                )
            )
            for row in rows:
                record = from_json("Employee", row.payload)
                if isinstance(record, Employee) and _working(record):
                    employee = record
                    break
        return callouts.Filer(
            b24_user_id,
            person_ref,
            employee.ref if employee else None,
            employee.current.department_ref if employee and employee.current else None,
        )

    def approvers(self, session: Session, site_ref: str | None) -> dict[ApproverRole, int | None]:
        site = session.get(PortalSite, site_ref) if site_ref else None
        settings = (site.settings if site else None) or {}

        def first(key: str) -> int | None:
            ids = [int(v) for v in settings.get(key) or () if str(v).isdigit()]
            return ids[0] if ids else None

        client = first("client_approvers")
        if client is None and site_ref:
            client = session.scalar(
                select(ClientManager.b24_user_id).where(
                    ClientManager.site_ref == site_ref,
                    ClientManager.role == "timesheet_approver",
                    ClientManager.removed_at.is_(None),
                    ClientManager.b24_user_id.is_not(None),
                )
            )
        provider = first("provider_managers")
        return {
            "client_approver": client,
            "provider_manager": provider,
            "alternate_approver": first("alternate_approvers") or provider,
        }


async def dispatch_activities(sessions: sessionmaker[Session], context: callouts.Context) -> inbox.Dispatched:
    """Run every pending call-out through its handler (processes/callouts.py ``HANDLERS``)."""
    # IntegrityError: another instance opened the same request meanwhile; the retry finds it.
    return await inbox.dispatch_prepared(
        sessions, callouts.table(context), source=ACTIVITY_SOURCE, retry_on=(Transient, IntegrityError)
    )
