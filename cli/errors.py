"""One error format for every command: ``error: <what was wrong>; <how to fix it>`` on stderr, exit 1.

``explain`` turns the exceptions a user's mistake (or an unreachable system) raises into those lines;
anything it does not know is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

# typer carries its own copy of click; its commands raise that copy's exceptions.
from typer._click import exceptions as click_exceptions

__all__ = ["RECOVER_FEED", "click_exceptions", "explain", "holders", "print_error"]

RECOVER_FEED = "extranet-bridge{config} sync --mode full"


def print_error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _config_hint() -> str:
    from config.settings import chosen_config

    path = chosen_config()
    return f" -c {path}" if path else ""


def explain(exc: BaseException) -> list[str] | None:
    """The lines to print for ``exc``, or None when it is not a known, user-facing failure."""
    import yaml
    from pydantic import ValidationError

    from config.check import problems_from_validation
    from connectors.errors import BridgeError

    if isinstance(exc, ValidationError):
        return [str(problem) for problem in problems_from_validation(exc)]
    if isinstance(exc, yaml.YAMLError):
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        from config.settings import chosen_config

        name = chosen_config() or "the configuration file"
        return [f"{name} is not valid YAML{where}: {problem}; `config check` shows more"]
    if isinstance(exc, BridgeError):
        codes = getattr(exc, "codes", ())
        if "ACK_OUT_OF_RANGE" in codes:
            return [
                "1C no longer knows the bridge's change-feed position (a restored or new 1C base); "
                "recover with a full run that re-reads the 1C snapshot and adopts what Bitrix24 has: "
                + RECOVER_FEED.format(config=_config_hint())
            ]
        return [exc.operator_message]
    if isinstance(exc, FileNotFoundError):
        return [f"file not found: {exc.filename or exc}"]
    if isinstance(exc, PermissionError | IsADirectoryError | NotADirectoryError):
        return [f"cannot use {exc.filename or 'a path'}: {exc.strerror}; pick a path this user can write"]
    if isinstance(exc, OSError) and exc.filename:
        return [f"cannot use {exc.filename}: {exc.strerror}"]
    return None


def holders(path: Path) -> list[str]:
    """Other processes that have ``path`` (or its -wal/-shm files) open: ``pid 123 (command line)``."""
    import os

    targets = {str(path.resolve()), f"{path.resolve()}-wal", f"{path.resolve()}-shm"}
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        if proc.name == str(os.getpid()):
            continue
        try:
            if not any(os.readlink(fd) in targets for fd in (proc / "fd").iterdir()):
                continue
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        command = " ".join(a.decode(errors="replace") for a in argv if a)[:80]
        found.append(f"pid {proc.name} ({command})")
    return found
