"""The error tree lives in the kernel (core/errors.py); this module re-exports it for old imports."""

from core.errors import (
    Action,
    Bitrix24Error,
    BridgeError,
    ConfigError,
    ConnectorError,
    LeaseHeld,
    MessagingError,
    OneCError,
    ProcessError,
    StoreError,
    StoreNotUpgraded,
    SyncError,
    Terminal,
    Transient,
)

__all__ = [
    "Action",
    "Bitrix24Error",
    "BridgeError",
    "ConfigError",
    "ConnectorError",
    "LeaseHeld",
    "MessagingError",
    "OneCError",
    "ProcessError",
    "StoreError",
    "StoreNotUpgraded",
    "SyncError",
    "Terminal",
    "Transient",
]
