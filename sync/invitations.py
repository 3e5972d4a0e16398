"""Re-inviting people who never logged in: on a schedule (e.g. 1, 3 and 7 days after the first
invitation, capped) and on demand, by e-mail or SMS. Every invitation sent or failed is recorded.

Bitrix24's own ``user.add`` sends the first invitation (bitrix24-rest.md §2.1, §2.7: there is no REST
re-invite), so the bridge records that one and sends the reminders itself through connectors/messaging.
Whether someone logged in is read from ``LAST_LOGIN`` (user.get, filtered by ``@ID`` in chunks of 50).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from connectors.bitrix24 import directory
from connectors.bitrix24.port import Bitrix24Port, Call
from connectors.messaging.port import MessagingPort
from connectors.messaging.templates import invitation_email, invitation_sms
from core.clock import utcnow
from core.errors import BridgeError
from core.ids import B24UserId, PersonRef
from sync.repositories import Invitations, Links

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

TChannel = Literal["email", "sms"]


@dataclass(frozen=True)
class Invitee:
    person_ref: PersonRef
    user_id: B24UserId
    first_name: str
    email: str | None
    phone: str | None


def history(session: Session, refs: Iterable[str] | None = None) -> dict[str, list[datetime]]:
    """Person ref → times of invitations sent (any channel), oldest first."""
    return Invitations(session).history(refs)


def due_for_reminder(
    sent: dict[str, list[datetime]], now: datetime, resend_after_days: Sequence[int], max_invitations: int
) -> list[str]:
    """Persons whose next reminder is due: the n-th reminder comes resend_after_days[n-1] after the first."""
    due: list[str] = []
    for ref, times in sent.items():
        if not times or len(times) >= max_invitations or len(times) > len(resend_after_days):
            continue
        if now >= times[0] + timedelta(days=resend_after_days[len(times) - 1]):
            due.append(ref)
    return sorted(due)


async def never_logged_in(b24: Bitrix24Port, user_ids: Sequence[int]) -> set[int]:
    """The active users among these with no LAST_LOGIN (user.get by @ID, bitrix24-rest.md §2.3)."""
    calls: list[Call] = []
    for start in range(0, len(user_ids), 50):
        calls.append(directory.users_by_ids(user_ids[start : start + 50], f"u{start}"))
    waiting: set[int] = set()
    for outcome in await b24.batch(calls) if calls else []:
        for row in outcome.result if outcome.ok and isinstance(outcome.result, list) else []:
            user = directory.parse_user(row)
            if user.active and not user.last_login:
                waiting.add(user.id)
    return waiting


def record(
    session: Session, invitee: Invitee, channel: str, error: str | None = None, *, status: str | None = None
) -> None:
    """An invitation sent (or failed with ``error``); ``status="accepted"`` marks someone who logged in."""
    Invitations(session).record(
        invitee.person_ref, invitee.user_id, channel, status or ("failed" if error else "sent"), error
    )


async def send(
    messaging: MessagingPort, invitee: Invitee, channel: TChannel, portal_url: str, *, reminder: bool
) -> str | None:
    """Send one invitation; returns None on success or the error code/reason (never raises for a person)."""
    try:
        if channel == "email":
            if not invitee.email:
                return "no_email"
            content = invitation_email(invitee.first_name, portal_url, reminder=reminder)
            await messaging.send_email(invitee.email, content.subject, content.text, content.html)
        else:
            if not invitee.phone:
                return "no_phone"
            await messaging.send_sms(
                invitee.phone, invitation_sms(invitee.first_name, portal_url, reminder=reminder)
            )
    except BridgeError as exc:
        return str(getattr(exc, "code", None) or type(exc).__name__)
    return None


def _invitees(
    session: Session, refs: Iterable[str] | None = None, site_keys: Iterable[str] | None = None
) -> list[Invitee]:
    """Linked, active persons (optionally only those in the given site groups) with their contacts."""
    keys = set(site_keys or ())
    found: list[Invitee] = []
    for link in Links(session).load(["person"], refs).values():
        state = link.state
        if link.b24_id is None or not state.get("active", True):
            continue
        if keys and not keys & set(state.get("groups", [])):
            continue
        fields = state.get("fields", {})
        found.append(
            Invitee(
                PersonRef(link.ref),
                B24UserId(link.b24_id),
                fields.get(directory.NAME, ""),
                fields.get(directory.EMAIL) or None,
                fields.get(directory.MOBILE) or None,
            )
        )
    return found


async def _send_all(
    b24: Bitrix24Port,
    messaging: MessagingPort,
    sessions: sessionmaker[Session],
    invitees: list[Invitee],
    channel: TChannel,
    portal_url: str,
    *,
    reminder: bool,
    only_never_logged_in: bool,
) -> dict[str, int]:
    counts = {"candidates": len(invitees), "sent": 0, "failed": 0, "already_logged_in": 0, "no_phone": 0}
    if channel == "sms":  # no usable mobile (none in 1C, or a landline/malformed one left out): no SMS
        counts["no_phone"] = sum(1 for i in invitees if not i.phone)
        invitees = [i for i in invitees if i.phone]
    if only_never_logged_in and invitees:
        waiting = await never_logged_in(b24, [i.user_id for i in invitees])
        arrived = [i for i in invitees if i.user_id not in waiting]
        counts["already_logged_in"] = len(arrived)
        with sessions.begin() as session:
            for invitee in arrived:  # logged in: no more reminders for them
                record(session, invitee, "bitrix24", status="accepted")
        invitees = [i for i in invitees if i.user_id in waiting]
    for invitee in invitees:
        error = await send(messaging, invitee, channel, portal_url, reminder=reminder)
        with sessions.begin() as session:
            record(session, invitee, channel, error)
        counts["failed" if error else "sent"] += 1
    return counts


async def invite_sites(
    b24: Bitrix24Port,
    messaging: MessagingPort,
    sessions: sessionmaker[Session],
    sites: Sequence[str],
    channel: TChannel,
    portal_url: str,
    *,
    never_logged_in_only: bool = True,
) -> dict[str, int]:
    """On demand: invite the people of these sites (all linked people when no site is given)."""
    with sessions() as session:
        invitees = _invitees(session, site_keys=[f"department:{s}" for s in sites])
    return await _send_all(
        b24,
        messaging,
        sessions,
        invitees,
        channel,
        portal_url,
        reminder=True,
        only_never_logged_in=never_logged_in_only,
    )


async def invite_due(
    b24: Bitrix24Port,
    messaging: MessagingPort,
    sessions: sessionmaker[Session],
    channel: TChannel,
    portal_url: str,
    resend_after_days: Sequence[int],
    max_invitations: int,
    now: datetime | None = None,
) -> dict[str, int]:
    """Scheduled: send the reminders that are due to people who still never logged in."""
    with sessions() as session:
        due = due_for_reminder(history(session), now or utcnow(), resend_after_days, max_invitations)
        invitees = _invitees(session, refs=due) if due else []
    return await _send_all(
        b24, messaging, sessions, invitees, channel, portal_url, reminder=True, only_never_logged_in=True
    )
