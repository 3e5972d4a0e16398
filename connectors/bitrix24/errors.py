"""What a Bitrix24 failure means and what to do about it: one table, one classifier, one error type.

Owns the ``Action`` vocabulary, the classification table (HTTP status, ``error`` code, optional
``error_description`` substring → ``Resolution``) and ``Bitrix24ApiError``. The gateway classifies every
failed HTTP response and every ``result_error`` entry of a ``batch`` here (bitrix24-rest.md §7, §8.3);
nothing else interprets Bitrix24 error codes. Must not do I/O or log payloads: operator messages are
fixed texts, and the Bitrix24 description is kept only as ``internal`` after redaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core.errors import Action as Action  # re-exported: the gateway and its callers import it from here
from core.errors import Bitrix24Error, Terminal, Transient
from core.redact import redact_text

log = logging.getLogger(__name__)


RETRYABLE = frozenset({Action.RETRY, Action.RATE_LIMITED})


@dataclass(frozen=True)
class Resolution:
    action: Action
    operator_message: str
    mapped: bool = True
    """False when no row of the table matched (the gateway retries a little, then parks, logs "unmapped")."""


@dataclass(frozen=True)
class Rule:
    """A row: ``status``/``code`` None match anything; ``contains`` matches the description, any case."""

    status: int | None
    code: str | None
    resolution: Resolution
    contains: str | None = None

    def matches(self, status: int | None, code: str, description: str) -> bool:
        if self.code is None:
            # Status-only rows need a known status; batch entries (status None) match by code alone.
            if status is None or self.status != status:
                return False
        else:
            if self.code.lower() != code.lower():
                return False
            if self.status is not None and status is not None and self.status != status:
                return False
        return self.contains is None or self.contains.lower() in description.lower()


def _r(action: Action, message: str) -> Resolution:
    return Resolution(action, message)


_RATE = _r(Action.RATE_LIMITED, "Bitrix24 refused the request: too many requests (rate limit)")
_SERVER = _r(Action.RETRY, "Bitrix24 had a temporary server error")
_BAD_CREDENTIALS = _r(Action.FAIL_CONFIG, "Bitrix24 rejected the webhook or application credentials")
_SCOPE = _r(Action.FAIL_CONFIG, "the webhook or application lacks a Bitrix24 scope this call needs")

# Order matters: the first matching row wins; specific rows (code, substring) come before generic ones.
TABLE: tuple[Rule, ...] = (
    # §8.1: 503 since the Dec-2024 docs, 429 before; accept both.
    Rule(503, "QUERY_LIMIT_EXCEEDED", _RATE),
    Rule(429, "QUERY_LIMIT_EXCEEDED", _RATE),
    # §8.2: the method is blocked for this app/webhook until operating_reset_at.
    Rule(
        429,
        "OPERATION_TIME_LIMIT",
        _r(Action.METHOD_BLOCKED, "Bitrix24 blocked this method for a while (operating time limit)"),
    ),
    Rule(401, "expired_token", _r(Action.REFRESH_TOKEN, "the Bitrix24 access token expired")),
    # b24pysdk tests/integration/errors: an unknown OAuth access token is 401 invalid_token "Unable to get
    # application by token" — a refresh replaces it; if that fails too, the refresh error says why.
    Rule(401, "invalid_token", _r(Action.REFRESH_TOKEN, "Bitrix24 did not accept the access token")),
    Rule(None, "NO_AUTH_FOUND", _BAD_CREDENTIALS),
    # b24pysdk: a wrong webhook code is 401 INVALID_CREDENTIALS "Invalid request credentials"; the docs'
    # system-error table (§8.3) lists the code with 403.
    Rule(401, "INVALID_CREDENTIALS", _BAD_CREDENTIALS),
    Rule(403, "INVALID_CREDENTIALS", _BAD_CREDENTIALS),
    # b24pysdk: the token of a deactivated user is 401 authorization_error "Unable to authorize user".
    Rule(
        None,
        "authorization_error",
        _r(Action.FAIL_CONFIG, "the Bitrix24 user behind the webhook or application is deactivated"),
    ),
    # OAuth server (§8.3): the refresh token is dead or the client is unknown — reinstall or fix settings.
    Rule(None, "invalid_grant", _r(Action.FAIL_CONFIG, "the Bitrix24 refresh token was refused (reinstall)")),
    Rule(
        None,
        "invalid_client",
        _r(Action.FAIL_CONFIG, "the Bitrix24 application client id or secret is wrong"),
    ),
    # The docs (§8.3) say 403, b24pysdk's BitrixAPIInsufficientScope says 401: both mean the same.
    Rule(401, "insufficient_scope", _SCOPE),
    Rule(403, "insufficient_scope", _SCOPE),
    # b24pysdk test_error_bitrix_api_allowed_only_intranet_user: timeman.* called by an extranet user is
    # 403 ALLOWED_ONLY_INTRANET_USER (the intranet module spells it in lower case). That user's call is
    # wrong, not the bridge's settings.
    Rule(
        403,
        "ALLOWED_ONLY_INTRANET_USER",
        _r(Action.FAIL, "this Bitrix24 method is for intranet users only (the caller is an extranet user)"),
    ),
    # user-add.md: SONET_GROUP_ID names a group that does not exist. [S] userAdd registers and invites the
    # user before it fails on the join request, so the user may exist now (look it up before retrying).
    Rule(
        None,
        "ERROR_NO_GROUP",
        _r(Action.FAIL, "the Bitrix24 group of this call does not exist (the user may have been created)"),
    ),
    Rule(
        None,
        "WRONG_AUTH_TYPE",
        _r(Action.FAIL_CONFIG, "this Bitrix24 method needs an application (OAuth), not a webhook"),
    ),
    Rule(None, "user_access_error", _r(Action.FAIL_CONFIG, "the Bitrix24 user has no access to the app")),
    Rule(None, "METHOD_CONFIRM_WAITING", _r(Action.FAIL_CONFIG, "a Bitrix24 admin must confirm this method")),
    Rule(None, "METHOD_CONFIRM_DENIED", _r(Action.FAIL_CONFIG, "a Bitrix24 admin denied this method")),
    Rule(
        503,
        "OVERLOAD_LIMIT",
        _r(Action.FAIL_CONFIG, "Bitrix24 blocked REST access for this portal (overload)"),
    ),
    Rule(None, "PORTAL_DELETED", _r(Action.FAIL_CONFIG, "the Bitrix24 portal is closed or deleted")),
    Rule(None, "INVALID_REQUEST", _r(Action.FAIL_CONFIG, "Bitrix24 requires HTTPS for REST calls")),
    Rule(None, "ERROR_METHOD_NOT_FOUND", _r(Action.FAIL_CONFIG, "the Bitrix24 method does not exist here")),
    # §2.1: user.add refusals that belong to one person's data — park that record, the rest goes on.
    Rule(
        400,
        "ERROR_ARGUMENT",
        _r(Action.QUARANTINE, "a Bitrix24 user with this e-mail already exists"),
        contains="already exists",
    ),
    Rule(400, "ERROR_ARGUMENT", _r(Action.QUARANTINE, "Bitrix24 refused the e-mail address"), "wrong_email"),
    Rule(
        400,
        "ERROR_ARGUMENT",
        _r(Action.QUARANTINE, "Bitrix24 refused a field value's type"),
        contains="invalid_type_field",
    ),
    Rule(None, "ERROR_BATCH_LENGTH_EXCEEDED", _r(Action.FAIL, "a Bitrix24 batch had more than 50 commands")),
    Rule(
        None,
        "ERROR_BATCH_METHOD_NOT_ALLOWED",
        _r(Action.FAIL, "this Bitrix24 method is not allowed in batch"),
    ),
    Rule(None, "ERROR_ARGUMENT", _r(Action.FAIL, "Bitrix24 refused an argument of the call")),
    Rule(None, "ERROR_CORE", _r(Action.FAIL, "Bitrix24 refused the call")),
    Rule(
        None,
        "ACCESS_DENIED",
        _r(Action.FAIL_CONFIG, "this Bitrix24 method needs the application (OAuth), not the webhook"),
        contains="application context",
    ),
    Rule(None, "ACCESS_DENIED", _r(Action.FAIL, "Bitrix24 denied access to this call")),
    Rule(None, "INTERNAL_SERVER_ERROR", _SERVER),
    Rule(None, "ERROR_UNEXPECTED_ANSWER", _SERVER),
    # Generic by status (only when the status is known): 400/403/404 are never retried; 5xx are.
    Rule(400, None, _r(Action.FAIL, "Bitrix24 refused the call (400)")),
    Rule(403, None, _r(Action.FAIL, "Bitrix24 denied the call (403)")),
    Rule(404, None, _r(Action.FAIL, "Bitrix24 does not know this method or object (404)")),
    Rule(405, None, _r(Action.FAIL, "Bitrix24 does not allow this call (405)")),
    Rule(500, None, _SERVER),
    Rule(502, None, _r(Action.RETRY, "Bitrix24 or a proxy in front of it is unavailable (502)")),
    Rule(503, None, _r(Action.RETRY, "Bitrix24 is temporarily unavailable (503)")),
    Rule(504, None, _r(Action.RETRY, "Bitrix24 did not answer in time (504)")),
)

UNMAPPED = Resolution(Action.RETRY, "Bitrix24 returned an error the bridge does not know", mapped=False)
TRANSPORT = Resolution(Action.RETRY, "the connection to Bitrix24 failed")
HTML_PAGE = Resolution(
    Action.RETRY, "Bitrix24 answered with an HTML page instead of JSON (proxy or maintenance)"
)


def classify(status: int | None, code: str, description: str = "") -> Resolution:
    """The resolution for an error; ``status`` is None for a ``result_error`` entry of a batch."""
    for rule in TABLE:
        if rule.matches(status, code or "", description or ""):
            return rule.resolution
    log.warning("bitrix24.error.unmapped", extra={"status": status, "code": redact_text(code or "")[:64]})
    return UNMAPPED


class Bitrix24ApiError(Bitrix24Error):
    """A refused or failed Bitrix24 call, classified. ``transient`` says whether a later retry may help."""

    def __init__(
        self,
        resolution: Resolution,
        *,
        code: str = "",
        description: str = "",
        status: int | None = None,
        method: str = "",
        retry_at: float | None = None,
    ) -> None:
        detail = f"{method or '?'}: {code or 'no code'} (HTTP {status if status is not None else '-'})"
        super().__init__(
            f"{resolution.operator_message} [{detail}]",
            internal=redact_text(f"{detail} {description}"[:500]),
        )
        self.resolution = resolution
        self.action = resolution.action
        self.code = code
        self.description = redact_text(description)
        self.status = status
        self.method = method
        self.retry_at = retry_at
        """For METHOD_BLOCKED: unix time when the method may be called again."""
        self.outcome_unknown = False
        """True when a write may have run although no answer came back: check before sending it again."""

    @property
    def transient(self) -> bool:
        return self.action in RETRYABLE or self.action in (Action.METHOD_BLOCKED, Action.REFRESH_TOKEN)


# Errors Bitrix24 gives *before* running a method: a write that met one surely did not happen.
NOT_RUN_CODES = frozenset(
    {
        "QUERY_LIMIT_EXCEEDED",
        "OPERATION_TIME_LIMIT",
        "expired_token",
        "invalid_token",
        "OVERLOAD_LIMIT",
        "NO_AUTH_FOUND",
        "INVALID_CREDENTIALS",
        "authorization_error",
        "insufficient_scope",
    }
)
NOT_SENT_TRANSPORT = frozenset({"ClientConnectorError", "ConnectionRefusedError", "ClientConnectorDNSError"})
READ_SUFFIXES = (".get", ".list", ".search", ".fields", ".current", ".status", ".info", ".instances")
READ_METHODS = frozenset({"profile", "scope", "methods", "app.info", "server.time", "events", "user.get"})


def is_read(method: str) -> bool:
    """True for methods that change nothing, so repeating them is always safe."""
    name = method.strip().lower()
    return name in READ_METHODS or name.endswith(READ_SUFFIXES)


def surely_not_run(error: Bitrix24ApiError) -> bool:
    """The request was refused before Bitrix24 ran anything (so a write may be sent again)."""
    return error.code in NOT_RUN_CODES or error.code in NOT_SENT_TRANSPORT


class Bitrix24TransientError(Bitrix24ApiError, Transient):
    """RETRY, RATE_LIMITED, METHOD_BLOCKED or REFRESH_TOKEN that could not be settled now."""


class Bitrix24TerminalError(Bitrix24ApiError, Terminal):
    """QUARANTINE, FAIL_CONFIG or FAIL: retrying the same call cannot help."""


def api_error(
    resolution: Resolution,
    *,
    code: str = "",
    description: str = "",
    status: int | None = None,
    method: str = "",
    retry_at: float | None = None,
) -> Bitrix24ApiError:
    """The right subclass (transient or terminal) for a resolution."""
    transient = resolution.action in RETRYABLE or resolution.action in (
        Action.METHOD_BLOCKED,
        Action.REFRESH_TOKEN,
    )
    cls = Bitrix24TransientError if transient else Bitrix24TerminalError
    return cls(
        resolution, code=code, description=description, status=status, method=method, retry_at=retry_at
    )
