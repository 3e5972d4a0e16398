"""The one settings tree: YAML file + EXTRANET_BRIDGE_* environment, validated by pydantic.

Only this module reads ``os.environ``. Sources in priority order: explicit init values, environment
(``EXTRANET_BRIDGE_BITRIX24__WEBHOOK_URL`` — a double underscore walks into nested models), the
YAML file, defaults. Secrets are ``SecretStr`` so they never print.
"""

from __future__ import annotations

import os
from decimal import Decimal
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
STORE_FILE = "extranet-bridge.db"


def user_data_dir() -> Path:
    """Where the state store lives when no configuration file says otherwise (XDG base directories)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "extranet-bridge"


class Section(BaseModel):
    """A nested settings block: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class DatabaseSettings(Section):
    url: str = Field(default_factory=lambda: f"sqlite:///{user_data_dir() / STORE_FILE}")
    """SQLAlchemy URL. SQLite (WAL mode) or postgresql+psycopg://user:pass@host/db. Default: a SQLite file
    beside the configuration file, or in the user's data directory without one. A relative SQLite path
    counts from the configuration file's folder."""

    @field_validator("url")
    @classmethod
    def _parsable(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(
                "not a database URL; expected sqlite:///path/to/file.db or postgresql+psycopg://user:pass@host/db"
            ) from None
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database {url.get_backend_name()!r}; use sqlite or postgresql")
        return value

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
    max_file_mb: float = Field(20.0, gt=0)
    """Largest file the bridge downloads from the portal (a request's attachment); larger ones are refused."""

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

    @field_validator("sender")
    @classmethod
    def _address(cls, value: str) -> str:
        from email.utils import parseaddr

        from email_validator import EmailNotValidError, validate_email

        try:
            validate_email(parseaddr(value)[1] or value, check_deliverability=False)
        except EmailNotValidError as exc:
            if "special-use or reserved" not in str(exc):  # example.invalid is a fine sender for a test
                raise ValueError(f"not an e-mail address ({exc})") from None
        return value


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
    """Region used to read phone numbers written without a country code (ISO 3166 code, e.g. RU, KZ)."""

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str) -> str:
        import phonenumbers

        if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region code {value!r}; use a two-letter country code such as RU or KZ")
        return value.upper()


class SyncSettings(Section):
    mapping: str = ""
    """Path of the mapping YAML; empty means the default mapping shipped in mappings/."""
    batch_size: int = Field(50, gt=0, le=50)
    """Commands per Bitrix24 batch (the API caps it at 50, bitrix24-rest.md §7)."""


class InvitationSettings(Section):
    resend_after_days: list[int] = Field(default_factory=lambda: [1, 3, 7])
    """Re-invite people who never logged in this many days after the previous invitation."""
    max_invitations: int = Field(4, gt=0)


