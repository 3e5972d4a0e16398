"""sandbox/onec: a stand-in for 1C:ZUP publishing the ExtranetBridge web service, with a generated company.

Start it with ``extranet-bridge sandbox onec`` or, in tests, ``sandbox.onec.testing.onec_sandbox``.
"""

from __future__ import annotations

from sandbox.onec.app import OneCSandboxApp, create_app
from sandbox.onec.state import SandboxConfig

__all__ = ["OneCSandboxApp", "SandboxConfig", "create_app"]
