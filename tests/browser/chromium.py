"""What the browser tests share: Chromium driven by Playwright (Debian's ``chromium``; nothing downloaded)
or a clean skip, one page per test, screenshots, and opening the portal as Bitrix24 opens a placement."""

from __future__ import annotations

import html
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from sandbox.bitrix24.testing import RunningSandbox

CHROMIUM = os.environ.get("EXTRANET_BRIDGE_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("EXTRANET_BRIDGE_SCREENSHOTS") or ROOT / "docs" / "screenshots")


def playwright_or_skip() -> Any:
    """Playwright's sync API; skips the calling test module when Chromium or Playwright is absent
    (``scripts/browser-deps`` installs both)."""
    if not shutil.which(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}: run scripts/browser-deps", allow_module_level=True)
    return pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed: pip install -e .[dev]"
    )


@contextmanager
def browser_page() -> Iterator[Any]:
    """A fresh Russian-locale page in headless Chromium, closed afterwards."""
    sync_api = playwright_or_skip()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        context = browser.new_context(locale="ru-RU", viewport={"width": 1100, "height": 900})
        yield context.new_page()
        browser.close()


def open_placement(sb: RunningSandbox, page: Any, user_id: int, placement: str = "LEFT_MENU") -> None:
    """The sandbox's placement knob gives the documented call for that user; the browser POSTs it, as the
    Bitrix24 page does into the widget's frame."""
    call = sb.knobs.open_placement(placement, user_id, options={}, post=False)
    fields = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in call["form"].items()
    )
    page.set_content(f'<form id="b24" method="post" action="{html.escape(call["url"])}">{fields}</form>')
    with page.expect_navigation():
        page.evaluate("document.getElementById('b24').submit()")
    page.wait_for_load_state()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
