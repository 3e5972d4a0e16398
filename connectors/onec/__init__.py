"""connectors/onec: the 1C:ZUP connector (SOAP over zeep + httpx) behind connectors.onec.port.OneCPort.

Importing this package does not import zeep: sync/ and processes/ import ``connectors.onec.port`` only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from config.settings import Settings
    from connectors.onec.connector import OneCConnector


def build_onec(settings: Settings, **kwargs: Any) -> OneCConnector:
    """See connectors.onec.factory.build_onec."""
    from connectors.onec.factory import build_onec as build

    return build(settings, **kwargs)
