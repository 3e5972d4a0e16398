"""The portal's state: users, departments, workgroups, credentials, event bindings and the extension slot.

Owns the in-memory records and their indexes (users by id, e-mail and XML_ID) and ``reset``. Method
handlers change records through the helpers here so the indexes stay right; they must not keep state of
their own outside ``Portal`` (method families the core does not know keep theirs in ``extensions``).
Saving to and loading from a JSON file lives in persist.py.
"""

from __future__ import annotations

import secrets
from bisect import bisect_left, bisect_right
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from sandbox.bitrix24.clock import Clock
from sandbox.bitrix24.delivery import Outbox


@dataclass(slots=True)
class User:
    """One portal user; ``fields`` holds Bitrix24 field codes (``EMAIL``, ``ACTIVE`` "Y"/"N", …)."""

    id: int
    fields: dict[str, Any]
    is_admin: bool = False
    registered: bool = True
    """False while an invitation (user.add) has not been accepted (bitrix24-rest.md §2.1)."""

    @property
    def active(self) -> bool:
        return bool(self.fields.get("ACTIVE", "Y") == "Y")

    @property
    def extranet(self) -> bool:
        return bool(self.fields.get("USER_TYPE") == "extranet")


@dataclass(slots=True)
class Group:
    """A workgroup (sonet_group); ``members``: user id → role ``A`` owner, ``E`` moderator, ``K`` member."""

    id: int
    fields: dict[str, Any]
    members: dict[int, str] = field(default_factory=dict)
    requests: dict[int, int] = field(default_factory=dict)
    """Pending join requests: user id → id of the user who sent it (bitrix24-rest.md §2.1 [S])."""
    extranet: bool = False


@dataclass(slots=True)
class Webhook:
    user_id: int
    code: str
    scopes: frozenset[str]
    expires_at: float | None = None


@dataclass(slots=True)
class Token:
    user_id: int
    expires_at: float


@dataclass(slots=True)
class App:
    """The local server application: OAuth keys, install state and its application_token."""

    client_id: str
    client_secret: str
    scopes: frozenset[str]
    handler_url: str | None = None
    installed: bool = False
    application_token: str = ""
    version: int = 1


@dataclass(slots=True)
class Binding:
    id: int
    event: str
    handler: str
    auth_type: int
    event_type: str
    client_id: str
    auth_connector: str = ""


@dataclass(slots=True, frozen=True)
class Invitation:
    user_id: int
    email: str
    sent_at: float
    invited_by: int
    message: str | None = None
    group_ids: tuple[int, ...] = ()


