"""`extranet-bridge doctor`: is everything the bridge needs there and usable? One line per check.

✓ passed, ✗ failed (with the fix), – not checkable with this configuration (with why). Exit 1 on any ✗.
Checks ask the real systems with the configured credentials and change nothing in them. The change-feed
check calls GetChanges with the position the bridge already committed: 1C forgets what the bridge has
applied (which the next sync would tell it anyway) and the batch it hands out is handed out again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer

from cli.options import ConfigOption, JsonOption

if TYPE_CHECKING:
    from config.settings import Settings

MIRROR_SCOPES = ("user", "sonet_group")
SONET_ALIASES = {"sonet", "socialnetwork", "sonet_group"}


@dataclass
class Check:
    mark: str
    """✓ ✗ –"""
    name: str
    detail: str

    def line(self) -> str:
        return f"{self.mark} {self.name}: {self.detail}"


def ok(name: str, detail: str) -> Check:
    return Check("✓", name, detail)


def bad(name: str, detail: str) -> Check:
    return Check("✗", name, detail)


def skip(name: str, detail: str) -> Check:
    return Check("–", name, detail)


def _store(settings: Settings) -> list[Check]:
    from sqlalchemy import text

    from cli.common import probe_store
    from connectors.errors import BridgeError
    from store.db import current_revision, head_revision, make_engine

    url = settings.database.url
    where = url.split("///", 1)[-1] if url.startswith("sqlite") else url.split("@")[-1]
    try:
        engine = make_engine(url)
    except (OSError, BridgeError) as exc:
        return [bad("state store", f"cannot open {where} ({exc}); fix database.url")]
    try:
        revision = current_revision(engine)
    except BridgeError as exc:
        engine.dispose()
        return [bad("state store", f"{where} unreachable ({exc.operator_message}); fix database.url")]
    checks = [ok("state store", f"{where} reachable")]
    head = head_revision()
    if revision == head:
        checks.append(ok("store schema", f"at revision {head}"))
    elif settings.database.auto_upgrade:
        checks.append(
            ok("store schema", f"{revision or 'empty'} → {head} on the next command (auto_upgrade)")
        )
    else:
        checks.append(
            bad("store schema", f"at {revision or 'empty'}, needs {head}; run `extranet-bridge db upgrade`")
        )
    try:
        if url.startswith("sqlite"):
            probe_store(url)
        else:
            with engine.connect() as connection:
                allowed = connection.execute(
                    text("SELECT has_database_privilege(current_user, current_database(), 'CREATE')")
                ).scalar()
            if not allowed:
                raise BridgeError("the database user may not create tables; grant it CREATE on the database")
        checks.append(ok("store writable", "a write transaction can start"))
    except BridgeError as exc:
        checks.append(bad("store writable", exc.operator_message))
    finally:
        engine.dispose()
    return checks


async def _onec(settings: Settings, store_cursor: int | None) -> list[Check]:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from connectors.errors import BridgeError
    from connectors.onec import build_onec
    from connectors.onec.contract import CONTRACT_VERSION
    from connectors.onec.errors import OneCAuthError, OneCRequestRejected, WsdlDefectError

    where = settings.onec.endpoint or settings.onec.wsdl or "the WSDL's address"
    from connectors.onec.connector import RetryPolicy

    try:  # one attempt: a check answers now, it does not wait out an outage
        onec = build_onec(settings, retry=RetryPolicy(attempts=1))
    except BridgeError as exc:
        return [bad("1C WSDL", f"{exc.operator_message}; fix onec.wsdl")]
    checks: list[Check] = []
    try:
        info = await onec.info()
    except WsdlDefectError as exc:
        return [bad("1C WSDL", f"{exc.operator_message}; fix onec.wsdl")]
    except OneCAuthError as exc:
        return [
            ok("1C WSDL", "loaded"),
            bad("1C credentials", f"{exc.operator_message}; fix onec.username/password"),
        ]
    except BridgeError as exc:
        return [
            bad(
                "1C",
                f"{where}: {exc.operator_message}; check onec.endpoint and that 1C publishes the service",
            )
        ]
    else:
        checks += [
            ok("1C WSDL", "loaded"),
            ok("1C credentials", f"{settings.onec.username or '(none)'} accepted at {where}"),
        ]
        major = info.contract_version.split(".")[0]
        if major == CONTRACT_VERSION.split(".")[0]:
            checks.append(
                ok(
                    "1C contract",
                    f"version {info.contract_version} ({info.config_name} {info.config_version})",
                )
            )
        else:
            checks.append(
                bad(
                    "1C contract",
                    f"1C publishes {info.contract_version}, the bridge speaks {CONTRACT_VERSION}; "
                    "install the matching 1C extension",
                )
            )
        try:
            ZoneInfo(info.time_zone)
            checks.append(
                ok(
                    "1C time zone",
                    f"{info.time_zone} (HR dates are read in it; schedules use {settings.schedule.timezone})",
                )
            )
        except (ZoneInfoNotFoundError, ValueError):
            checks.append(
                bad(
                    "1C time zone",
                    f"1C reports {info.time_zone!r}, not an IANA zone; fix the 1C extension's setting",
                )
            )
        checks.append(await _feed(onec, store_cursor, OneCRequestRejected))
    finally:
        await onec.close()
    return checks


async def _feed(onec: Any, cursor: int | None, rejected: type[Exception]) -> Check:
    from cli.errors import RECOVER_FEED, _config_hint

    if cursor is None:
        return skip("1C change feed", "the state store could not be read")
    if cursor == 0:
        return ok(
            "1C change feed", "not started yet: the first `sync` makes a full mirror and takes its position"
        )
    try:
        await onec.changes(cursor, 1)
    except rejected as exc:
        if "ACK_OUT_OF_RANGE" in getattr(exc, "codes", ()):
            return bad(
                "1C change feed",
                f"1C does not know message {cursor} (restored or new 1C base); "
                f"run `{RECOVER_FEED.format(config=_config_hint())}`",
            )
        raise
    return ok("1C change feed", f"1C knows the bridge's position (message {cursor})")


async def _bitrix24(settings: Settings) -> list[Check]:
    from connectors.bitrix24 import build_bitrix24
    from connectors.errors import BridgeError
    from mappings import load_mapping

    webhook = settings.bitrix24.webhook_url
    if not (webhook and webhook.get_secret_value()) and not settings.bitrix24.app.client_id:
        return [
            bad(
                "Bitrix24",
                "neither bitrix24.webhook_url nor an application is configured; see docs/bitrix24-setup.md",
            )
        ]
    from connectors.bitrix24.gateway import RetryPolicy

    b24 = build_bitrix24(settings, None, retry=RetryPolicy(attempts=1, unmapped_attempts=1))
    checks: list[Check] = []
    try:
        me = await b24.call("user.current")
        checks.append(
            ok(
                "Bitrix24 credentials",
                f"the portal answers as user {me.get('ID')} "
                f"{me.get('NAME', '')} {me.get('LAST_NAME', '')}".rstrip(),
            )
        )
        scopes = set(await b24.call("scope"))
        needed = ["user", "sonet_group"]
        if load_mapping(settings.sync.mapping or None).intranet_roots:
            needed.append("department")
        missing = [
            s for s in needed if s not in scopes and not (s == "sonet_group" and scopes & SONET_ALIASES)
        ]
        if missing:
            checks.append(
                bad(
                    "Bitrix24 scopes",
                    f"the webhook lacks {', '.join(missing)}; "
                    "tick them on the webhook (docs/bitrix24-setup.md)",
                )
            )
        else:
            checks.append(ok("Bitrix24 scopes", ", ".join(needed)))
        checks.append(await _extranet(b24))
        checks.extend(await _app_and_plan(settings, b24))
    except BridgeError as exc:
        checks.append(
            bad(
                "Bitrix24 credentials",
                f"{exc.operator_message}; check bitrix24.webhook_url (docs/bitrix24-setup.md)",
            )
        )
    finally:
        await b24.close()
    return checks


async def _extranet(b24: Any) -> Check:
    groups = await b24.call("sonet_group.get", {"FILTER": {"IS_EXTRANET": "Y"}})
    rows = groups if isinstance(groups, list) else []
    if rows:
        return ok("extranet", f"in use ({len(rows)}+ extranet group(s))")
    return skip(
        "extranet",
        "no extranet group yet; REST cannot tell whether the module is installed — "
        "the first sync fails with no_extranet_field if it is not (docs/bitrix24-setup.md)",
    )


async def _app_and_plan(settings: Settings, b24: Any) -> list[Check]:
    rate = settings.bitrix24.rate
    if not settings.bitrix24.app.client_id:
        plan = skip(
            "rate plan", f"configured {rate:g} req/s; only the application can read the plan (app.info)"
        )
        return [skip("application", "not configured (only needed for events and processes)"), plan]
    try:
        info = await b24.call("app.info")
    except Exception as exc:  # an app-only method: a webhook cannot call it
        return [
            bad(
                "application",
                f"app.info failed ({getattr(exc, 'operator_message', exc)}); "
                "install the app (docs/bitrix24-setup.md)",
            )
        ]
    checks = [
        ok("application", f"{info.get('CODE')} installed")
        if info.get("INSTALLED")
        else bad("application", "not installed on the portal; install it (docs/bitrix24-setup.md)")
    ]
    enterprise = str(info.get("LICENSE_FAMILY", "")).startswith("ent")
    allowed = 5.0 if enterprise else 2.0
    if rate > allowed:
        checks.append(
            bad(
                "rate plan",
                f"{info.get('LICENSE')} allows {allowed:g} req/s but bitrix24.rate is {rate:g}; lower it",
            )
        )
    else:
        checks.append(
            ok("rate plan", f"{info.get('LICENSE')}: {allowed:g} req/s allowed, {rate:g} configured")
        )
    return checks


def _smtp(settings: Settings) -> Check:
    import smtplib

    smtp = settings.messaging.smtp
    if not smtp.host:
        return skip("SMTP", "not configured (invitations by e-mail unavailable)")
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=5) as server:
            server.ehlo()
            if smtp.starttls:
                server.starttls()
                server.ehlo()
            if smtp.username:
                server.login(smtp.username, smtp.password.get_secret_value())
    except smtplib.SMTPAuthenticationError:
        return bad("SMTP", f"{smtp.host}:{smtp.port} refused the login; fix messaging.smtp.username/password")
    except (OSError, smtplib.SMTPException) as exc:
        return bad(
            "SMTP", f"{smtp.host}:{smtp.port} does not answer ({type(exc).__name__}); fix messaging.smtp"
        )
    return ok(
        "SMTP", f"{smtp.host}:{smtp.port} answers" + (" and accepts the login" if smtp.username else "")
    )


def _sms(settings: Settings) -> Check:
    import httpx

    sms = settings.messaging.sms
    if sms.provider == "none":
        return skip("SMS", "not configured (invitations by SMS unavailable)")
    if sms.provider == "smsru":
        try:
            response = httpx.get(
                "https://sms.ru/my/balance",
                params={"api_id": sms.api_key.get_secret_value(), "json": 1},
                timeout=10,
            )
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            return bad("SMS", f"sms.ru unreachable ({type(exc).__name__})")
        if body.get("status") != "OK":
            return bad(
                "SMS",
                f"sms.ru refused the key (status_code {body.get('status_code')}); fix messaging.sms.api_key",
            )
        return ok("SMS", f"sms.ru accepts the key (balance {body.get('balance')})")
    try:
        response = httpx.get(sms.url, timeout=5)
    except httpx.HTTPError as exc:
        return bad("SMS", f"{sms.url} does not answer ({type(exc).__name__}); fix messaging.sms.url")
    return ok("SMS", f"gateway {sms.url} answers (HTTP {response.status_code})")


def _cursor(settings: Settings) -> int | None:
    from sqlalchemy.exc import SQLAlchemyError

    from store.db import make_engine, session_factory
    from sync.state import committed_message_no

    engine = make_engine(settings.database.url)
    try:
        with session_factory(engine)() as session:
            return committed_message_no(session)
    except SQLAlchemyError:
        return None
    finally:
        engine.dispose()


def doctor(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Check the configuration, the state store, 1C, Bitrix24, SMTP and SMS; one line each, exit 1 on ✗."""
    from config.check import check_config
    from config.logging import configure_logging

    configure_logging("ERROR")
    settings, problems = check_config(config)
    results: list[Check] = []
    if settings is None or problems:
        results += [bad("configuration", f"{p}") for p in problems]
        if settings is None:
            _report(results, as_json)
    else:
        from config.settings import chosen_config

        results.append(ok("configuration", f"{chosen_config() or 'defaults and environment'} is valid"))
    assert settings is not None
    results += _store(settings)
    store_ok = all(c.mark == "✓" for c in results if c.name.startswith("store"))
    cursor = _cursor(settings) if store_ok else None

    async def remote() -> list[Check]:
        return [*await _onec(settings, cursor), *await _bitrix24(settings)]

    results += _guarded(lambda: remote(), "1C and Bitrix24")
    results += [_smtp(settings), _sms(settings)]
    _report(results, as_json)


def _guarded(body: Callable[[], Awaitable[list[Check]]], what: str) -> list[Check]:
    import asyncio

    from connectors.errors import BridgeError

    try:
        return asyncio.run(body())  # type: ignore[arg-type]
    except BridgeError as exc:
        return [bad(what, exc.operator_message)]


def _report(results: list[Check], as_json: bool) -> None:
    import json

    failed = sum(1 for c in results if c.mark == "✗")
    if as_json:
        states = {"✓": "ok", "✗": "failed", "–": "not_checked"}
        rows = [{"check": c.name, "state": states[c.mark], "detail": c.detail} for c in results]
        typer.echo(json.dumps(rows, ensure_ascii=False))
    else:
        for check in results:
            typer.echo(check.line())
        typer.echo(f"{failed} problem(s) found" if failed else "all checks passed")
    raise typer.Exit(1 if failed else 0)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
