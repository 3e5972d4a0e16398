"""Typed failures of the 1C connector, and the classification of what a 1C server sends back.

Business errors of our contract travel inside ``return`` and become typed results (SubmitResult.errors,
…): they are not exceptions. What is raised here is infrastructure: the network, the web server in front
of 1C, the 1C cluster (sessions locked, no licence), SOAP faults (an exception in the 1C module), and
responses that do not match the contract. Each class is Transient (retry with backoff) or Terminal.

Messages for the operator carry codes and statuses only; the raw fault text (Russian, may quote data)
is kept in ``internal`` and passed through redaction before anything logs it.
"""

from __future__ import annotations

import re

from connectors.errors import OneCError, Terminal, Transient
from core.redact import redact_text


class OneCTransportError(OneCError, Transient):
    """The HTTP exchange failed (connection refused or dropped, protocol error)."""


class OneCTimeout(OneCTransportError):
    """Connecting or reading the answer took longer than the configured timeout."""


class OneCUnavailable(OneCError, Transient):
    """The web server or the 1C cluster answered, but cannot serve now (5xx, infobase busy)."""

    def __init__(self, operator_message: str, *, status: int | None = None, internal: str | None = None):
        super().__init__(operator_message, internal=internal)
        self.status = status


class OneCSessionsLocked(OneCUnavailable):
    """The administrator blocked new sessions (update, maintenance): «сеансы заблокированы»."""


class OneCLicenceError(OneCUnavailable):
    """No free client licence for a new 1C session."""


class OneCLockConflict(OneCUnavailable):
    """A SOAP fault caused by a data-lock conflict or lock timeout inside 1C: the same call may pass."""


class OneCAuthError(OneCError, Terminal):
    """401/403: the login, the password or the 1C user's rights are wrong."""

    def __init__(self, operator_message: str, *, status: int | None = None, internal: str | None = None):
        super().__init__(operator_message, internal=internal)
        self.status = status


class OneCFault(OneCError, Terminal):
    """A SOAP fault from the 1C module that names no transient cause (those are OneCLockConflict,
    OneCSessionsLocked, …): an exception in the module, or a Client/VersionMismatch fault (a bug on our
    side). Retrying the same call would repeat it, so it is not retried."""

    def __init__(self, operator_message: str, *, code: str | None = None, internal: str | None = None):
        super().__init__(operator_message, internal=internal)
        self.code = code


class OneCHttpError(OneCError, Terminal):
    """An HTTP status the contract does not expect (404 wrong publication path, 405, 415, …)."""

    def __init__(self, operator_message: str, *, status: int, internal: str | None = None):
        super().__init__(operator_message, internal=internal)
        self.status = status


class OneCProtocolError(OneCError, Terminal):
    """The answer does not follow the contract (malformed XML, a missing field, paging that stalls)."""


class OneCRequestRejected(OneCError, Terminal):
    """A read operation answered with business errors in ``return`` (e.g. an unknown entity)."""

    def __init__(self, operator_message: str, *, codes: tuple[str, ...] = (), internal: str | None = None):
        super().__init__(operator_message, internal=internal)
        self.codes = codes


class WsdlDefectError(OneCError, Terminal):
    """The WSDL cannot be used: a schema defect we do not know how to repair, or no such port."""

    def __init__(self, operator_message: str, *, defect: str, internal: str | None = None):
        super().__init__(operator_message, internal=internal)
        self.defect = defect


# What the 1C web extension, the cluster and the platform say when they cannot start a session. The texts
# come in Russian or English depending on the server's locale; matching is on lower-cased text.
_SESSIONS_LOCKED = re.compile(
    r"сеанс\w*\s+(?:\w+\s+)?заблокирован|блокировк\w*\s+(?:начала\s+)?сеанс|начало сеанса\s+.*запрещено|"
    r"session\w*\s+(?:are\s+|is\s+)?(?:locked|blocked)|session start is (?:prohibited|forbidden|locked)|"
    r"информационная база заблокирована|infobase is locked",
)
_LICENCE = re.compile(
    r"лицензи|licen[cs]e|"
    r"превышено (?:допустимое |максимальное )?количество (?:пользователей|сеансов|соединений)",
)
_LOCK_CONFLICT = re.compile(
    r"конфликт блокировок|время ожидания (?:предоставления )?блокировки|lock conflict|"
    r"lock (?:wait )?time(?:d)? ?out|deadlock|взаимоблокировк",
)
_CLUSTER = re.compile(
    r"соединение с сервером .*(?:прервано|разорвано|потеряно)|рабочий процесс .*(?:аварийно|недоступен)|"
    r"server connection (?:was )?(?:lost|broken|closed)|working process .*(?:crash|unavailable)",
)


def classify_text(text: str, status: int | None) -> OneCUnavailable | None:
    """The retryable 1C infrastructure condition a body or fault text describes, if any."""
    low = text.lower()
    internal = redact_text(text[:500])
    if _SESSIONS_LOCKED.search(low):
        return OneCSessionsLocked(
            "1C refuses new sessions (sessions locked)", status=status, internal=internal
        )
    if _LICENCE.search(low):
        return OneCLicenceError("1C has no free licence for a new session", status=status, internal=internal)
    if _LOCK_CONFLICT.search(low):
        return OneCLockConflict("1C reported a data-lock conflict", status=status, internal=internal)
    if _CLUSTER.search(low):
        return OneCUnavailable("1C lost its cluster connection mid-call", status=status, internal=internal)
    return None
