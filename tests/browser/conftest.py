"""The browser tests' page: a fresh one per test in headless Chromium (tests/browser/chromium.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.chromium import browser_page


@pytest.fixture
def page() -> Iterator[Any]:
    with browser_page() as opened:
        yield opened
