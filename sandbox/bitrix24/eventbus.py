"""Raising portal events: match ``event.bind`` bindings and queue online deliveries or offline records.

Owns the event payload shape. Sources: bitrix24-rest.md §6.2 (POST form-encoded; keys ``event``,
``event_handler_id``, ``data``, ``ts``, ``auth``; app ``auth`` = access_token, expires_in, scope, domain,
server_endpoint, status, client_endpoint, member_id, application_token; ``ONUSERADD`` carries the user
fields directly in ``data``), §6.4 (offline queue keeps only the latest record per object),
api-reference/common/events/on-app-install.md (ONAPPINSTALL data VERSION/ACTIVE/INSTALLED/LANGUAGE_ID).
"""

from __future__ import annotations

from typing import Any

from sandbox.bitrix24.state import Portal


def app_auth(portal: Portal, user_id: int | None, *, with_refresh: bool = False) -> dict[str, Any]:
    """The ``auth`` block an app's handler receives; tokens only when a user acted (§6.2)."""
    endpoint = portal.public_url.rstrip("/")
    auth: dict[str, Any] = {}
    if user_id is not None:
        access, refresh = portal.issue_tokens(user_id)
        expires = int(portal.clock.now()) + portal.token_lifetime
        # [SDK] (bitrix24-rest.md §6.2): real payloads also carry `expires` (unix time) and `user_id`.
        auth.update({"access_token": access, "expires": expires, "expires_in": portal.token_lifetime})
        auth["scope"] = ",".join(sorted(portal.app.scopes))
        if with_refresh:
            auth["refresh_token"] = refresh
    auth.update(
        {
            # b24pysdk credentials/oauth_placement_data.py (validate_against_app_info) and settings/oauth:
            # the portal's domain is the host its client_endpoint names.
            "domain": portal.oauth_domain,
            "server_endpoint": f"{endpoint}/rest/",
            "status": "L",
            "client_endpoint": f"{endpoint}/rest/",
            "member_id": portal.member_id,
            "application_token": portal.app.application_token,
        }
    )
    if user_id is not None:
        auth["user_id"] = user_id  # [SDK] b24pysdk reads auth[user_id] (bitrix24-rest.md §6.2)
    return auth


def emit(
    portal: Portal,
    event: str,
    data: dict[str, Any],
    *,
    acting_user: int | None,
    object_id: Any = None,
    with_refresh: bool = False,
) -> int:
    """Raise ``event``; returns how many bindings it reached. Handlers bound by the app only.

    ``with_refresh``: the event's ``auth`` also carries ``refresh_token`` (ONUSERADD per on-user-add.md).
    """
    event = event.upper()
    reached = 0
    if not portal.app.installed:
        return 0
    for binding in portal.bindings:
        if binding.event != event:
            continue
        reached += 1
        if binding.event_type == "offline":
            _offline(portal, event, data, object_id)
            continue
        # §6.1 auth_type: the user whose token the handler gets; default = the user who triggered it.
        as_user = binding.auth_type or acting_user
        payload = {
            "event": event,
            "event_handler_id": binding.id,
            "data": data,
            "ts": str(int(portal.clock.now())),
            "auth": app_auth(portal, as_user, with_refresh=with_refresh),
        }
        portal.outbox.put(binding.handler, payload, event)
    return reached


def _offline(portal: Portal, event: str, data: dict[str, Any], object_id: Any) -> None:
    # §6.4: the queue keeps only the latest state per object (1000 edits → 1 record).
    key = str(object_id) if object_id is not None else None
    if key is not None:
        portal.offline_events = [
            e for e in portal.offline_events if not (e["EVENT_NAME"] == event and e.get("_object") == key)
        ]
    record = {
        "ID": str(portal.next_offline_id),
        "TIMESTAMP_X": portal.clock.iso(),
        "EVENT_NAME": event,
        "EVENT_DATA": data,
        "EVENT_ADDITIONAL": {"user_id": None},
        "MESSAGE_ID": str(portal.next_offline_id),
        "_object": key,
        "_process_id": None,
        "_error": False,
    }
    portal.next_offline_id += 1
    portal.offline_events.append(record)
    # §6.4: ONOFFLINEEVENT (an online handler) is pinged when the queue has new records; it carries no data.
    for binding in portal.bindings:
        if binding.event == "ONOFFLINEEVENT" and binding.event_type == "online":
            payload = {
                "event": "ONOFFLINEEVENT",
                "event_handler_id": binding.id,
                "data": {},
                "ts": str(int(portal.clock.now())),
                "auth": app_auth(portal, None),
            }
            portal.outbox.put(binding.handler, payload, "ONOFFLINEEVENT")
