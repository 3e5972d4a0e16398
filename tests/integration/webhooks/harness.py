"""The service under test on loopback, for the tests here and for scripts/fuzz-service: a Bitrix24 sandbox,
bridge settings for its OAuth application, the bridge served over HTTP, and schemathesis run against the
bridge's OpenAPI document."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.settings import Settings
from config.wiring import Store
from sandbox.bitrix24.testing import RunningSandbox, run_sandbox
from sandbox.server import serve_in_thread
from webhooks.app import create_app

ADMIN = "admin-secret-token"
MAX_BODY = 4096
SCHEMATHESIS_CONFIG = Path(__file__).with_name("schemathesis.toml")


@contextmanager
def serve_portal() -> Iterator[RunningSandbox]:
    with run_sandbox() as portal:
        yield portal


def bridge_settings(db_url: str, portal: RunningSandbox | None, **server: Any) -> Settings:
    bitrix24: dict[str, Any] = {}
    if portal is not None:
        app = portal.knobs.app()
        bitrix24 = {
            "portal_url": portal.base_url,
            "app": {
                "client_id": app["client_id"],
                "client_secret": app["client_secret"],
                "oauth_server": portal.base_url,
            },
        }
    return Settings(
        database={"url": db_url},
        bitrix24=bitrix24,
        server={"admin_token": ADMIN, "max_body_bytes": MAX_BODY, **server},
    )


@contextmanager
def serve_bridge(settings: Settings, store: Store) -> Iterator[str]:
    with serve_in_thread(create_app(settings, store)) as url:
        yield url


@dataclass
class SchemathesisRun:
    returncode: int
    cases: int
    failures: int
    output: str


def run_schemathesis(bridge_url: str, *, max_examples: int, seed: int | None = None) -> SchemathesisRun:
    """``st run`` with every check over the served document, authenticated as the admin."""
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(SCHEMATHESIS_CONFIG),
        "--no-color",
        "run",
        f"{bridge_url}/admin/openapi.json",
        "-H",
        f"Authorization: Bearer {ADMIN}",
        "--checks",
        "all",
        "--max-examples",
        str(max_examples),
        "--workers",
        "1",
        "--generation-database",
        "none",
    ]
    if seed is not None:
        command += ["--seed", str(seed)]
    with tempfile.TemporaryDirectory() as scratch:  # st keeps replay files in its working directory
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=scratch)
    output = done.stdout + done.stderr
    counted = re.search(r"(\d+) generated(?:, (\d+) found)?", output)
    cases = int(counted.group(1)) if counted else 0
    failures = int(counted.group(2) or 0) if counted else -1
    return SchemathesisRun(done.returncode, cases, failures, output)


def main() -> None:
    """``python -m tests.integration.webhooks.harness N``: schemathesis with N examples per operation against
    a freshly served bridge (installed from a sandbox), printing cases tried and failures."""
    from store.db import make_engine, session_factory, upgrade

    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as folder, serve_portal() as portal:
        url = f"sqlite:///{folder}/state.db"
        engine = make_engine(url)
        upgrade(engine)
        store = Store(engine, session_factory(engine))
        with serve_bridge(bridge_settings(url, portal), store) as bridge:
            import httpx

            from sandbox.bitrix24.params import encode_form

            auth = portal.knobs.install()["auth"]
            body = encode_form({"event": "ONAPPINSTALL", "auth": auth})
            installed = httpx.post(
                bridge + "/bitrix24/install",
                content=body,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert installed.status_code == 200, installed.text
            run = run_schemathesis(bridge, max_examples=examples)
        engine.dispose()
    print(run.output[-3000:])
    print(f"schemathesis: {run.cases} cases, {run.failures} failures, exit {run.returncode}")
    raise SystemExit(run.returncode)


if __name__ == "__main__":
    main()
