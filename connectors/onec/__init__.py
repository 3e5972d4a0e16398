"""connectors/onec: the 1C:ZUP connector (SOAP over zeep + httpx) behind connectors.onec.port.OneCPort.

    port.py        the typed records and the Protocol (the only module sync/ and processes/ import)
    contract/      the shipped ExtranetBridge WSDL and its constants (owned with the sandbox)
    factory.py     build_onec(settings) → OneCConnector, for config/wiring.py
    connector.py   OneCConnector: lazy set-up, explicit port/address, retries, the port's operations
    transport.py   httpx clients (timeouts, UTF-8 Basic auth), zeep's transport, answer classification
    errors.py      typed failures with Transient/Terminal markers; 1C's infrastructure texts recognised
    wsdl.py        1C WSDL repairs (xs:any in xs:all, keyword base types) or one clear WsdlDefectError
    records.py     the lxml fast path for GetSnapshotPage/GetChanges answers → port records
    values.py      text → value rules of that fast path
    encode.py      zeep arguments for writes, zeep answers → port results
    normalise.py   1C conventions → Python values (empty date/ref → None, time zone, trimming)

Importing this package does not import zeep.
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
