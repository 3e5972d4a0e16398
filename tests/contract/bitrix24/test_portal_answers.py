"""What a real portal answers where the sandbox once answered differently (fidelity round 2, issue 10).

Each test names its source. Tests marked ``any_portal`` also run against a real portal
(docs/contract-suite.md): they create their own users and groups with a run-unique tag and dismiss or
delete them afterwards; the others need a sandbox knob.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.bitrix24.testing import Knobs, Rest, RunningSandbox, capture_server

from .conftest import Portal

NO_SUCH_GROUP = 999_999_999


class Cleanup:
    """What a test made on the portal, undone at the end (users are dismissed: REST cannot delete them)."""

    def __init__(self, rest: Rest) -> None:
        self.rest = rest
        self.users: list[int] = []
        self.groups: list[int] = []

    def undo(self) -> None:
        for uid in self.users:
            self.rest("user.update", {"ID": uid, "ACTIVE": "N"})
        for gid in self.groups:
            self.rest("sonet_group.delete", {"GROUP_ID": gid})


@pytest.fixture
def made(rest: Rest) -> Iterator[Cleanup]:
    cleanup = Cleanup(rest)
    yield cleanup
    cleanup.undo()


def _group(rest: Rest, made: Cleanup, name: str) -> int:
    gid = int(rest.ok("sonet_group.create", {"NAME": name, "VISIBLE": "N", "OPENED": "N"}))
    made.groups.append(gid)
    return gid


# -- 1. batch sections are PHP arrays -----------------------------------------------------------------
@pytest.mark.any_portal
def test_batch_sections_keyed_0_to_n_are_arrays(rest: Rest) -> None:
    """fast-bitrix24 tests/real_responses/crm_get_batch_of_two_error.py (result_error an array of two) and
    crm_get_batch_mix_success_and_errors.py (an object and an array side by side); b24pysdk
    api/responses/bitrix_api_batch_response.py accepts both shapes."""
    bad = "sonet_group.user.get?ID=0"  # §11.6: sonet errors, "Wrong socialnetwork group ID"
    both = rest("batch", {"cmd": [bad, bad]}).json()["result"]
    assert isinstance(both["result_error"], list) and len(both["result_error"]) == 2
    assert both["result"] == [] and both["result_time"] == []
    mixed = rest("batch", {"cmd": ["server.time", bad]}).json()["result"]
    assert isinstance(mixed["result"], list) and len(mixed["result"]) == 1  # key 0 only: an array
    assert isinstance(mixed["result_error"], dict) and set(mixed["result_error"]) == {"1"}  # key 1: object
    named = rest("batch", {"cmd": {"t": "server.time", "bad": bad}}).json()["result"]
    assert set(named["result"]) == {"t"} and set(named["result_error"]) == {"bad"}


# -- 8. batch envelope ---------------------------------------------------------------------------------
@pytest.mark.any_portal
def test_batch_time_carries_operating_and_empty_lists_report_zero_total(rest: Rest, portal: Portal) -> None:
    """fast-bitrix24 tests/real_responses/batch_list_empty.py: the outer ``time`` has ``operating``; an
    empty page of a list method reports ``result_total {key: 0}``."""
    body = rest("batch", {"cmd": {"none": f"department.get?NAME=nothing-{portal.tag}"}}).json()
    assert "operating" in body["time"]
    assert body["result"]["result"]["none"] == []
    assert body["result"]["result_total"] == {"none": 0}


# -- 2. credentials ------------------------------------------------------------------------------------
@pytest.mark.any_portal
def test_wrong_webhook_code_is_401_invalid_credentials(portal: Portal, http: httpx.Client) -> None:
    """b24pysdk tests/integration/errors/test_errors.py::test_error_bitrix_api_invalid_credentials."""
    wrong = portal.webhook_url.rstrip("/") + "INVALID/"
    response = http.post(wrong + "user.current.json", json={})
    assert response.status_code == 401
    assert response.json()["error"] == "INVALID_CREDENTIALS"
    assert response.json()["error_description"] == "Invalid request credentials"


@pytest.mark.any_portal
def test_unknown_oauth_token_is_401_invalid_token(portal: Portal, http: httpx.Client) -> None:
    """b24pysdk test_errors.py::test_error_bitrix_api_invalid_token; no auth at all is NO_AUTH_FOUND
    (test_errors_oauth.py::test_error_bitrix_api_no_auth_found)."""
    response = http.post(portal.rest_root + "user.current.json", json={"auth": "INVALID_OAUTH_TOKEN_123"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert response.json()["error_description"] == "Unable to get application by token"
    missing = http.post(portal.rest_root + "user.current.json", json={})
    assert missing.status_code == 401 and missing.json()["error"] == "NO_AUTH_FOUND"


@pytest.mark.any_portal
def test_missing_scope_is_insufficient_scope_with_empty_text_inside_batch(
    user_only_webhook: str, http: httpx.Client
) -> None:
    """_includes/system-errors.md: 403 (b24pysdk's class says 401 — the bridge takes both); batch.md's
    example: inside a batch the description is empty (bitrix24-rest.md §7)."""
    response = http.post(user_only_webhook + "department.get.json", json={})
    assert response.status_code in (401, 403)
    assert response.json()["error"] == "insufficient_scope"
    inner = http.post(user_only_webhook + "batch.json", json={"cmd": {"d": "department.get"}}).json()
    assert inner["result"]["result_error"]["d"] == {"error": "insufficient_scope", "error_description": ""}


# -- 3. and 4. user.add --------------------------------------------------------------------------------
@pytest.mark.any_portal
def test_extranet_user_without_group_is_refused_before_the_email(rest: Rest) -> None:
    """Rest\\Api\\User::userAdd: no_sonet_group_for_extranet is thrown before check_email (§11.4)."""
    response = rest("user.add", {"EMAIL": "not-an-email", "EXTRANET": "Y"})
    assert response.status_code == 400
    assert response.json()["error_description"] == "no_sonet_group_for_extranet"


@pytest.mark.any_portal
def test_add_into_missing_group_creates_the_user_then_fails(
    rest: Rest, portal: Portal, made: Cleanup
) -> None:
    """Rest\\Api\\User::userAdd registers and invites the user, then SendRequestToJoinGroup fails; a retry
    meets "already exists" (user-add.md). The bridge adopts by XML_ID instead of inviting twice."""
    email, xml_id = f"nogroup-{portal.tag}@example.com", f"NOGROUP-{portal.tag}"
    body = {"EMAIL": email, "XML_ID": xml_id, "EXTRANET": "Y", "SONET_GROUP_ID": [NO_SUCH_GROUP]}
    first = rest("user.add", body)
    assert first.status_code == 400 and "error" in first.json()
    found = rest.ok("user.get", {"FILTER": {"XML_ID": xml_id}, "ADMIN_MODE": True})
    assert len(found) == 1 and found[0]["EMAIL"] == email
    made.users.append(int(found[0]["ID"]))
    again = rest("user.add", body)
    assert again.status_code == 400 and "already exists" in again.json()["error_description"]
    assert len(rest.ok("user.get", {"FILTER": {"XML_ID": xml_id}, "ADMIN_MODE": True})) == 1


# -- 5. and 9. user.get --------------------------------------------------------------------------------
@pytest.mark.any_portal
def test_admin_finds_pending_extranet_invitee_by_id(rest: Rest, portal: Portal, made: Cleanup) -> None:
    """userGet: the extranet restriction is skipped for a socialnetwork admin filtering by ID."""
    gid = _group(rest, made, f"Fidelity {portal.tag}")
    email = f"invitee-{portal.tag}@example.com"
    uid = int(rest.ok("user.add", {"EMAIL": email, "EXTRANET": "Y", "SONET_GROUP_ID": [gid]}))
    made.users.append(uid)
    assert [row["ID"] for row in rest.ok("user.get", {"FILTER": {"ID": uid}})] == [str(uid)]


@pytest.mark.any_portal
def test_active_filter_is_php_truthiness(rest: Rest) -> None:
    """prepareUserValue: ``($v && $v !== 'N') ? 'Y' : 'N'`` — "false" and "n" mean active."""
    me = rest.ok("user.current")["ID"]
    for value in ("false", "n", "Y", True):
        assert [r["ID"] for r in rest.ok("user.get", {"FILTER": {"ID": me, "ACTIVE": value}})] == [me]
    for value in ("N", "", False):
        assert rest.ok("user.get", {"FILTER": {"ID": me, "ACTIVE": value}}) == []


@pytest.mark.any_portal
def test_sort_without_order_is_ignored(rest: Rest) -> None:
    """prepareUserGetOrder: [sort => order] only when both are given; otherwise ID ASC."""
    rows = rest.ok("user.get", {"sort": "EMAIL"})
    ids = [int(r["ID"]) for r in rows]
    assert ids == sorted(ids)
    backwards = [int(r["ID"]) for r in rest.ok("user.get", {"sort": "ID", "order": "DESC"})]
    assert backwards == sorted(backwards, reverse=True)


def test_sort_without_order_on_a_seeded_portal(rest: Rest) -> None:
    for email in ("c@example.com", "a@example.com", "b@example.com"):
        rest.ok("user.add", {"EMAIL": email, "UF_DEPARTMENT": [1]})
    ids = [int(r["ID"]) for r in rest.ok("user.get", {"sort": "EMAIL"})]
    assert ids == sorted(ids) and len(ids) == 4
    by_email = [r["EMAIL"] for r in rest.ok("user.get", {"sort": "EMAIL", "order": "ASC"})]
    assert by_email == sorted(by_email) and by_email != [r["EMAIL"] for r in rest.ok("user.get", {})]


# -- 6. OAuth ------------------------------------------------------------------------------------------
def test_refresh_answer_and_install_name_the_portal_consistently(
    b24: RunningSandbox, knobs: Knobs, http: httpx.Client
) -> None:
    """settings/oauth/auto-renewal.md: the refresh answer has ``expires``, ``user_id`` and
    ``domain: oauth.bitrix.info``; b24pysdk credentials/oauth_placement_data.py: the install's
    ``domain`` is the portal the ``client_endpoint`` names."""
    auth = knobs.install()["auth"]
    assert auth["client_endpoint"].split("://")[1].split("/")[0] == auth["domain"]
    app = knobs.app()
    params = {
        "grant_type": "refresh_token",
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "refresh_token": auth["refresh_token"],
    }
    body = http.get(f"{b24.base_url}/oauth/token/", params=params).json()
    assert body["domain"] == "oauth.bitrix.info"
    assert body["user_id"] == 1 and body["expires"] == int(knobs.clock()["now"]) + body["expires_in"]
    assert body["client_endpoint"] == auth["client_endpoint"]


# -- 7. and 10. time tracking --------------------------------------------------------------------------
@pytest.mark.any_portal
def test_extranet_user_cannot_use_time_tracking(extranet_webhook: str, http: httpx.Client) -> None:
    """b24pysdk test_errors.py::test_error_bitrix_api_allowed_only_intranet_user (compared in any case)."""
    response = http.post(extranet_webhook + "timeman.status.json", json={})
    assert response.status_code == 403
    assert response.json()["error"].upper() == "ALLOWED_ONLY_INTRANET_USER"


@pytest.mark.any_portal
def test_timeman_status_ip_close_is_an_empty_string(rest: Rest) -> None:
    """timeman-status.md example (bitrix24-rest.md §10.3): IP_CLOSE "" — also while the day is open."""
    status = rest.ok("timeman.status")
    assert status["IP_CLOSE"] == ""


def test_timeman_status_ip_close_while_open(rest: Rest) -> None:
    rest.ok("timeman.open")
    assert rest.ok("timeman.status")["IP_CLOSE"] == ""


# -- 10. smaller ones ----------------------------------------------------------------------------------
@pytest.mark.any_portal
def test_member_ids_are_checked_before_the_group(rest: Rest) -> None:
    """socialnetwork rest addGroupUsers: "Wrong user IDs" comes before the group lookup (§11.8: sonet
    errors carry the text in error_description)."""
    response = rest("sonet_group.user.add", {"GROUP_ID": NO_SUCH_GROUP, "USER_ID": []})
    assert response.json()["error_description"] == "Wrong user IDs"


@pytest.mark.any_portal
def test_member_roles_exact_and_unchanged_left_out(rest: Rest, portal: Portal, made: Cleanup) -> None:
    """socialnetwork rest updateGroupUsers: ROLE E/K exactly; members already in the role are not listed;
    addGroupUsers adds a dismissed user too."""
    gid = _group(rest, made, f"Roles {portal.tag}")
    uid = int(rest.ok("user.add", {"EMAIL": f"role-{portal.tag}@example.com", "UF_DEPARTMENT": [1]}))
    made.users.append(uid)
    rest.ok("user.update", {"ID": uid, "ACTIVE": "N"})
    assert rest.ok("sonet_group.user.add", {"GROUP_ID": gid, "USER_ID": [uid]}) == [str(uid)]
    lower = rest("sonet_group.user.update", {"GROUP_ID": gid, "USER_ID": [uid], "ROLE": "e"})
    assert lower.json()["error_description"] == "Incorrect role code"
    assert rest.ok("sonet_group.user.update", {"GROUP_ID": gid, "USER_ID": [uid], "ROLE": "K"}) == []
    assert rest.ok("sonet_group.user.update", {"GROUP_ID": gid, "USER_ID": [uid], "ROLE": "E"}) == [str(uid)]


@pytest.mark.any_portal
def test_user_fields_lists_the_standard_codes(rest: Rest) -> None:
    """fast-bitrix24 tests/real_responses/user_fields.py: 64 codes recorded from a cloud portal (the issue
    counted 66; a portal may add its own UF_* fields)."""
    fields: dict[str, Any] = rest.ok("user.fields")
    for code in ("TITLE", "TIME_ZONE", "TIMESTAMP_X", "LAST_ACTIVITY_DATE", "PERSONAL_PHOTO", "WORK_LOGO"):
        assert code in fields
    for code in ("UF_SKYPE_LINK", "UF_ZOOM", "UF_EMPLOYMENT_DATE", "UF_TIMEMAN", "UF_DISTRICT", "USER_TYPE"):
        assert code in fields
    assert len(fields) >= 64


def test_user_fields_of_the_sandbox_are_the_recorded_64(rest: Rest) -> None:
    assert len(rest.ok("user.fields")) == 64


# -- 11. placements ------------------------------------------------------------------------------------
def test_placement_opens_as_the_given_user(b24: RunningSandbox, knobs: Knobs, http: httpx.Client) -> None:
    """widgets/_includes/widget_data.md (bitrix24-rest.md §9.2): query DOMAIN, PROTOCOL, LANG, APP_SID; body
    AUTH_ID, AUTH_EXPIRES, REFRESH_ID, member_id, status, PLACEMENT, PLACEMENT_OPTIONS (a JSON string).
    The AUTH_ID is that user's token: user.current answers that user (b24pysdk credentials/
    oauth_placement_data.py reads the same fields)."""
    token = knobs.install()["auth"]["access_token"]
    worker = knobs.add_user({"EMAIL": "worker@example.com", "UF_DEPARTMENT": [1]})
    with capture_server() as (url, received):
        bound = http.post(
            f"{b24.base_url}/rest/placement.bind.json",
            json={
                "auth": token,
                "PLACEMENT": "LEFT_MENU",
                "HANDLER": f"{url}/b24/page",
                "TITLE": "Timesheets",
            },
        )
        assert bound.json()["result"] is True
        opened = knobs.open_placement("LEFT_MENU", worker, options={"site": "7"})
    assert opened["status"] == 200 and len(received) == 1
    call = received[0]
    query = dict(pair.split("=", 1) for pair in call.query.split("&"))
    assert set(query) == {"DOMAIN", "PROTOCOL", "LANG", "APP_SID"}
    assert query["DOMAIN"] == b24.base_url.split("://")[1].replace(":", "%3A") and query["PROTOCOL"] == "0"
    form = call.form
    for key in ("AUTH_ID", "AUTH_EXPIRES", "REFRESH_ID", "member_id", "status", "PLACEMENT"):
        assert form[key]
    assert form["PLACEMENT"] == "LEFT_MENU" and form["status"] == "L"
    assert json.loads(form["PLACEMENT_OPTIONS"]) == {"site": "7"}
    me = http.post(f"{b24.base_url}/rest/user.current.json", json={"auth": form["AUTH_ID"]}).json()
    assert me["result"]["ID"] == str(worker)
    other = knobs.open_placement("LEFT_MENU", 1, post=False)["form"]["AUTH_ID"]
    assert other != form["AUTH_ID"]
    admin = http.post(f"{b24.base_url}/rest/user.current.json", json={"auth": other}).json()
    assert admin["result"]["ID"] == "1"
