"""The work behind each Bitrix24 event the bridge binds: one handler per event kind, run by the inbox
dispatcher (store/inbox.py) inside the transaction that marks the message processed.

The handlers only call the layer that owns the rule: sync/ for people, connectors/bitrix24/auth for
the application's tokens.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from connectors.bitrix24.auth import revoke_tokens
from connectors.bitrix24.port import Bitrix24Port
from connectors.errors import Transient
from store import inbox
from sync import arrivals

log = logging.getLogger(__name__)

SOURCE = "bitrix24"
ACTIVITY_SOURCE = "bitrix24.activity"
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