class Portal:
    """One Bitrix24 portal with its clock. Everything is cleared by ``reset``."""

    def __init__(
        self,
        *,
        domain: str,
        clock: Clock,
        app: App,
        webhooks: list[Webhook],
        token_lifetime: int = 3600,
        refresh_lifetime: int = 180 * 86400,
        max_users: int | None = None,
    ) -> None:
        self.domain = domain
        self.public_url = f"https://{domain}"
        """Base URL the portal is reached at; the app sets it to the served address."""
        self.clock = clock
        self.member_id = secrets.token_hex(16)
        self.token_lifetime = token_lifetime
        self.refresh_lifetime = refresh_lifetime
        self.max_users = max_users
        self.plan = "standard"
        self._initial_app = app
        self._initial_webhooks = list(webhooks)
        self.request_log: deque[dict[str, Any]] = deque(maxlen=10_000)
        self.deliveries: list[dict[str, Any]] = []
        self.outbox = Outbox(self.deliveries, clock.now)
        self.reset()

    @property
    def oauth_domain(self) -> str:
        return self.public_url.split("://", 1)[-1].split("/", 1)[0]

    # -- lifecycle -------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to a fresh portal: the admin (user 1) in the root department (1), the configured keys."""
        self.users: dict[int, User] = {}
        self._user_ids: list[int] = []
        self.by_email: dict[str, int] = {}
        self.by_xml_id: dict[str, list[int]] = {}
        """XML_ID is not unique in Bitrix24, so the index holds every user with that value."""
        self.next_user_id = 1
        self.departments: dict[int, dict[str, Any]] = {}
        self.next_department_id = 1
        self.groups: dict[int, Group] = {}
        self.next_group_id = 1
        seed = self._initial_app
        self.app = App(seed.client_id, seed.client_secret, seed.scopes, seed.handler_url)
        self.webhooks: dict[tuple[int, str], Webhook] = {
            (w.user_id, w.code): w for w in self._initial_webhooks
        }
        self.access_tokens: dict[str, Token] = {}
        self.refresh_tokens: dict[str, Token] = {}
        self.bindings: list[Binding] = []
        self.next_binding_id = 1
        self.offline_events: list[dict[str, Any]] = []
        self.next_offline_id = 1
        self.invitations: list[Invitation] = []
        self.deliveries = []
        self.outbox.bind_record(self.deliveries)
        self.outbox.clear()
        self.extensions: dict[str, Any] = {}
        self.request_log.clear()
        admin = self.add_user({"NAME": "Portal", "LAST_NAME": "Admin", "EMAIL": "admin@sandbox.example"})
        admin.is_admin = True
        self.departments[1] = {"ID": 1, "NAME": "Company", "SORT": 500, "PARENT": None}
        self.next_department_id = 2
        admin.fields["UF_DEPARTMENT"] = [1]
        admin.fields["LAST_LOGIN"] = self.clock.iso()

    # -- users -----------------------------------------------------------------------------------------
    def user(self, user_id: Any) -> User | None:
        """The user with this id (int or numeric string), or None."""
        try:
            return self.users.get(int(user_id))
        except (TypeError, ValueError):
            return None

    def add_user(self, fields: dict[str, Any], *, registered: bool = True) -> User:
        user_id = self.next_user_id
        self.next_user_id += 1
        record = {"ACTIVE": "Y", "USER_TYPE": "employee", "DATE_REGISTER": self.clock.iso(), **fields}
        user = User(user_id, record, registered=registered)
        self.users[user_id] = user
        self._user_ids.append(user_id)
        self._index(user)
        return user

    def _index(self, user: User) -> None:
        raw = str(user.fields.get("EMAIL") or "")
        email = raw.lower()
        if email:
            self.by_email[raw if raw == email else email] = user.id  # reuse the stored string
        xml_id = user.fields.get("XML_ID")
        if xml_id not in (None, ""):
            holders = self.by_xml_id.setdefault(str(xml_id), [])
            if user.id not in holders:
                holders.append(user.id)

    def update_user(self, user: User, changes: dict[str, Any]) -> None:
        """Apply field changes and keep the e-mail and XML_ID indexes right."""
        old_email = str(user.fields.get("EMAIL") or "").lower()
        old_xml = user.fields.get("XML_ID")
        user.fields.update(changes)
        if old_email and self.by_email.get(old_email) == user.id:
            del self.by_email[old_email]
        if old_xml not in (None, ""):
            holders = self.by_xml_id.get(str(old_xml), [])
            if user.id in holders:
                holders.remove(user.id)
            if not holders:
                self.by_xml_id.pop(str(old_xml), None)
        self._index(user)

    def user_ids_from(self, low: int | None = None, high: int | None = None) -> list[int]:
        """User ids in ascending order, optionally only ``low <= id <= high`` (an index range, not a scan)."""
        ids = self._user_ids
        start = 0 if low is None else bisect_left(ids, low)
        stop = len(ids) if high is None else bisect_right(ids, high)
        return ids[start:stop]

    def groups_of(self, user_id: int) -> set[int]:
        return {g.id for g in self.groups.values() if user_id in g.members}

    # -- credentials -----------------------------------------------------------------------------------
    def issue_tokens(self, user_id: int) -> tuple[str, str]:
        """A fresh access/refresh token pair for ``user_id`` on the portal clock (bitrix24-rest.md §8.3)."""
        now = self.clock.now()
        access, refresh = secrets.token_hex(16), secrets.token_hex(16)
        self.access_tokens[access] = Token(user_id, now + self.token_lifetime)
        self.refresh_tokens[refresh] = Token(user_id, now + self.refresh_lifetime)
        return access, refresh

    def admin_id(self) -> int:
        return next((u.id for u in self.users.values() if u.is_admin), 1)
