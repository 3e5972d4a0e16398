"""Fixtures of the 1C contract tests: sandboxes over real HTTP and SOAP callers.

Test modules load them with ``pytest_plugins = ["onec_fixtures"]``. There is no conftest.py here: two
modules named ``conftest`` break ``mypy .`` while tests/ has no ``__init__.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from onec_soap import TODAY, Soap

from sandbox.onec.testing import RunningSandbox, onec_sandbox


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    """A fresh sandbox per test (300 employments, clock pinned and frozen at TODAY 09:00)."""
    with onec_sandbox(seed=11, employees=300, today=TODAY, frozen_clock=True) as sb:
        yield sb


@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[RunningSandbox]:
    """One sandbox for a module of read-only tests."""
    with onec_sandbox(seed=12, employees=400, today=TODAY, frozen_clock=True) as sb:
        yield sb


@pytest.fixture
def soap(sandbox: RunningSandbox) -> Iterator[Soap]:
    caller = Soap(sandbox)
    yield caller
    caller.http.close()


@pytest.fixture
def shared_soap(shared_sandbox: RunningSandbox) -> Iterator[Soap]:
    caller = Soap(shared_sandbox)
    yield caller
    caller.http.close()
