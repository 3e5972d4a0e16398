"""The bridge's error hierarchy (the kernel's): one root, a base per area, and Transient/Terminal markers.

    BridgeError
    ├── ConfigError                      bad settings, mapping or catalog; the operator must fix it
    ├── StoreError                       the state store is missing, outdated or unreachable
    │   ├── StoreNotUpgraded
    │   └── StoreUnavailable             a write failed now; worth trying again
    ├── ConnectorError                   something a connector could not do
    │   ├── Bitrix24Error                (connectors/bitrix24/errors.py refines it)
    │   ├── OneCError                    (connectors/onec/errors.py refines it)
    │   └── MessagingError               (e-mail and SMS gateways)
    ├── SyncError                        (sync/)
    │   └── LeaseHeld                    another process is applying a run right now
    └── ProcessError                     (processes/)

A class also inherits ``Transient`` (worth retrying with backoff) or ``Terminal`` (retrying cannot
help). Every error carries a message for the operator, kept apart from internal detail, so that
payloads and personal data never end up in what is shown or logged (the Airbyte CDK's split).

``Action`` is the Bitrix24 vocabulary of what to do with an answer; connectors/bitrix24/errors.py owns
the table that picks one, sync/ acts on it (typed, never by comparing names).
"""

from __future__ import annotations

from enum import Enum


class BridgeError(Exception):
    """Root of every error the bridge raises on purpose."""

    def __init__(self, operator_message: str, *, internal: str | None = None) -> None:
        super().__init__(operator_message)
        self.operator_message = operator_message
        self.internal = internal


class Transient:
    """Marker: the same call may succeed later."""


class Terminal:
    """Marker: retrying the same call cannot succeed."""


class ConfigError(BridgeError, Terminal):
    """Settings, a mapping or a catalog are invalid."""


class StoreError(BridgeError):
    """The state store cannot be used."""


class StoreNotUpgraded(StoreError, Terminal):
    """The database schema is older than this code; run `extranet-bridge db upgrade`."""


class StoreUnavailable(StoreError, Transient):
    """The state store refused or lost a write just now (locked, gone, out of space, its table missing)."""


class ConnectorError(BridgeError):
    """Base of connector failures."""


class Bitrix24Error(ConnectorError):
    """Base of Bitrix24 failures."""


class OneCError(ConnectorError):
    """Base of 1C failures."""


class MessagingError(ConnectorError):
    """Base of e-mail and SMS failures."""


class SyncError(BridgeError):
    """Base of mirror-engine failures."""


class ProcessError(BridgeError):
    """Base of process failures."""


class LeaseHeld(SyncError, Transient):
    """Another process holds the sync lease (it is applying a run); try again when it has finished."""


class Action(Enum):
    """What the gateway (or its caller) does with a Bitrix24 response."""

    OK = "ok"
    RETRY = "retry"
    """Transient: retry with exponential backoff, a limited number of times."""
    RATE_LIMITED = "rate_limited"
    """The portal's leaky bucket is full (§8.1): fill our budget, back off, retry."""
    METHOD_BLOCKED = "method_blocked"
    """This method is blocked until ``operating_reset_at`` (§8.2); other methods go on."""
    REFRESH_TOKEN = "refresh_token"
    """The OAuth access token expired: refresh it, persist it, retry once."""
    QUARANTINE = "quarantine"
    """The data of this item is refused (duplicate e-mail, bad e-mail): park the record, go on."""
    FAIL_CONFIG = "fail_config"
    """Credentials, scope or portal are wrong: the operator must fix the settings."""
    FAIL = "fail"
    """The call is wrong; retrying cannot help."""
