"""ONUSERADD: someone the bridge invited completed registration (bitrix24-rest.md §6.3: the event fires
after registration, not on invite), so the reminders stop for them. Called by the inbox dispatcher in
its transaction; the scheduled check of ``LAST_LOGIN`` (invitations.py) remains the fallback."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.ids import B24UserId, PersonRef
from store.models import IdentityLink, Invitation
from sync.invitations import Invitee, record


def registered(session: Session, b24_user_id: int) -> bool:
    """Record the invitation of the person linked to ``b24_user_id`` as accepted; False when the user is
    not a mirrored person or was already recorded."""
    ref = session.scalar(
        select(IdentityLink.source_ref).where(
            IdentityLink.kind == "person", IdentityLink.b24_id == b24_user_id
        )
    )
    if ref is None:
        return False
    accepted = select(Invitation.id).where(Invitation.person_ref == ref, Invitation.status == "accepted")
    if session.scalar(accepted.limit(1)) is not None:
        return False
    record(
        session,
        Invitee(PersonRef(ref), B24UserId(b24_user_id), "", None, None),
        "bitrix24",
        status="accepted",
    )
    return True
