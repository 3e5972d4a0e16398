"""Transport basics: URL forms, encodings, the envelope, unknown methods (bitrix24-rest.md §1, §8.3)."""

from __future__ import annotations

import httpx

from sandbox.bitrix24.testing import T0, Rest, RunningSandbox


def test_time_block_has_documented_keys(rest: Rest) -> None:
    body = rest("user.current").json()
    assert body["result"]["ID"] == "1"
    time = body["time"]
    for key in ("start", "finish", "duration", "processing"):
        assert isinstance(time[key], float | int)
    assert time["start"] == T0
    assert time["date_start"] == "2026-01-01T00:00:00+00:00"
    assert isinstance(time["operating_reset_at"], int)
    assert "total" not in body and "next" not in body


def test_json_suffix_optional_and_method_case_insensitive(b24: RunningSandbox, http: httpx.Client) -> None:
    a = http.post(b24.webhook_url + "user.current", json={})
    b = http.get(b24.webhook_url + "User.Current.json")
    assert a.status_code == b.status_code == 200
    assert a.json()["result"]["ID"] == b.json()["result"]["ID"] == "1"


def test_unknown_method_is_404(rest: Rest) -> None:
    response = rest("user.nosuch")
    assert response.status_code == 404
    assert response.json()["error"] == "ERROR_METHOD_NOT_FOUND"


def test_form_post_with_php_brackets(b24: RunningSandbox, http: httpx.Client) -> None:
    data = {"EMAIL": "form@example.com", "UF_DEPARTMENT[]": "1", "NAME": "Form"}
    response = http.post(b24.webhook_url + "user.add.json", data=data)
    assert response.status_code == 200, response.text
    uid = response.json()["result"]
    got = http.get(
        b24.webhook_url + "user.get.json", params={"FILTER[>=ID]": uid, "FILTER[EMAIL]": "form@example.com"}
    )
    rows = got.json()["result"]
    assert [r["ID"] for r in rows] == [str(uid)]
    assert rows[0]["UF_DEPARTMENT"] == [1]


def test_result_xor_error(rest: Rest) -> None:
    ok = rest("server.time").json()
    assert "result" in ok and "error" not in ok
    bad = rest("user.add", {"EMAIL": "x"}).json()
    assert set(bad) == {"error", "error_description", "argument"}  # §1.2: no result, no time


def test_json_body_wins_over_query_and_other_bodies_are_ignored(
    b24: RunningSandbox, http: httpx.Client
) -> None:
    url = b24.webhook_url + "user.get.json?FILTER[ID]=999"
    assert http.post(url, json={"FILTER": {"ID": 1}}).json()["result"][0]["ID"] == "1"
    raw = http.post(url, content=b'{"FILTER": {"ID": 1}}', headers={"Content-Type": "text/plain"})
    assert raw.json()["result"] == []  # text/plain body not read: only the query's filter applies
