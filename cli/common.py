"""Helpers the command modules share: consoles, opening the store and the bridge, running async bodies.

Imports of the bridge happen inside the functions, so that importing a command module stays cheap.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from cli.options import ConfigOption

if TYPE_CHECKING:
    from rich.console import Console

    from config.wiring import Bridge, Store

T = TypeVar("T")

__all__ = ["ConfigOption", "probe_store", "with_bridge", "with_store"]


@cache
def _consoles() -> tuple[Console, Console]:
    from rich.console import Console

    return Console(), Console(stderr=True)


def __getattr__(name: str) -> Any:
    """``console`` and ``err`` are made on first use (rich is not imported for `--help`)."""
    if name == "console":
        return _consoles()[0]
    if name == "err":
        return _consoles()[1]
    raise AttributeError(name)


LOCK_WAIT_SECONDS = 2.0


def probe_store(url: str) -> None:
    """Refuse at once, naming who holds it, when a SQLite store is locked or its folder is unwritable."""
    import sqlite3

    from sqlalchemy.engine import make_url

    from cli.errors import holders
    from connectors.errors import StoreError

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return
    path = Path(parsed.database)
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the state store's folder {folder} ({exc.strerror}); "
            "set database.url to a path this user can write"
        ) from None
    if not path.exists():
        return
    try:
        connection = sqlite3.connect(path, timeout=LOCK_WAIT_SECONDS)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.rollback()
        finally:
            connection.close()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc):
            who = ", ".join(holders(path)) or "another process"
            raise StoreError(
                f"the state store {path} is locked by {who}; wait for it to finish or stop it, "
                "or use PostgreSQL for several instances"
            ) from None
        raise StoreError(
            f"cannot write the state store {path} ({exc}); check its permissions or set database.url"
        ) from None


def _open(config: Path | None) -> tuple[Any, Store]:
    from config.wiring import open_store, settings_from

    settings = settings_from(config)
    probe_store(settings.database.url)
    return settings, open_store(settings)


def with_store(config: Path | None, body: Callable[[Store], T]) -> T:
    _settings, store = _open(config)
    try:
        return body(store)
    finally:
        store.dispose()


def with_bridge(config: Path | None, body: Callable[[Bridge], Awaitable[T]]) -> T:
    """Open settings, store and adapters, run ``body`` on one event loop, close everything."""
    import asyncio

    from config.wiring import open_bridge

    settings, store = _open(config)

    async def main() -> T:
        bridge = open_bridge(settings, store)
        try:
            return await body(bridge)
        finally:
            await bridge.close()

    try:
        return asyncio.run(main())
    finally:
        store.dispose()