def known_zone(value: str) -> str:
    """An IANA time zone name the system knows (``Europe/Moscow``), else a ValueError naming it."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


class ScheduleSettings(Section):
    timezone: str = "Europe/Moscow"
    """Time zone of the cron schedules below (IANA name)."""
    incremental_sync_minutes: int = Field(5, gt=0)
    reconcile_cron: str = "30 2 * * *"
    invitations_cron: str = "0 10 * * *"
    due_changes_minutes: int = Field(15, gt=0)
    managers_minutes: int = Field(10, gt=0)
    regulations_minutes: int = Field(30, gt=0)
    """Confirmations of local acts are collected this often (docs/regulations.md)."""
    regulations_remind_days: int = Field(3, gt=0)
    inbox_retention_days: int = Field(30, ge=1)
    """Handled inbox messages (events, call-outs) are deleted this many days later; pending ones never."""
    retention_cron: str = "15 3 * * *"
    """An employee who has not confirmed a local act is reminded once per this many days."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)

    @field_validator("reconcile_cron", "invitations_cron", "retention_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        """Parsed by APScheduler itself, as `serve` will (minute hour day month day-of-week)."""
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(f"not a cron expression 'minute hour day month day-of-week' ({exc})") from None
        return value


class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, gt=0, lt=65536)
    public_url: str = ""
    admin_token: SecretStr = SecretStr("")
    max_body_bytes: int = Field(1_048_576, gt=0)


class PortalRate(Section):
    time_kind: str = "*"
    """A 1C time-kind letter code (Я, Н, С, РВ…) or ``*`` for every worked kind."""
    position: str = ""
    """Only for employees in this position (empty: every position)."""
    rate: Decimal = Field(gt=0, decimal_places=2)
    """Hourly rate billed to the client."""


class PortalSite(Section):
    site: str
    """The 1C department ref of the client site."""
    client: str
    """The client's name as the invoice shows it."""
    period: Literal["week", "half_month", "month"] = "month"
    deadline_days: int = Field(3, ge=0)
    remind_before_days: int = Field(1, ge=0)
    alternate_approvers: list[int] = Field(default_factory=list)
    """Bitrix24 user ids who take over a timesheet approval after the deadline."""
    rates: list[PortalRate] = Field(default_factory=list)
    timezone: str | None = None
    """The site's IANA time zone ("who is working today"); empty: ``schedule.timezone``."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return known_zone(value) if value is not None else None


class PortalSettings(Section):
    """The client managers' portal (portal/): served when ``session_secret`` is set."""

    session_secret: SecretStr = SecretStr("")
    """Signs the portal's session cookies: at least 32 random characters."""
    cookie_secure: bool = True
    frame_ancestors: str = ""
    """Who may frame the pages; empty: the Bitrix24 portal's origin."""
    provider_managers: list[int] = Field(default_factory=list)
    """Bitrix24 user ids of the provider's managers (second approval, registrations, conflicts)."""
    sites: list[PortalSite] = Field(default_factory=list)
    prefill_cron: str = "0 6 * * *"
    """When the timesheets of the current periods are pre-filled (1C schedule + Bitrix24 time tracking)."""
    deadlines_minutes: int = Field(60, gt=0)
    submit_seconds: int = Field(30, gt=0)
    """How often approved timesheets waiting in the outbox are sent to 1C."""
    registrations_per_hour: int = Field(5, gt=0)
    """Self-registration attempts allowed per IP address and per e-mail address in an hour."""
    digest_cron: str = "0 8 * * *"
    """When each user's digest of yesterday's notifications is sent (one message per chosen channel)."""

    @field_validator("session_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value() and len(value.get_secret_value()) < 32:
            raise ValueError(
                "at least 32 characters (python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return value

    @field_validator("prefill_cron", "digest_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        return ScheduleSettings._cron(value)


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
    portal: PortalSettings = PortalSettings()
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


_chosen: dict[str, Path | None] = {"global": None, "used": None}


def choose_config(path: str | Path | None) -> None:
    """The file given before the command (``extranet-bridge -c FILE plan``) for every later load."""
    _chosen["global"] = Path(path) if path else None


def chosen_config() -> Path | None:
    """The configuration file the last load used (for messages that repeat a command)."""
    return _chosen["used"] or _chosen["global"]


def env_variable(path: str) -> str | None:
    """The environment variable that set ``path`` (``bitrix24.rate``), if one is set."""
    name = ENV_PREFIX + path.upper().replace(".", "__")
    return name if name in os.environ else None


def config_path(explicit: str | Path | None = None) -> Path | None:
    """The YAML file: the explicit one, the one given before the command, $EXTRANET_BRIDGE_CONFIG, or
    ./extranet-bridge.yaml if present."""
    if explicit:
        return Path(explicit)
    if _chosen["global"] is not None:
        return _chosen["global"]
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

    _chosen["used"] = yaml_file
    settings = _FromFile(**overrides)
    if yaml_file is not None and "url" not in settings.database.model_fields_set:
        settings.database.url = f"sqlite:///{(yaml_file.parent / STORE_FILE).resolve()}"
    elif yaml_file is not None:
        settings.database.url = _beside(settings.database.url, yaml_file.parent)
    return settings


def _beside(url: str, folder: Path) -> str:
    """A relative SQLite path counts from the configuration file's folder, not from where one stands."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return url
    if Path(parsed.database).is_absolute():
        return url
    return parsed.set(database=str((folder / parsed.database).resolve())).render_as_string(
        hide_password=False
    )
