"""batch conformance (bitrix24-rest.md §7; settings/how-to-call-rest-api/batch.md, data-encoding.md)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from sandbox.bitrix24.testing import Rest, RunningSandbox


def test_references_totals_and_empty_sections(rest: Rest) -> None:
    rest.ok("department.add", {"NAME": "Sub", "PARENT": 1})
    body = rest(
        "batch",
        {
            "halt": 0,
            "cmd": {
                "get_user": "user.current",
                "get_department": "department.get?ID=$result[get_user][UF_DEPARTMENT][0]",
                "extranet": "user.get?FILTER[USER_TYPE]=extranet&start=0",
            },
        },
    ).json()
    result = body["result"]
    assert result["result"]["get_user"]["ID"] == "1"
    assert [d["ID"] for d in result["result"]["get_department"]] == ["1"]
    assert result["result"]["extranet"] == []
    assert result["result_total"] == {"get_department": 1}
    assert result["result_error"] == [] and result["result_next"] == []  # §7: empty sections are []
    assert set(result["result_time"]) == {"get_user", "get_department", "extranet"}


def test_list_row_reference_and_next(rest: Rest) -> None:
    for i in range(55):
        rest.ok("user.add", {"EMAIL": f"b{i}@example.com", "UF_DEPARTMENT": [1]})
    result = rest(
        "batch",
        {"cmd": {"users": "user.get?start=0", "first": "user.get?ID=$result[users][1][ID]"}},
    ).json()["result"]
    assert result["result_next"] == {"users": 50} and result["result_total"]["users"] == 56
    assert [r["ID"] for r in result["result"]["first"]] == ["2"]


def test_errors_per_command_and_halt(rest: Rest) -> None:
    cmd = {"bad": "user.add?EMAIL=nope&UF_DEPARTMENT[]=1", "good": "user.current"}
    result = rest("batch", {"cmd": cmd}).json()["result"]
    assert result["result_error"]["bad"]["error"] == "ERROR_ARGUMENT"
    assert "good" in result["result"]
    halted = rest("batch", {"halt": 1, "cmd": cmd})
    assert halted.status_code == 200  # §7: the outer call is 200 even when commands fail
    assert "good" not in halted.json()["result"]["result"]


@pytest.mark.any_portal
def test_too_many_commands(rest: Rest) -> None:
    response = rest("batch", {"cmd": {f"c{i}": "server.time" for i in range(51)}})
    assert response.status_code == 400
    assert response.json()["error"] == "ERROR_BATCH_LENGTH_EXCEEDED"
    assert rest("batch", {"cmd": {f"c{i}": "server.time" for i in range(50)}}).status_code == 200


@pytest.mark.any_portal
def test_methods_not_allowed_inside_batch(rest: Rest) -> None:
    result = rest(
        "batch", {"cmd": {"n": "batch?cmd[x]=server.time", "u": "disk.folder.uploadfile?id=1"}}
    ).json()
    errors = result["result"]["result_error"]
    assert errors["n"]["error"] == errors["u"]["error"] == "ERROR_BATCH_METHOD_NOT_ALLOWED"


def test_cmd_as_form_parameter_is_double_encoded(b24: RunningSandbox, http: httpx.Client) -> None:
    inner = urlencode({"FILTER[EMAIL]": "a+b@example.com"})
    form = {"cmd[find]": f"user.get?{inner}", "cmd[me]": "user.current"}
    response = http.post(b24.webhook_url + "batch.json", data=form)
    result: dict[str, Any] = response.json()["result"]
    assert result["result"]["find"] == [] and result["result"]["me"]["ID"] == "1"


def test_cmd_as_array(rest: Rest) -> None:
    result = rest("batch", {"cmd": ["server.time", "user.current"]}).json()["result"]
    # PHP json_encode: keys 0..n-1 → a JSON array (fast-bitrix24 crm_get_batch_of_two_error.py)
    assert isinstance(result["result"], list) and result["result"][1]["ID"] == "1"
    assert isinstance(result["result_time"], list) and len(result["result_time"]) == 2


def test_batch_of_50_user_adds(rest: Rest) -> None:
    cmd = {f"u{i}": f"user.add?EMAIL=p{i}%40example.com&UF_DEPARTMENT[]=1&XML_ID=P{i}" for i in range(50)}
    result = rest("batch", {"cmd": cmd}).json()["result"]
    assert result["result_error"] == [] and len(result["result"]) == 50
    assert rest.ok("user.get", {"FILTER": {"XML_ID": "P49"}})[0]["EMAIL"] == "p49@example.com"


def test_reference_inside_text_and_to_other_sections(rest: Rest) -> None:
    # Inside a longer value a string or number is spliced in; next/total are sections of their own.
    for i in range(55):
        rest.ok("user.add", {"EMAIL": f"t{i}@example.com", "UF_DEPARTMENT": [1]})
    result = rest(
        "batch",
        {
            "cmd": {
                "users": "user.get?start=0",
                "by_next": "user.get?FILTER[ID]=$next[users]",
                "by_total": "user.get?FILTER[ID]=$total[users]",
                "spliced": "user.get?FILTER[EMAIL]=t$result[users][0][ID]@example.com",
            }
        },
    ).json()["result"]
    assert [r["ID"] for r in result["result"]["by_next"]] == ["50"]
    assert [r["ID"] for r in result["result"]["by_total"]] == ["56"]
    assert result["result"]["spliced"] == []  # "t1@example.com" names nobody: user 1 is the admin
