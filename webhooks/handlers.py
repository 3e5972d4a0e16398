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
from connectors.errors import Transient
from store import inbox
from sync import arrivals

log = logging.getLogger(__name__)

SOURCE = "bitrix24"


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
    """ONOFFLINEEVENT says the offline queue has records (bitrix24-rest.md §6.4). The bridge binds no
    offline event yet, so there is nothing to collect; the notice is kept in the inbox."""
    log.info("bitrix24 offline events are waiting; the bridge binds none, nothing to collect")


HANDLERS: dict[str, inbox.Handler] = {
    "ONUSERADD": user_added,
    "ONAPPUNINSTALL": app_uninstalled,
    "ONOFFLINEEVENT": offline_events_waiting,
}


def dispatch(sessions: sessionmaker[Session]) -> inbox.Dispatched:
    """Hand every pending Bitrix24 event to its handler (after a response, and on the scheduler's tick)."""
    return inbox.dispatch(sessions, HANDLERS, source=SOURCE, retry_on=(Transient,))
