"""``extranet-bridge install`` / ``uninstall`` as an operator runs them, against the Bitrix24 sandbox over
loopback through the local application's OAuth; the sandbox's whole saved state is compared."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from config.wiring import Store
from connectors.bitrix24 import portal_key
from connectors.bitrix24.auth import StoreVault, TokenPair
from processes import activities, install
from processes.catalog import default_catalog
from sandbox.bitrix24 import persist
from sandbox.bitrix24.testing import RunningSandbox, run_sandbox
from tests.integration.cli.test_cli import run_cli

ENV_PREFIX = "EXTRANET_BRIDGE_"

PUBLIC = "http://127.0.0.1:9"  # only the host matters: activity handlers must be on the app's domain (§5.11)
CATALOG = default_catalog()


@pytest.fixture
def b24() -> Iterator[RunningSandbox]:
    with run_sandbox(rate=1000, burst=1000) as running:
        yield running


def _app_env(b24: RunningSandbox, store: Store, db_url: str) -> dict[str, str]:
    installed = b24.knobs.install(f"{PUBLIC}/bitrix24/install")["auth"]
    StoreVault(store.sessions, portal_key(b24.base_url)).save(
        TokenPair(
            installed["access_token"], installed["refresh_token"], installed["member_id"], installed["domain"]
        )
    )
    app = b24.knobs.app()
    return {
        "EXTRANET_BRIDGE_DATABASE__URL": db_url,
        "EXTRANET_BRIDGE_BITRIX24__PORTAL_URL": b24.base_url,
        "EXTRANET_BRIDGE_BITRIX24__APP__CLIENT_ID": app["client_id"],
        "EXTRANET_BRIDGE_BITRIX24__APP__CLIENT_SECRET": app["client_secret"],
        "EXTRANET_BRIDGE_BITRIX24__APP__OAUTH_SERVER": b24.base_url,
        "EXTRANET_BRIDGE_BITRIX24__RATE": "1000",
        "EXTRANET_BRIDGE_BITRIX24__BURST": "1000",
        "EXTRANET_BRIDGE_SERVER__PUBLIC_URL": PUBLIC,
        "EXTRANET_BRIDGE_LOGGING__LEVEL": "ERROR",
        "COLUMNS": "200",
    }


def _without(value: Any, dropped: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return {k: _without(v, dropped) for k, v in value.items() if not k.startswith(dropped)}
    if isinstance(value, list):
        return [_without(v, dropped) for v in value]
    return value


def snapshot(b24: RunningSandbox, *, counters: bool = True) -> Any:
    """Everything the sandbox saves to disk except tokens (and id counters, which never go back)."""
    dropped = ("access_tokens", "refresh_tokens") + (() if counters else ("next_",))
    data = json.loads(json.dumps(persist.dump(b24.sandbox.portal), default=str))
    # A family's state appears on its first call (even a read); a fresh one is the same as none.
    for key, value in b24.sandbox.portal.extensions.items():
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fresh = type(value)()
            kept = [f.name for f in dataclasses.fields(value) if counters or not f.name.startswith("next_")]
            if all(getattr(value, name) == getattr(fresh, name) for name in kept):
                data["extensions"].pop(key, None)
    return _without(data, dropped)


@dataclasses.dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str = ""


def invoke(*args: str, env: dict[str, str]) -> Ran:
    """The real command in this process (the CLI's start-up costs seconds on a loaded machine)."""
    from typer.testing import CliRunner

    from cli.main import _register_commands, app

    _register_commands()
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith(ENV_PREFIX)}
    result = CliRunner().invoke(app, list(args), env={**unset, **env})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.output)


