"""Build the Bitrix24 gateway from the settings: the way in (incoming webhook, or the OAuth local
application with tokens kept in the state store) and the budget (shared through the store when there is
one). config/wiring.py calls ``build_bitrix24``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlparse

from connectors.bitrix24.auth import MemoryVault, OAuthTokens, StoreVault
from connectors.bitrix24.budget import Budget, DbBudget, MemoryBudget
from connectors.bitrix24.gateway import Bitrix24Gateway, RetryPolicy
from core.errors import ConfigError

if TYPE_CHECKING:
    from config.settings import Settings
    from config.wiring import Store


def portal_key(url: str) -> str:
    """The portal's host: the budget's key (never the webhook path, which holds the secret)."""
    return urlparse(url).netloc.lower()


def build_bitrix24(
    settings: Settings, store: Store | None, *, retry: RetryPolicy | None = None
) -> Bitrix24Gateway:
    """The gateway for the configured portal: webhook if set, otherwise the OAuth application."""
    b24 = settings.bitrix24
    webhook = b24.webhook_url.get_secret_value() if b24.webhook_url else ""
    tokens: OAuthTokens | None = None
    if webhook:
        base_url = webhook
    elif b24.portal_url and b24.app.client_id:
        base_url = b24.portal_url.rstrip("/") + "/rest/"
        domain = portal_key(b24.portal_url)
        vault = StoreVault(store.sessions, domain) if store is not None else MemoryVault()
        tokens = OAuthTokens(
            vault,
            oauth_server=b24.app.oauth_server,
            client_id=b24.app.client_id,
            client_secret=b24.app.client_secret.get_secret_value(),
        )
    else:
        raise ConfigError("bitrix24: set webhook_url, or portal_url with app.client_id and app.client_secret")
    portal = portal_key(base_url)
    budget: Budget = (
        DbBudget(store.engine, portal, b24.rate, b24.burst)
        if store is not None
        else MemoryBudget(b24.rate, b24.burst)
    )
    return Bitrix24Gateway(
        base_url,
        budget=budget,
        tokens=tokens,
        retry=retry,
        timeout_seconds=b24.timeout_seconds,
        max_file_bytes=int(b24.max_file_mb * 1024 * 1024),
    )
