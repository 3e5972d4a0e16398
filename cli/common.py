"""Helpers the command modules share: options, opening the bridge, running async bodies."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from config.wiring import Bridge, Store, open_bridge, open_store, settings_from

T = TypeVar("T")

console = Console()
err = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="YAML settings (default: $EXTRANET_BRIDGE_CONFIG or ./extranet-bridge.yaml)."
    ),
]


def with_store(config: Path | None, body: Callable[[Store], T]) -> T:
    store = open_store(settings_from(config))
    try:
        return body(store)
    finally:
        store.dispose()


def with_bridge(config: Path | None, body: Callable[[Bridge], Awaitable[T]]) -> T:
    """Open settings, store and adapters, run ``body`` on one event loop, close everything."""
    settings = settings_from(config)
    store = open_store(settings)

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
