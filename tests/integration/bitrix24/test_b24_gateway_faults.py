"""The gateway survives what Bitrix24 throws at it — 503, HTML 502, resets, 429 blocks, expired tokens —
against the sandbox's fault and clock knobs, and never writes a secret or a person's data to the logs."""

from __future__ import annotations

import dataclasses
import io
import logging
from collections.abc import Callable, Iterator

import pytest
from pydantic import SecretStr

from config.logging import LIBRARY_LOGGERS, configure_logging
from config.settings import Bitrix24AppSettings, Bitrix24Settings, Settings
from config.wiring import Store
from connectors.bitrix24 import build_bitrix24, portal_key
from connectors.bitrix24.auth import StoreVault, TokenPair
from connectors.bitrix24.errors import Action, Bitrix24TransientError
from connectors.bitrix24.gateway import Bitrix24Gateway
from connectors.bitrix24.port import Call
from sandbox.bitrix24.testing import RunningSandbox
from store.models import AppToken
from tests.integration.bitrix24.conftest import FAST_RETRY, Clock, requests_for

MakeGateway = Callable[..., Bitrix24Gateway]


def faults_of(sb: RunningSandbox, kind: str) -> int:
    return sum(1 for entry in sb.knobs.log() if entry.get("fault") == kind)


async def test_503_is_retried_with_backoff(sb: RunningSandbox, make_gateway: MakeGateway) -> None:
    sb.knobs.faults(error_503=0.5, seed=11)
    async with make_gateway(sb.webhook_url) as gateway:
        results = [await gateway.call("user.get", {"ID": 1}) for _ in range(12)]
    assert all(str(rows[0]["ID"]) == "1" for rows in results)
    assert faults_of(sb, "error_503") > 0
    assert gateway.counters.rate_limited == faults_of(sb, "error_503")


async def test_html_502_and_500_are_retried(sb: RunningSandbox, make_gateway: MakeGateway) -> None:
    sb.knobs.faults(html=0.3, error_500=0.2, seed=5)
    async with make_gateway(sb.webhook_url) as gateway:
        results = [await gateway.call("user.current") for _ in range(12)]
    assert all(str(me["ID"]) == "1" for me in results)
    assert faults_of(sb, "html") > 0 and faults_of(sb, "error_500") > 0
    assert gateway.counters.retries == faults_of(sb, "html") + faults_of(sb, "error_500")


async def test_connection_resets_are_retried(sb: RunningSandbox, make_gateway: MakeGateway) -> None:
    sb.knobs.faults(reset=0.4, seed=3)
    async with make_gateway(sb.webhook_url) as gateway:
        results = [await gateway.call("user.current") for _ in range(8)]
    assert all(str(me["ID"]) == "1" for me in results)
    assert faults_of(sb, "reset") > 0


async def test_batch_survives_transport_faults(sb: RunningSandbox, make_gateway: MakeGateway) -> None:
    sb.knobs.faults(error_503=0.3, html=0.2, seed=2)
    calls = [Call("user.get", {"ID": 1}, label=f"u{i}") for i in range(120)]
    async with make_gateway(sb.webhook_url) as gateway:
        outcomes = await gateway.batch(calls)
    assert [o.label for o in outcomes] == [c.label for c in calls]
    assert all(o.ok for o in outcomes)


async def test_429_parks_the_method_then_resumes(
    sb: RunningSandbox, make_gateway: MakeGateway, clock: Clock
) -> None:
    sb.knobs.limits(op_budget=5, op_costs={"user.update": 3})
    async with make_gateway(sb.webhook_url) as gateway:
        for _ in range(2):  # 6 s of operating time: over the 5 s budget
            await gateway.call("user.update", {"ID": 1, "WORK_POSITION": "Boss"})
        with pytest.raises(Bitrix24TransientError) as blocked:
            await gateway.call("user.update", {"ID": 1, "WORK_POSITION": "Boss"})
        assert blocked.value.action is Action.METHOD_BLOCKED
        assert blocked.value.retry_at is not None and blocked.value.retry_at > clock()
        sent = len(requests_for(sb, "user.update"))

        # Other methods go on; the blocked one fails fast without reaching Bitrix24, in a batch too.
        assert str((await gateway.call("user.current"))["ID"]) == "1"
        with pytest.raises(Bitrix24TransientError):
            await gateway.call("user.update", {"ID": 1, "WORK_POSITION": "Boss"})
        mixed = await gateway.batch([Call("user.update", {"ID": 1}), Call("user.get", {"ID": 1})])
        assert mixed[0].error is not None and mixed[1].ok
        assert len(requests_for(sb, "user.update")) == sent

        # Ten minutes later (on both clocks) the method works again.
        sb.knobs.advance(601)
        clock.offset += 601
        assert await gateway.call("user.update", {"ID": 1, "WORK_POSITION": "Boss"}) is True
    assert gateway.counters.blocked_refusals == 2


async def test_429_can_be_waited_out_in_process(
    sb: RunningSandbox, make_gateway: MakeGateway, clock: Clock
) -> None:
    """With ``park_wait_seconds`` covering the block, the call itself waits (here: moves both clocks)."""

    async def sleep(seconds: float) -> None:
        clock.offset += seconds
        sb.knobs.advance(seconds)

    sb.knobs.limits(op_budget=5, op_costs={"user.update": 3})
    patient = dataclasses.replace(FAST_RETRY, park_wait_seconds=700)
    async with make_gateway(sb.webhook_url, retry=patient, sleep=sleep) as gateway:
        results = [await gateway.call("user.update", {"ID": 1, "WORK_POSITION": "Boss"}) for _ in range(3)]
    assert results == [True, True, True]
    statuses = [e.get("status") for e in requests_for(sb, "user.update")]
    assert statuses == [200, 200, 429, 200]
    assert clock.offset >= 60


