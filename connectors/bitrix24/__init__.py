"""connectors/bitrix24: the Bitrix24 REST adapter.

    port.py        the Protocol and its plain values (``Call``, ``CallOutcome``) — what sync/ imports
    directory.py   the REST calls of the mirror and their answers as typed values (Bitrix24 names live here)
    errors.py      the one table from a Bitrix24 answer to an ``Action``; ``Bitrix24ApiError``
    gateway.py     the gateway over fast-bitrix24 (``transport.py``, ``encoding.py``), retries and paging
    budget.py      the per-portal leaky bucket, in memory or shared through the database
    auth.py        OAuth tokens of the local application, kept in the state store
    factory.py     ``build_bitrix24(settings, store)`` for config/wiring.py

Importing this package (or ``port``/``directory``) loads no I/O library: the names below are imported
from their modules on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.bitrix24.auth import OAuthTokens, TokenPair
    from connectors.bitrix24.budget import Budget, DbBudget, MemoryBudget
    from connectors.bitrix24.errors import Action, Bitrix24ApiError, Resolution, classify
    from connectors.bitrix24.factory import build_bitrix24, portal_key
    from connectors.bitrix24.gateway import Bitrix24Gateway, RetryPolicy
    from connectors.bitrix24.port import Bitrix24Port, Call, CallOutcome

_WHERE = {
    "OAuthTokens": "auth",
    "TokenPair": "auth",
    "Budget": "budget",
    "DbBudget": "budget",
    "MemoryBudget": "budget",
    "Action": "errors",
    "Bitrix24ApiError": "errors",
    "Resolution": "errors",
    "classify": "errors",
    "build_bitrix24": "factory",
    "portal_key": "factory",
    "Bitrix24Gateway": "gateway",
    "RetryPolicy": "gateway",
    "Bitrix24Port": "port",
    "Call": "port",
    "CallOutcome": "port",
}

__all__ = [
    "Action",
    "Bitrix24ApiError",
    "Bitrix24Gateway",
    "Bitrix24Port",
    "Budget",
    "Call",
    "CallOutcome",
    "DbBudget",
    "MemoryBudget",
    "OAuthTokens",
    "Resolution",
    "RetryPolicy",
    "TokenPair",
    "build_bitrix24",
    "classify",
    "portal_key",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
