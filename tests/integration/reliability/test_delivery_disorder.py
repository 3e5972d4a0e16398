"""Duplicates and disorder, fast: the portal's own ONUSERADD deliveries replayed to a running service
process, a third duplicated, shuffled, several in flight: every answer 2xx, each event takes effect
once. (The long version: `extranet-bridge bench deliveries`, figures in docs/RELIABILITY.md.)"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cli import reliability_harness as harness
from cli.reliability_deliveries import disorder_proof
from sandbox.bitrix24.app import create_app
from sandbox.bitrix24.config import SandboxConfig, WebhookConfig
from sandbox.server import free_port, serve_in_thread


@contextmanager
def portal() -> Iterator[harness.Endpoints]:
    """The Bitrix24 sandbox in this process, named by its loopback address (the service checks it)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    hook = WebhookConfig(user_id=1)
    config = SandboxConfig(domain=f"127.0.0.1:{port}", public_url=base, webhooks=(hook,))
    with serve_in_thread(create_app(config), port=port):
        yield harness.Endpoints(
            base,
            f"{base}/rest/1/{hook.code}/",
            "http://127.0.0.1:9",  # 1C is not needed: the service runs without jobs
            "http://127.0.0.1:9/zup/ws/ExtranetBridge.1cws",
            client_id=config.client_id,
            client_secret=config.client_secret,
        )


def test_duplicated_shuffled_deliveries_take_effect_once(db_url: str, tmp_path: Path) -> None:
    with portal() as endpoints:
        found = disorder_proof(endpoints, db_url, tmp_path, deliveries=60, seed=3, concurrency=6)
    assert found["distinct_events"] == 40 and found["duplicates"] == 20, found
    assert set(found["statuses"]) == {200}, found["statuses"]
    assert found["effects"]["inbox_processed"] == found["effects"]["distinct_keys"] == 40, found
