"""A scan of every log line the test suite produces for secrets and personal data from the sandboxes.

Issue 8 ("Security"): whatever a test does, no log line may carry a seeded person's full name, e-mail
or phone, an organisation's INN/KPP/OGRN, or a configured secret (webhook codes, the OAuth client
secret, the 1C password). The seeded values are learnt as the sandboxes generate them (the 1C
generator and the sandboxes' configs are wrapped, not changed); the log lines are those the product's
own logging pipeline renders (configured for every test, at INFO, into a scanning stream) plus
captured stderr, captured log records and log-shaped stdout lines. Findings name the test and the kind
of value only, never the value; any finding fails the session.
"""

from __future__ import annotations

import io
import itertools
import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest

from config.logging import configure_logging

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+?\d(?:[\s()\-]*\d){9,11}")
_DIGITS = re.compile(r"\d{9,13}")
_WORD = re.compile(r"[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?")
_LOG_LINE = re.compile(r"^(?:\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d\S* \[|\{.*\"event\")")


@dataclass
class Needles:
    """Seeded personal data and configured secrets, kept in sets so a line is checked in one pass."""

    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    """The last ten digits of every seeded phone."""
    org_ids: set[str] = field(default_factory=set)
    names: set[tuple[str, str]] = field(default_factory=set)
    """(last, first) and (first, last) of every seeded person."""
    secrets: set[str] = field(default_factory=set)
    _secret_re: re.Pattern[str] | None = None

    def add_company(self, company: Any) -> None:
        for org in company.orgs.values():
            self.org_ids.update(v for v in (org.inn, org.kpp, org.ogrn) if v)
        for person in company.tables["Person"].by_ref.values():
            self.emails.update(e.strip().lower() for e in person.emails if e and "@" in e)
            for phone in person.phones:
                digits = re.sub(r"\D", "", str(phone.value))
                if len(digits) >= 10:
                    self.phones.add(digits[-10:])
            if person.last_name and person.first_name:
                self.names.add((person.last_name, person.first_name))
                self.names.add((person.first_name, person.last_name))

    def add_secrets(self, values: Iterable[str | None]) -> None:
        fresh = {v for v in values if v and len(v) >= 6} - self.secrets
        if fresh:
            self.secrets |= fresh
            self._secret_re = None

    def find(self, line: str) -> list[str]:
        """The kinds of seeded values the line carries (empty when it is clean)."""
        kinds: list[str] = []
        if "@" in line and any(m.group().lower() in self.emails for m in _EMAIL.finditer(line)):
            kinds.append("e-mail")
        if any(re.sub(r"\D", "", m.group())[-10:] in self.phones for m in _PHONE.finditer(line)):
            kinds.append("phone")
        if any(m.group() in self.org_ids for m in _DIGITS.finditer(line)):
            kinds.append("INN/KPP/OGRN")
        words = _WORD.findall(line)
        if any(pair in self.names for pair in itertools.pairwise(words)):
            kinds.append("full name")
        if self.secrets:
            if self._secret_re is None:
                self._secret_re = re.compile("|".join(re.escape(s) for s in sorted(self.secrets)))
            if self._secret_re.search(line):
                kinds.append("secret")
        return kinds


NOT_OURS = ("mail.log",)
"""Loggers of the tests' own stand-ins for third parties, which are not part of the product or of the
sandboxes: aiosmtpd's ``mail.log`` (the receiving SMTP server in messaging tests logs each recipient)."""

_CAPTURED = re.compile(r"^[A-Z]+\s+([\w.]+):")
_JSON_LOGGER = re.compile(r'"logger":\s*"([^"]+)"')


def _logger_of(line: str) -> str:
    """The logger that wrote a line: pytest's captured-record format, or the product's JSON."""
    found = _CAPTURED.match(line) or _JSON_LOGGER.search(line)
    return found.group(1) if found else "?"


