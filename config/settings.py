"""The one settings tree: YAML file + EXTRANET_BRIDGE_* environment, validated by pydantic.

Only this module reads ``os.environ``. Sources in priority order: explicit init values, environment
(``EXTRANET_BRIDGE_BITRIX24__WEBHOOK_URL`` — a double underscore walks into nested models), the
YAML file, defaults. Secrets are ``SecretStr`` so they never print.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

ENV_PREFIX = "EXTRANET_BRIDGE_"
CONFIG_ENV = ENV_PREFIX + "CONFIG"
DEFAULT_CONFIG_FILE = Path("extranet-bridge.yaml")


class Section(BaseModel):
    """A nested settings block: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class DatabaseSettings(Section):
    url: str = "sqlite:///var/extranet-bridge.db"
    """SQLAlchemy URL. SQLite (default, WAL mode) or postgresql+psycopg://user:pass@host/db."""
    auto_upgrade: bool = True
    """Apply pending migrations when a command opens the store; if false, such commands refuse."""


class Bitrix24AppSettings(Section):
    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    handler_url: str = ""
    """Public URL of this bridge's install/event handler (webhooks/), as registered in Bitrix24."""
    oauth_server: str = "https://oauth.bitrix.info"
    """Token refresh endpoint base (bitrix24-rest.md §1.1); the sandbox serves its own."""


class Bitrix24Settings(Section):
    portal_url: str = ""
    """Portal base, e.g. https://example.bitrix24.ru (used with the OAuth application)."""
    webhook_url: SecretStr | None = None
    """Incoming webhook, https://<portal>/rest/<user_id>/<code>/ — enough for the mirror."""
    app: Bitrix24AppSettings = Bitrix24AppSettings()
    rate: float = Field(2.0, gt=0)
    """Requests per second the portal allows (2; Enterprise 5) — bitrix24-rest.md §8.1."""
    burst: int = Field(50, gt=0)
    """Leaky-bucket size (50; Enterprise 250)."""
    timeout_seconds: float = Field(30.0, gt=0)

    @field_validator("webhook_url")
    @classmethod
    def _webhook_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value():
            url = value.get_secret_value()
            if not url.startswith(("http://", "https://")) or "/rest/" not in url:
                raise ValueError("must look like https://<portal>/rest/<user_id>/<code>/")
        return value


class OneCSettings(Section):
    wsdl: str = ""
    """Path or URL of the WSDL; empty means the contract shipped with the bridge."""
    endpoint: str = ""
    """Service address to call, overriding the (often internal) address the WSDL advertises."""
    username: str = ""
    password: SecretStr = SecretStr("")
    soap_version: Literal["1.1", "1.2"] = "1.1"
    connect_timeout_seconds: float = Field(10.0, gt=0)
    read_timeout_seconds: float = Field(120.0, gt=0)
    page_size: int = Field(1000, gt=0, le=1000)
    """Records per GetSnapshotPage call; the contract allows at most 1000 (docs/onec-contract.md)."""


class SmtpSettings(Section):
    host: str = ""
    port: int = Field(25, gt=0, lt=65536)
    username: str = ""
    password: SecretStr = SecretStr("")
    starttls: bool = False
    sender: str = "noreply@example.invalid"


class SmsSettings(Section):
    provider: Literal["none", "smsru", "http"] = "none"
    api_key: SecretStr = SecretStr("")
    url: str = ""
    """For provider 'http': the gateway URL; the message is POSTed as JSON {to, text, sender}."""
    sender: str = ""


class MessagingSettings(Section):
    smtp: SmtpSettings = SmtpSettings()
    sms: SmsSettings = SmsSettings()
    default_region: str = "RU"
    """Region used to read phone numbers written without a country code."""


class SyncSettings(Section):
    mapping: str = ""
    """Path of the mapping YAML; empty means the default mapping shipped in mappings/."""
    batch_size: int = Field(50, gt=0, le=50)
    """Commands per Bitrix24 batch (the API caps it at 50, bitrix24-rest.md §7)."""


class InvitationSettings(Section):
    resend_after_days: list[int] = Field(default_factory=lambda: [1, 3, 7])
    """Re-invite people who never logged in this many days after the previous invitation."""
    max_invitations: int = Field(4, gt=0)


class ScheduleSettings(Section):
    timezone: str = "Europe/Moscow"
    """Time zone of the cron schedules below (IANA name)."""
    incremental_sync_minutes: int = Field(5, gt=0)
    reconcile_cron: str = "30 2 * * *"
    invitations_cron: str = "0 10 * * *"
    due_changes_minutes: int = Field(15, gt=0)
    managers_minutes: int = Field(10, gt=0)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, gt=0, lt=65536)
    public_url: str = ""
    admin_token: SecretStr = SecretStr("")
    max_body_bytes: int = Field(1_048_576, gt=0)


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["auto", "json", "console"] = "auto"
    """auto: readable on a terminal, JSON lines otherwise."""
    library_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    """Level for fast_bitrix24, zeep, aiohttp, httpx (they log payloads below WARNING)."""


class Settings(BaseSettings):
    """Everything the bridge can be told. `config/example.yaml` documents each key."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
    )

    database: DatabaseSettings = DatabaseSettings()
    bitrix24: Bitrix24Settings = Bitrix24Settings()
    onec: OneCSettings = OneCSettings()
    messaging: MessagingSettings = MessagingSettings()
    sync: SyncSettings = SyncSettings()
    invitations: InvitationSettings = InvitationSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    server: ServerSettings = ServerSettings()
    logging: LoggingSettings = LoggingSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_path = settings_cls.model_config.get("yaml_file")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if yaml_path:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=yaml_path))
        return tuple(sources)


def config_path(explicit: str | Path | None = None) -> Path | None:
    """The YAML file: the explicit one, $EXTRANET_BRIDGE_CONFIG, or ./extranet-bridge.yaml if present."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        return Path(from_env)
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.exists() else None


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Build the settings tree; raises pydantic.ValidationError or FileNotFoundError (see config.check)."""
    yaml_file = config_path(path)
    if yaml_file is not None and not yaml_file.is_file():
        raise FileNotFoundError(str(yaml_file))

    class _FromFile(Settings):
        model_config = (
            SettingsConfigDict(yaml_file=str(yaml_file), yaml_file_encoding="utf-8")
            if yaml_file
            else SettingsConfigDict()
        )

    return _FromFile(**overrides)