def _json(stdout: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(stdout)
    return result


def test_install_twice_changes_nothing_and_uninstall_restores(
    b24: RunningSandbox, store: Store, db_url: str
) -> None:
    env = _app_env(b24, store, db_url)
    before = snapshot(b24)

    dry = invoke("install", "--dry-run", "--json", env=env)
    assert dry.returncode == 0, dry.stderr
    planned = _json(dry.stdout)["operations"]
    assert {"add list", "add field", "add activity", "add template", "bind event", "bind placement"} <= {
        op["action"] for op in planned
    }
    assert sum(op["action"] == "add template" for op in planned) == len(CATALOG.processes)
    assert snapshot(b24) == before  # --dry-run writes nothing

    table = invoke("install", "--dry-run", env=env)
    assert (
        table.returncode == 0 and "what install would change" in table.stdout and "eb_leave" in table.stdout
    )

    first = invoke("install", env=env)
    assert first.returncode == 0, first.stderr
    assert "what install did change" in first.stdout
    after = snapshot(b24)
    assert after != before

    portal = b24.sandbox.portal
    app = b24.knobs.app()["client_id"]
    from sandbox.bitrix24 import bizproc_engine as engine
    from sandbox.bitrix24.procs_lists_model import state as lists_state

    iblocks = {b.code: b for b in lists_state(portal).iblocks.values()}
    assert set(iblocks) == {install.PREFIX + code for code in CATALOG.processes}
    leave = iblocks["eb_leave"]
    assert leave.type_id == "bitrix_processes"
    codes = {f.code: f.type for f in leave.fields.values() if f.code}
    assert codes["DATE_FROM"] == "S:Date" and codes["LEAVE_KIND"] == "L" and "EB_STATUS" in codes
    templates = [t for t in engine.state(portal).templates.values()]
    assert len(templates) == len(CATALOG.processes)
    assert {t.document_type[2] for t in templates} == {f"iblock_{b.id}" for b in iblocks.values()}
    assert all(t.auto_execute == 1 and t.steps for t in templates)  # real .bpt files, unpacked with steps
    assert {code for app_id, code in engine.state(portal).activities if app_id == app} == {
        a.code for a in activities.ALL
    }
    bound = {(b.event, b.event_type) for b in portal.bindings}
    assert ("ONUSERADD", "offline") in bound and ("ONAPPUNINSTALL", "online") in bound
    placements = b24.sandbox.portal.extensions["placement"].bound
    assert {(p["placement"], p["handler"]) for p in placements} == {
        ("LEFT_MENU", f"{PUBLIC}/portal/placement"),
        ("USER_PROFILE_TOOLBAR", f"{PUBLIC}/portal/placement"),
    }

    again_dry = invoke("install", "--dry-run", "--json", env=env)
    assert _json(again_dry.stdout)["operations"] == []
    second = invoke("install", env=env)
    assert second.returncode == 0, second.stderr
    assert "already set up" in second.stdout
    assert snapshot(b24) == after  # the second run changed nothing, not even an id counter

    dry_remove = invoke("uninstall", "--dry-run", "--json", env=env)
    removing = _json(dry_remove.stdout)["operations"]
    assert sum(op["action"] == "delete list" for op in removing) == len(CATALOG.processes)
    assert snapshot(b24) == after

    removed = invoke("uninstall", env=env)
    assert removed.returncode == 0, removed.stderr
    assert snapshot(b24, counters=False) == snapshot_before_without_counters(before)
    assert "nothing of the bridge" in invoke("uninstall", env=env).stdout


def snapshot_before_without_counters(before: Any) -> Any:
    return _without(before, ("next_",))


def test_uninstall_leaves_what_others_made(b24: RunningSandbox, store: Store, db_url: str) -> None:
    env = _app_env(b24, store, db_url)
    hook = b24.knobs.webhook(scopes=["lists"])
    import httpx

    response = httpx.post(
        f"{hook}lists.add.json",
        json={"IBLOCK_TYPE_ID": "bitrix_processes", "IBLOCK_CODE": "vacation_hr", "FIELDS": {"NAME": "HR"}},
    )
    assert response.status_code == 200, response.text
    before = snapshot(b24, counters=False)
    assert invoke("install", env=env).returncode == 0
    assert invoke("uninstall", env=env).returncode == 0
    assert snapshot(b24, counters=False) == before


def test_install_without_the_application_is_one_clear_line(db_url: str) -> None:
    env = {
        "EXTRANET_BRIDGE_DATABASE__URL": db_url,
        "EXTRANET_BRIDGE_SERVER__PUBLIC_URL": PUBLIC,
        "COLUMNS": "200",
    }
    for command in (("install",), ("uninstall", "--dry-run")):
        result = run_cli(*command, env=env)
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "bitrix24.app.client_id" in lines[0], result.stderr
        assert "Traceback" not in result.stderr


def test_install_with_the_application_not_yet_installed_is_one_clear_line(
    b24: RunningSandbox, db_url: str
) -> None:
    app = b24.knobs.app()
    env = {
        "EXTRANET_BRIDGE_DATABASE__URL": db_url,
        "EXTRANET_BRIDGE_BITRIX24__PORTAL_URL": b24.base_url,
        "EXTRANET_BRIDGE_BITRIX24__APP__CLIENT_ID": app["client_id"],
        "EXTRANET_BRIDGE_BITRIX24__APP__CLIENT_SECRET": app["client_secret"],
        "EXTRANET_BRIDGE_SERVER__PUBLIC_URL": PUBLIC,
        "COLUMNS": "200",
    }
    result = run_cli("install", env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "not installed on the portal yet" in lines[0], result.stderr
