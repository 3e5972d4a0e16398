"""Limits: the leaky bucket (503 QUERY_LIMIT_EXCEEDED) and the per-method operating time (429
OPERATION_TIME_LIMIT), both on the portal clock (bitrix24-rest.md §8.1, §8.2, §7)."""

from __future__ import annotations

import httpx

from sandbox.bitrix24.testing import Knobs, Rest, RunningSandbox, run_sandbox


def test_bucket_refuses_above_burst_and_drains_with_time(rest: Rest, knobs: Knobs) -> None:
    knobs.limits(rate=2, burst=5, drain=True)
    statuses = [rest("server.time").status_code for _ in range(6)]
    assert statuses == [200] * 5 + [503]
    refused = rest("server.time")
    assert refused.json() == {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
    knobs.advance(0.5)  # drains 1 request at 2/s
    assert rest("server.time").status_code == 200
    assert rest("server.time").status_code == 503
    knobs.advance(10)
    assert [rest("server.time").status_code for _ in range(5)] == [200] * 5


def test_batch_counts_once_against_the_bucket(rest: Rest, knobs: Knobs) -> None:
    knobs.limits(rate=1, burst=2, drain=True)
    cmd = {f"c{i}": "server.time" for i in range(50)}
    assert rest("batch", {"cmd": cmd}).status_code == 200
    assert rest("batch", {"cmd": cmd}).status_code == 200
    assert rest("batch", {"cmd": cmd}).status_code == 503


def test_operating_limit_blocks_one_method_until_window_passes(rest: Rest, knobs: Knobs) -> None:
    knobs.limits(op_budget=250, op_costs={"user.get": 100})
    first = rest("user.get").json()["time"]
    assert first["operating"] == 100
    reset_at = first["operating_reset_at"]
    assert reset_at == int(knobs.clock()["now"]) + 600
    for _ in range(2):
        assert rest("user.get").status_code == 200  # 200, then 300 s: over the limit after this call
    blocked = rest("user.get")
    assert blocked.status_code == 429
    assert blocked.json() == {
        "error": "OPERATION_TIME_LIMIT",
        "error_description": "Method is blocked due to operation time limit.",
    }
    assert rest("user.current").status_code == 200  # other methods keep working
    knobs.advance(reset_at - knobs.clock()["now"])
    assert rest("user.get").status_code == 200


def test_operating_limit_is_per_webhook(
    b24: RunningSandbox, rest: Rest, knobs: Knobs, http: httpx.Client
) -> None:
    knobs.limits(op_budget=50, op_costs={"user.get": 100})
    rest("user.get")
    assert rest("user.get").status_code == 429
    other = knobs.webhook(user_id=1, scopes=["user"])  # the same user, another webhook
    assert http.post(other + "user.get.json", json={}).status_code == 200
    token = knobs.install()["auth"]["access_token"]  # and the app keeps its own account
    assert http.post(f"{b24.base_url}/rest/user.get.json", json={"auth": token}).status_code == 200


def test_each_batch_command_spends_operating_time(rest: Rest, knobs: Knobs) -> None:
    knobs.limits(op_budget=150, op_costs={"user.get": 100})
    body = rest(
        "batch", {"cmd": {"a": "user.get", "b": "user.get", "c": "user.get", "d": "user.current"}}
    ).json()
    result = body["result"]
    assert set(result["result"]) == {"a", "b", "d"}
    assert result["result_error"]["c"]["error"] == "OPERATION_TIME_LIMIT"
    # §7: the outer call spends no operating time; its time block still has the key (fast-bitrix24
    # tests/real_responses/batch_list_empty.py)
    assert body["time"]["operating"] == 0
    assert result["result_time"]["b"]["operating"] == 200


def test_enterprise_plan_limits() -> None:
    with run_sandbox(plan="enterprise", frozen_clock=1_767_225_600.0) as sb, httpx.Client() as http:
        limits = sb.knobs.limits()
        assert (limits["rate"], limits["burst"]) == (5.0, 250)
        statuses = [http.post(sb.webhook_url + "server.time.json").status_code for _ in range(251)]
        assert statuses.count(503) == 1 and statuses[-1] == 503
