"""The Bitrix24 port: the one way the bridge talks to Bitrix24 REST.

connectors/bitrix24/gateway.py implements it over fast-bitrix24; tests may use fakes. Nothing outside
connectors/bitrix24 imports fast_bitrix24 or aiohttp, and nothing sees their exceptions: failures are
``Bitrix24ApiError`` (connectors/bitrix24/errors.py) carrying the Bitrix24 ``error`` code, the HTTP
status and the classified action.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from core.errors import Action
from core.ids import B24DepartmentId as B24DepartmentId  # the kernel's typed ids, re-exported
from core.ids import B24GroupId as B24GroupId
from core.ids import B24UserId as B24UserId


@dataclass(frozen=True)
class Call:
    """One REST method call; ``label`` names it inside a batch (the key of ``cmd``)."""

    method: str
    params: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""


class CallError(Protocol):
    """A refused call as callers see it (``Bitrix24ApiError`` is one): what to do about it, typed."""

    @property
    def action(self) -> Action:
        """What the error table says to do (core.errors.Action): retry, park the record, stop, …"""
        ...

    @property
    def code(self) -> str:
        """The Bitrix24 ``error`` code, e.g. ``ERROR_CORE``."""
        ...

    @property
    def description(self) -> str:
        """Bitrix24's ``error_description``, redacted."""
        ...

    @property
    def operator_message(self) -> str: ...

    @property
    def outcome_unknown(self) -> bool:
        """True when a write may have run although no answer came back: look before sending it again."""
        ...


@dataclass(frozen=True)
class CallOutcome:
    """The result of one call of a batch: either ``result`` or ``error`` is set."""

    label: str
    result: Any = None
    error: CallError | None = None
    """A Bitrix24ApiError for a refused command; other commands of the batch are unaffected."""

    @property
    def ok(self) -> bool:
        return self.error is None


class Bitrix24Port(Protocol):
    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        """Call one method; returns ``result``; raises Bitrix24ApiError (after retries where they help)."""
        ...

    async def batch(self, calls: Sequence[Call], *, halt: bool = False) -> list[CallOutcome]:
        """Run calls in ``batch`` requests of up to 50; one outcome per call, in order."""
        ...

    def list_all(
        self, method: str, params: Mapping[str, Any] | None = None, *, id_key: str = "ID"
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Every item of a list method, page by page, keyset-paged by ``>ID`` with ``start=-1``."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class DownloadedFile:
    """A file downloaded from a link a Bitrix24 method gave (``lists.element.get.file.url``)."""

    name: str
    """From the answer's ``Content-Disposition``; the caller's fallback when the portal named none."""
    mime: str | None
    """The ``Content-Type`` the portal sent, or None when it sent none or only a generic one."""
    content: bytes = field(repr=False)


@runtime_checkable
class FileDownloads(Bitrix24Port, Protocol):
    """A port that can also download the files Bitrix24 links to (connectors/bitrix24/files.py)."""

    async def download(
        self, link: str, *, fallback_name: str, max_bytes: int | None = None
    ) -> DownloadedFile:
        """Download ``link`` (relative to the portal, or on the portal); raises Bitrix24ApiError, and
        FAIL with code ``FILE_TOO_LARGE`` when the file is over ``max_bytes`` (default: the configured
        limit)."""
        ...
