"""The README's tour, run as written against `extranet-bridge sandbox up`, then the sandboxes restarted.

The lines between ``<!-- tour -->`` markers in README.md are executed one by one as a user would (each a
new process); only the sandbox folder, its ports and the site ref differ. After a restart the 1C sandbox
has forgotten its change feed: `sync` must say so in one line with a command, and that command must
recover.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "cli.main"]


def tour_lines() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- tour.*?-->\s*```bash\n(.*?)```", text, re.S)
    assert block, "README.md lost its tour block"
    return [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def free_ports(count: int) -> int:
    """A first port with ``count`` free ports after it."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + count > 65535:
            continue
        try:
            for port in range(first, first + count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return int(first)
    raise RuntimeError("no free port range")


@contextmanager
def sandboxes(folder: Path, port: int, env: dict[str, str]) -> Iterator[str]:
    """`sandbox up` as the README starts it (plus --dir and --port); yields its printed output."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    up = re.search(r"\.venv/bin/extranet-bridge (sandbox up[^#\n]*)", readme)
    assert up, "README.md no longer starts the sandboxes"
    args = [*shlex.split(up.group(1)), "--dir", str(folder), "--port", str(port)]
    log = folder.parent / f"sandbox-{time.monotonic_ns()}.log"
    with log.open("w") as out:
        process = subprocess.Popen([*CLI, *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while "Use it:" not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "sandbox up did not start"
            time.sleep(0.2)
        yield log.read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def run(line: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    args = shlex.split(line)
    assert args[0].endswith("extranet-bridge"), line
    result = subprocess.run([*CLI, *args[1:]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    return result


@pytest.mark.slow
@pytest.mark.skipif(
    bool(os.environ.get("EXTRANET_BRIDGE_TEST_DATABASE_URL")),
    reason="the tour uses the SQLite store `sandbox up` configures: it runs once, in the SQLite pass",
)
def test_readme_tour_on_sandbox_up(tmp_path: Path) -> None:
    folder = tmp_path / "sandbox"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXTRANET_BRIDGE_")}
    env["COLUMNS"] = "200"
    port = free_ports(4)
    lines = tour_lines()
    with sandboxes(folder, port, env) as banner:
        assert f"extranet-bridge -c {folder}/extranet-bridge.yaml plan" in banner
        assert "login Интеграция" in banner and "password" in banner
        for line in lines:
            if line.startswith("export "):
                name, _ = line.removeprefix("export ").split("=", 1)
                env[name] = str(folder / "extranet-bridge.yaml")
                continue
            if "<site ref>" in line:
                sites = json.loads(run(".venv/bin/extranet-bridge sites list --json", env).stdout)
                line = line.replace("<site ref>", sites[0]["site"])
            result = run(line, env)
            assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
            if " plan" in line:
                assert "create_user" in result.stdout
            if line.endswith("extranet-bridge status"):
                assert "committed" in result.stdout
        mailbox = httpx.get(f"http://127.0.0.1:{port + 2}/messages", timeout=10).json()["messages"]
        assert any(m["channel"] == "sms" for m in mailbox), mailbox
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text
        assert "Users (" in page and "boss@client.example" in page

    # The same command starts the sandboxes again: the portal is kept, the 1C feed is not.
    with sandboxes(folder, port, env):
        refused = run(".venv/bin/extranet-bridge sync", env)
        assert refused.returncode == 1
        error = refused.stderr.strip().splitlines()
        assert len(error) == 1 and error[0].startswith("error: 1C no longer knows"), refused.stderr
        command = error[0].rsplit(": ", 1)[-1]
        assert command.startswith("extranet-bridge ")
        recovered = run(command, env)
        assert recovered.returncode == 0, recovered.stderr
        assert "create_user" not in recovered.stdout  # adopted what Bitrix24 kept, created nothing
        again = run(".venv/bin/extranet-bridge sync", env)
        assert again.returncode == 0, again.stderr
        doctor = run(".venv/bin/extranet-bridge doctor", env)
        assert doctor.returncode == 0, doctor.stdout
