"""The REST-activity call-out: event tokens and the exact payload Bitrix24 POSTs to an activity HANDLER.

Owns: signing and reading ``event_token`` values and building the payload of bitrix24-rest.md §5.12. The
POST itself goes through the core's outbox (sandbox/bitrix24/delivery.py: form-encoded with PHP brackets,
sent after the REST call returns, recorded in ``portal.deliveries``, never retried — §6.2), so the
receiving handler can call ``bizproc.event.send`` straight back. It must not interpret workflows:
bizproc_engine.py decides what to send and what an answer means.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from sandbox.bitrix24.eventbus import app_auth
from sandbox.bitrix24.procs_common import now, slot

LABEL = "bizproc.activity"
"""Label of call-out deliveries in ``portal.deliveries`` (``bizproc.activity:<code>``)."""


@dataclass
class Secret:
    key: str = field(default_factory=lambda: secrets.token_hex(32))


def _key(portal: Any) -> bytes:
    return slot(portal, "bizproc.secret", Secret).key.encode()


# -- event tokens -------------------------------------------------------------------------------------
def make_token(portal: Any, workflow_id: str, activity_name: str, event_id: str) -> str:
    """``<workflow_id>|<activity name>|<32-char id>.<signature>`` (bitrix24-rest.md §5.12, [S] Signer)."""
    data = f"{workflow_id}|{activity_name}|{event_id}"
    return f"{data}.{hmac.new(_key(portal), data.encode(), hashlib.sha256).hexdigest()}"


def read_token(portal: Any, token: Any) -> tuple[str, str, str] | None:
    """The (workflow id, activity name, event id) of a genuine token, else None."""
    data, dot, signature = str(token or "").rpartition(".")
    if not dot:
        return None
    expected = hmac.new(_key(portal), data.encode(), hashlib.sha256).hexdigest()
    parts = data.split("|")
    if not hmac.compare_digest(expected, signature) or len(parts) != 3:
        return None
    return parts[0], parts[1], parts[2]


def new_event_id() -> str:
    """[S] CBPRestActivity: ``Random::getString(32, true)``."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(32))


# -- payload ------------------------------------------------------------------------------------------
def auth_block(portal: Any, user_id: int) -> dict[str, Any]:
    """``auth[...]`` of §5.12: the app's event auth (core eventbus) with refresh token and ``expires``."""
    auth = app_auth(portal, user_id, with_refresh=True)
    auth["expires"] = int(now(portal)) + int(portal.token_lifetime)
    return auth


def build_payload(
    portal: Any,
    *,
    workflow_id: str,
    code: str,
    document_id: list[str],
    document_type: list[str],
    token: str,
    properties: dict[str, Any],
    use_subscription: bool,
    timeout: int,
    auth_user_id: int,
) -> dict[str, Any]:
    """Exactly the keys of bitrix24-rest.md §5.12 (nested; form-encoded with PHP brackets on the wire)."""
    return {
        "workflow_id": workflow_id,
        "code": code,
        "document_id": list(document_id),
        "document_type": list(document_type),
        "event_token": token,
        # §5.12 / [S] CBPRestActivity::execute: empty input values are sent as "".
        "properties": {k: ("" if v is None else v) for k, v in properties.items()},
        "use_subscription": "Y" if use_subscription else "N",
        "timeout_duration": str(int(timeout)),
        "ts": str(int(now(portal))),
        "auth": auth_block(portal, auth_user_id),
    }


def enqueue(portal: Any, url: str, payload: dict[str, Any], code: str) -> None:
    """Queue the POST on the core outbox; it leaves after the current REST call (the queue server)."""
    portal.outbox.put(url, payload, f"{LABEL}:{code}")
