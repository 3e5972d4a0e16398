"""Building the 1C connector from the settings tree (called by config/wiring.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from connectors.onec.connector import OneCConnector, OneCOptions, RetryPolicy

if TYPE_CHECKING:
    from config.settings import Settings


def options_from(settings: Settings, *, retry: RetryPolicy | None = None) -> OneCOptions:
    onec = settings.onec
    return OneCOptions(
        wsdl=onec.wsdl,
        endpoint=onec.endpoint,
        username=onec.username,
        password=onec.password.get_secret_value(),
        soap_version=onec.soap_version,
        connect_timeout=onec.connect_timeout_seconds,
        read_timeout=onec.read_timeout_seconds,
        page_size=onec.page_size,
        retry=retry or RetryPolicy(),
    )


def build_onec(
    settings: Settings, *, http: httpx.AsyncClient | None = None, retry: RetryPolicy | None = None
) -> OneCConnector:
    """A connector for ``settings.onec``; no I/O happens until the first call."""
    return OneCConnector(options_from(settings, retry=retry), http=http)