@dataclass
class Scan:
    needles: Needles = field(default_factory=Needles)
    lines: int = 0
    findings: list[tuple[str, str, str]] = field(default_factory=list)
    """(test, kinds, where) of every dirty line."""
    current: str = "(session)"

    def check(self, text: str, where: str, *, only_log_shaped: bool = False) -> None:
        for line in text.splitlines():
            if not line.strip() or (only_log_shaped and not _LOG_LINE.match(line)):
                continue
            logger = _logger_of(line)
            if logger.startswith(NOT_OURS):
                continue
            self.lines += 1
            kinds = self.needles.find(line)
            if kinds:
                self.findings.append((self.current, ", ".join(kinds), f"{where}, logger {logger}"))


SCAN = Scan()


class _ScanningStream(io.TextIOBase):
    """Where the product's logging writes during the tests: every line is scanned as it is written."""

    def write(self, text: str) -> int:
        SCAN.check(text, "log")
        return len(text)

    def isatty(self) -> bool:
        return False


_STREAM = _ScanningStream()


def _ours_configured() -> bool:
    return any(getattr(h, "stream", None) is _STREAM for h in logging.getLogger().handlers)


def _wrap_sandboxes() -> None:
    """Learn seeded data and secrets as the sandboxes are built (wrapping, not changing, them)."""
    import sandbox.bitrix24.testing as b24_testing
    import sandbox.onec.state as onec_state
    import sandbox.onec.testing as onec_testing

    generate = onec_state.generate  # type: ignore[attr-defined]

    def generate_and_learn(*args: Any, **kwargs: Any) -> Any:
        company = generate(*args, **kwargs)
        SCAN.needles.add_company(company)
        return company

    onec_state.generate = generate_and_learn  # type: ignore[attr-defined]

    b24_create = b24_testing.create_app  # type: ignore[attr-defined]

    def b24_create_and_learn(config: Any = None, *args: Any, **kwargs: Any) -> Any:
        if config is not None:
            SCAN.needles.add_secrets([config.client_secret, *(w.code for w in config.webhooks)])
        return b24_create(config, *args, **kwargs)

    b24_testing.create_app = b24_create_and_learn  # type: ignore[attr-defined]

    onec_create = onec_testing.create_app  # type: ignore[attr-defined]

    def onec_create_and_learn(config: Any = None, *args: Any, **kwargs: Any) -> Any:
        if config is not None:
            SCAN.needles.add_secrets([config.password, config.knob_token])
        return onec_create(config, *args, **kwargs)

    onec_testing.create_app = onec_create_and_learn  # type: ignore[attr-defined]


def pytest_configure(config: pytest.Config) -> None:
    _wrap_sandboxes()


def pytest_runtest_setup(item: pytest.Item) -> None:
    SCAN.current = item.nodeid
    if not _ours_configured():  # a test reconfigured logging for itself: route the next ones here again
        configure_logging("INFO", "json", "WARNING", stream=_STREAM)  # type: ignore[arg-type]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    SCAN.current = report.nodeid
    for title, content in report.sections:
        if "stderr" in title or "log" in title:
            SCAN.check(content, title)
        elif "stdout" in title:
            SCAN.check(content, title, only_log_shaped=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if SCAN.findings and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    found = SCAN.findings
    terminalreporter.write_line(
        f"log scan: {SCAN.lines} log lines checked against {len(SCAN.needles.emails)} seeded e-mails, "
        f"{len(SCAN.needles.phones)} phones, {len(SCAN.needles.names) // 2} names, "
        f"{len(SCAN.needles.org_ids)} organisation ids, {len(SCAN.needles.secrets)} secrets: "
        f"{len(found)} finding(s)"
    )
    for (test, kinds, where), count in sorted(Counter(found).items())[:50]:
        terminalreporter.write_line(f"log scan FAILED: {test}: {kinds} in {where} ({count} lines)", red=True)
