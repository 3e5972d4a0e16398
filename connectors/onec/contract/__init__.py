"""The ExtranetBridge SOAP contract shipped with the bridge: the WSDL file and its fixed names.

Owns the constants both sides agree on (namespace, service name, version, the WSDL path). It must not
import zeep or any client code: the connector and the sandbox both read from here.
The WSDL is written the way 1C:Enterprise 8.3 emits one (onec-zup.md §1.2); docs/onec-contract.md explains it.
"""

from __future__ import annotations

from pathlib import Path

CONTRACT_VERSION = "1.0"
NAMESPACE = "http://extranet-bridge.example/zup/1"
SERVICE = "ExtranetBridge"
WSDL_PATH = Path(__file__).with_name("ExtranetBridge.1cws.wsdl")
ADVERTISED_ADDRESS = "http://srv-1c/zup/ws/ExtranetBridge.1cws"
"""The internal address the shipped WSDL advertises, as 1C does behind a proxy: always override it."""

EMPTY_REF = "00000000-0000-0000-0000-000000000000"
EMPTY_DATE = "0001-01-01T00:00:00"

OPERATIONS = (
    "GetInfo",
    "GetSnapshotPage",
    "GetChanges",
    "SubmitRequest",
    "SubmitTimesheet",
    "GetWorkSchedule",
    "GetDocument",
    "WithdrawRequest",
)


def soap_action(operation: str) -> str:
    """The SOAPAction 1C puts on both bindings: ``<ns>#<Service>:<Operation>``."""
    return f"{NAMESPACE}#{SERVICE}:{operation}"
