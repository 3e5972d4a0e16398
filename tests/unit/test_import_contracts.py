"""The layer rules hold when the code runs, and the contracts that state them catch a breach.

import-linter (contracts in pyproject.toml, run by .ci/run) reads the source statically; the fresh
interpreters below also see what package ``__init__`` modules load, which static analysis does not.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
CONTRACTS = {c["id"]: c for c in CONFIG["contracts"]}
PURE = CONTRACTS["pure"]
IO_LIBRARIES = [m for m in PURE["forbidden_modules"] if m not in CONFIG["root_packages"]]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _modules() -> list[str]:
    """Every module of the project's root packages, dotted."""
    found: list[str] = []
    for package in CONFIG["root_packages"]:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(found)


def _expand(expression: str) -> list[str]:
    """The modules an import-linter expression names (``*`` one segment, ``**`` one or more)."""
    pattern = ".".join(
        r"[^.]+(?:\.[^.]+)*" if part == "**" else "[^.]+" if part == "*" else re.escape(part)
        for part in expression.split(".")
    )
    return [m for m in _modules() if re.fullmatch(pattern, m)]


PURE_MODULES = sorted({m for expression in PURE["source_modules"] for m in _expand(expression)})


def _loaded_io(module: str, path: Path = ROOT) -> list[str]:
    """The I/O libraries (and project packages) importing ``module`` loads in a fresh interpreter."""
    probe = (
        "import importlib, sys\n"
        f"importlib.import_module({module!r})\n"
        f"print(' '.join(sorted(m for m in {PURE['forbidden_modules']!r} if m in sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=path, capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.split()


def test_the_pure_contract_names_every_port() -> None:
    assert {"connectors.bitrix24.port", "connectors.onec.port", "connectors.messaging.port"} <= set(
        PURE_MODULES
    )


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_module_loads_no_io_library_when_imported(module: str) -> None:
    assert _loaded_io(module) == []


def test_the_runtime_probe_sees_a_package_init_that_loads_io(tmp_path: Path) -> None:
    package = tmp_path / "probe_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("import sqlalchemy\n", encoding="utf-8")
    (package / "port.py").write_text("X = 1\n", encoding="utf-8")
    assert "sqlalchemy" in _loaded_io("probe_pkg.port", tmp_path)


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _copy_tree(target: Path) -> None:
    for package in CONFIG["root_packages"]:
        shutil.copytree(ROOT / package, target / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", target / "pyproject.toml")


def test_contracts_hold_on_the_tree() -> None:
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("module_file", "statement", "contract"),
    [
        ("sync/plan.py", "import httpx", "Pure modules and ports load no I/O library BROKEN"),
        ("connectors/bitrix24/port.py", "import sqlalchemy.orm", "load no I/O library BROKEN"),
        ("core/ids.py", "import store.models", "The kernel imports nothing of the project BROKEN"),
        ("store/db.py", "import connectors.bitrix24.budget", "no package-level cycle) BROKEN"),
        ("sync/apply.py", "from store.models import Invitation", "only through the unit of work BROKEN"),
    ],
)
def test_a_breach_made_on_purpose_is_caught(
    tmp_path: Path, module_file: str, statement: str, contract: str
) -> None:
    _copy_tree(tmp_path)
    target = tmp_path / module_file
    target.write_text(target.read_text(encoding="utf-8") + f"\n{statement}  # noqa\n", encoding="utf-8")
    done = _lint(tmp_path)
    assert done.returncode == 1
    assert contract in done.stdout