async def test_expired_token_is_refreshed_and_persisted(sb: RunningSandbox, store: Store) -> None:
    installed = sb.knobs.install()["auth"]
    app = sb.knobs.app()
    vault = StoreVault(store.sessions, portal_key(sb.base_url))
    vault.save(
        TokenPair(
            access_token=installed["access_token"],
            refresh_token=installed["refresh_token"],
            member_id=installed["member_id"],
            domain=installed["domain"],
        )
    )
    app_settings = Bitrix24AppSettings(
        client_id=app["client_id"], client_secret=SecretStr(app["client_secret"]), oauth_server=sb.base_url
    )
    settings = Settings(
        bitrix24=Bitrix24Settings(portal_url=sb.base_url, rate=100, burst=100, app=app_settings)
    )
    async with build_bitrix24(settings, store, retry=FAST_RETRY) as gateway:
        assert str((await gateway.call("user.current"))["ID"]) == "1"
        sb.knobs.advance(3700)  # past the access token's hour
        assert str((await gateway.call("user.current"))["ID"]) == "1"
    assert gateway.counters.token_refreshes == 1
    with store.sessions() as session:
        row = session.get(AppToken, installed["member_id"])
        assert row is not None
        assert row.access_token != installed["access_token"]
        assert row.refresh_token != installed["refresh_token"]
        # the refresh answer's domain is the OAuth server's (auto-renewal.md); the portal stays the same
        assert row.domain == installed["domain"]
        saved = row.access_token
    async with build_bitrix24(settings, store, retry=FAST_RETRY) as again:  # a restart reads the new pair
        assert str((await again.call("user.current"))["ID"]) == "1"
    assert again.counters.token_refreshes == 0
    assert vault.load() is not None and vault.load().access_token == saved  # type: ignore[union-attr]
    expired = [e for e in sb.knobs.log() if e.get("error") == "expired_token"]
    assert len(expired) == 1


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Everything logged, through the bridge's own redacting pipeline at DEBUG."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, {n: logging.getLogger(n).level for n in LIBRARY_LOGGERS})
    buffer = io.StringIO()
    configure_logging("DEBUG", "json", "WARNING", stream=buffer)
    yield buffer
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


async def test_secrets_and_people_never_reach_the_logs(
    sb: RunningSandbox, make_gateway: MakeGateway, captured_logs: io.StringIO
) -> None:
    code = sb.webhook_url.rstrip("/").rsplit("/", 1)[-1]
    sb.knobs.faults(html=0.2, reset=0.2, error_503=0.2, seed=9)
    async with make_gateway(sb.webhook_url) as gateway:
        await gateway.batch(
            [
                Call("user.add", {"EMAIL": f"secret.person{i}@example.test", "UF_DEPARTMENT": [1]})
                for i in range(5)
            ]
        )
        for _ in range(6):
            await gateway.call("user.get", {"FILTER": {"EMAIL": "secret.person1@example.test"}})
        with pytest.raises(Exception) as caught:
            await gateway.call("user.add", {"EMAIL": "secret.person1@example.test", "UF_DEPARTMENT": [1]})
    sb.knobs.faults(html=0)
    wrong = make_gateway(sb.base_url + "/rest/1/leakedcode77/")
    with pytest.raises(Exception) as refused:
        async with wrong:
            await wrong.call("user.current")
    text = captured_logs.getvalue()
    assert "bitrix24" in text  # retries and failures were logged
    for secret in (code, "leakedcode77", "secret.person"):
        assert secret not in text
        assert secret not in str(caught.value) and secret not in str(refused.value)


async def test_two_instances_share_refreshed_tokens(sb: RunningSandbox, store: Store) -> None:
    """Instance A refreshes; instance B, holding the old token, picks the new pair from the store
    instead of spending the refresh token A already rotated (which would end in invalid_grant)."""
    installed = sb.knobs.install()["auth"]
    app = sb.knobs.app()
    StoreVault(store.sessions).save(
        TokenPair(
            installed["access_token"], installed["refresh_token"], installed["member_id"], installed["domain"]
        )
    )
    app_settings = Bitrix24AppSettings(
        client_id=app["client_id"], client_secret=SecretStr(app["client_secret"]), oauth_server=sb.base_url
    )
    settings = Settings(
        bitrix24=Bitrix24Settings(portal_url=sb.base_url, rate=100, burst=100, app=app_settings)
    )
    first, second = (build_bitrix24(settings, store, retry=FAST_RETRY) for _ in range(2))
    async with first, second:
        await first.call("user.current")
        await second.call("user.current")
        sb.knobs.advance(3700)
        await first.call("user.current")
        assert str((await second.call("user.current"))["ID"]) == "1"
    assert first.counters.token_refreshes == 1
    assert second.counters.token_refreshes == 1  # it was refused once and took the new token...
    assert first.tokens is not None and second.tokens is not None
    assert (first.tokens.refreshes, second.tokens.refreshes) == (1, 0)  # ...from the store, not the server
    assert [e for e in sb.knobs.log() if e.get("error") == "invalid_grant"] == []


async def test_expired_webhook_is_a_config_error(sb: RunningSandbox, make_gateway: MakeGateway) -> None:
    created = sb.knobs.http.post(
        "/_sandbox/webhooks", json={"user_id": 1, "scopes": ["user"], "expires_at": 1.0}
    ).json()
    async with make_gateway(created["url"]) as gateway:
        with pytest.raises(Exception) as caught:
            await gateway.call("user.current")
    assert getattr(caught.value, "action", None) is Action.FAIL_CONFIG
    assert len(requests_for(sb, "user.current")) == 1
