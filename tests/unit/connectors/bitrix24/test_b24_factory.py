"""build_bitrix24 picks the way in and the budget from the settings; no server needed."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from config.settings import Bitrix24AppSettings, Bitrix24Settings, Settings
from config.wiring import Store
from connectors.bitrix24 import Bitrix24Port, DbBudget, MemoryBudget, build_bitrix24, portal_key
from connectors.errors import ConfigError

HOOK = "https://corp.example.invalid/rest/1/abcdef123456/"


def test_webhook_without_store_uses_a_memory_budget() -> None:
    settings = Settings(bitrix24=Bitrix24Settings(webhook_url=SecretStr(HOOK), rate=5, burst=250))
    gateway = build_bitrix24(settings, None)
    port: Bitrix24Port = gateway  # the gateway satisfies the port (checked by mypy)
    assert port is gateway
    assert gateway.base_url == HOOK and gateway.tokens is None
    assert isinstance(gateway.budget, MemoryBudget)
    assert (gateway.budget.rate, gateway.budget.burst) == (5, 250)


def test_application_with_store_shares_the_budget(store: Store) -> None:
    app = Bitrix24AppSettings(client_id="local.1", client_secret=SecretStr("s3cr3t"))
    settings = Settings(bitrix24=Bitrix24Settings(portal_url="https://corp.example.invalid", app=app))
    gateway = build_bitrix24(settings, store)
    assert gateway.base_url == "https://corp.example.invalid/rest/"
    assert gateway.tokens is not None and gateway.tokens.token_url == "https://oauth.bitrix.info/oauth/token/"
    assert isinstance(gateway.budget, DbBudget) and gateway.budget.portal == "corp.example.invalid"


def test_budget_key_never_holds_the_webhook_secret() -> None:
    assert portal_key(HOOK) == "corp.example.invalid"


def test_nothing_configured_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        build_bitrix24(Settings(), None)
