"""Redaction (issue 8, item 5): error codes stay readable; bare and spaced phones, Cyrillic e-mails,
INN/KPP and Cyrillic full names are masked; a crash's traceback goes through it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.redact import redact_text

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    "text",
    [
        "code=QUERY_LIMIT_EXCEEDED",
        "batch failed: code=OPERATION_TIME_LIMIT method=user.add",
        "refresh refused code=invalid_grant",
        "error_code=QUERY_LIMIT_EXCEEDED users=1500 run 42",
        "user 17 joined group 204 at 2026-11-23T10:15:00+03:00",
    ],
)
def test_error_codes_and_ordinary_values_stay_readable(text: str) -> None:
    assert redact_text(text) == text


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("phone 9804327265 given", "9804327265"),
        ("call 7 (980) 432-72-65 now", "432-72-65"),
        ("tel. (980) 432-72-65", "432-72-65"),
        ("8-980-432-72-65", "432-72-65"),
        ("mail иванов@почта.рф please", "иванов"),
        ("to иванов@почта.рф", "почта.рф"),
        ("to ivanov@xn--80a1acny.xn--p1ai", "ivanov"),
        ("OAuth code=a1b2c3d4e5f60718293a", "a1b2c3d4e5f60718293a"),
        ("code=abcdefsecret&state=1", "abcdefsecret"),
        ("organisation ИНН 7707083893 КПП 770701001", "7707083893"),
        ("organisation ИНН 7707083893 КПП 770701001", "770701001"),
        ("person INN 500100732259", "500100732259"),
        ("SNILS 112-233-445 95", "112-233-445"),
        ("KeyError: 'Иванов Иван Иванович'", "Иванов"),
        ("name='Петрова-Водкина Анна Сергеевна'", "Анна"),
    ],
)
def test_personal_data_is_masked(text: str, hidden: str) -> None:
    assert hidden not in redact_text(text)


def test_a_crash_traceback_is_redacted() -> None:
    crash = (
        "from config.logging import configure_logging\n"
        "configure_logging('INFO', 'console')\n"
        "def load(person):\n"
        "    raise ValueError(f'bad record {person}')\n"
        "load('Иванов Иван Иванович, ИНН 7707083893, КПП 770701001, иванов@почта.рф, 9804327265')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", crash], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert "ValueError" in done.stderr and "load" in done.stderr  # still a useful traceback
    for secret in ("Иванов", "7707083893", "770701001", "иванов@", "9804327265"):
        assert secret not in done.stderr, secret


def test_a_thread_crash_is_redacted() -> None:
    crash = (
        "import threading\n"
        "from config.logging import configure_logging\n"
        "configure_logging('INFO', 'json')\n"
        "def work():\n"
        "    raise RuntimeError('Сидоров Пётр Ильич 7 (980) 432-72-65')\n"
        "t = threading.Thread(target=work); t.start(); t.join()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", crash], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert "RuntimeError" in done.stderr
    assert "Сидоров" not in done.stderr and "432-72-65" not in done.stderr
