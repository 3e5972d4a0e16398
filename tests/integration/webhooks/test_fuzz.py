"""Property-based fuzz of the event and install handlers over HTTP (issue 8 "Bad input", "Security"):
whatever arrives — any keys, any text, hostile strings in every field, raw bytes, oversized bodies — the
answer is a documented refusal or a receipt, never a 5xx; the install stays the genuine one."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from config.wiring import Store
from sandbox.bitrix24.testing import RunningSandbox
from store.models import AppToken, InboxMessage
from tests.fuzzing import EXAMPLES, HOSTILE
from tests.integration.webhooks.conftest import FORM, ServedBridge, install_body
from webhooks.bodies import EventAuth
from webhooks.forms import parse_php_form

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
EVENT_STATUSES = {200, 400, 401, 413, 422}
INSTALL_STATUSES = {200, 400, 403, 413}
PROOF = ("access_token", "member_id", "domain", "client_endpoint")
"""The install fields the bridge checks against its settings, the stored install and the portal."""

KNOWN_KEYS = [
    "event",
    "event_handler_id",
    "ts",
    "data[ID]",
    "data[FIELDS]",
    "data[FIELDS][ID]",
    "data[FIELDS][]",
    "data[NAME]",
    "data[UF_DEPARTMENT][]",
    "data[]",
    "data",
    "auth",
    "auth[]",
    *(f"auth[{name}]" for name in EventAuth.model_fields),
    "auth[expires_in][x]",
]
text = st.one_of(
    st.text(max_size=60),
    st.sampled_from(HOSTILE),
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True).map(str),
)
key = st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=20))
pairs = st.lists(st.tuples(key, text), max_size=12)


@pytest.fixture
def genuine(served: ServedBridge, portal: RunningSandbox) -> dict[str, Any]:
    auth: dict[str, Any] = portal.knobs.install()["auth"]
    assert served.http.post("/bitrix24/install", content=install_body(auth), headers=FORM).status_code == 200
    return auth


def _assert_answer(response: Any, allowed: set[int]) -> None:
    assert response.status_code in allowed, (response.status_code, response.text[:300])
    if response.status_code != 200:
        body = response.json()
        assert body["error"] and body["detail"], body


@FUZZ
@given(pairs=pairs, event=st.sampled_from(["ONUSERADD", "ONAPPUNINSTALL", "ONOFFLINEEVENT", "ONCRMDEALADD"]))
def test_events_never_answer_5xx(
    served: ServedBridge, genuine: dict[str, Any], pairs: list[tuple[str, str]], event: str
) -> None:
    base = [("event", event), ("auth[application_token]", genuine["application_token"])]
    body = urlencode(base + pairs)
    _assert_answer(served.http.post("/bitrix24/events", content=body, headers=FORM), EVENT_STATUSES)


@FUZZ
@given(raw=st.binary(max_size=400))
def test_raw_bytes_never_answer_5xx(served: ServedBridge, genuine: dict[str, Any], raw: bytes) -> None:
    for path, allowed in (("/bitrix24/events", EVENT_STATUSES), ("/bitrix24/install", INSTALL_STATUSES)):
        _assert_answer(served.http.post(path, content=raw, headers=FORM), allowed)


@FUZZ
@given(
    changes=st.dictionaries(st.sampled_from(sorted(EventAuth.model_fields)), text, max_size=4),
    extra=pairs,
)
def test_installs_never_answer_5xx_and_never_replace_the_genuine_one(
    served: ServedBridge,
    store: Store,
    genuine: dict[str, Any],
    changes: dict[str, str],
    extra: list[tuple[str, str]],
) -> None:
    offered = {**genuine, **changes}
    before = _stored(store)
    body = install_body(offered) + ("&" + urlencode(extra) if extra else "")
    response = served.http.post("/bitrix24/install", content=body, headers=FORM)
    _assert_answer(response, INSTALL_STATUSES)
    after = _stored(store)
    if response.status_code == 200:  # only the portal's own admin token verifies: then its install stands
        sent = parse_php_form(body)["auth"]  # an extra pair may repeat an auth key: the last one counts
        assert sent["access_token"] == genuine["access_token"]
        assert after == (sent["access_token"], sent["application_token"])
    else:
        assert after == before


def _stored(store: Store) -> tuple[str, str | None]:
    with store.sessions() as session:
        row = session.scalar(select(AppToken))
        assert row is not None
        return row.access_token, row.application_token


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_strings_are_refused_in_every_checked_field_and_inert_in_data(
    served: ServedBridge, store: Store, genuine: dict[str, Any], hostile: str
) -> None:
    for name in EventAuth.model_fields:
        forged = install_body({**genuine, name: hostile})
        answer = served.http.post("/bitrix24/install", content=forged, headers=FORM)
        # What proves an install refuses the string; with the portal's own admin token, a well-formed
        # value of another field stands (the install is verified), and the genuine one is put back.
        allowed = {400, 403, 413} if name in PROOF else INSTALL_STATUSES
        assert answer.status_code in allowed, (name, answer.status_code)
        if answer.status_code == 200:
            reinstall = served.http.post("/bitrix24/install", content=install_body(genuine), headers=FORM)
            assert reinstall.status_code == 200
        event = urlencode({"event": "ONUSERADD", "data[ID]": "5", f"auth[{name}]": hostile})
        answer = served.http.post("/bitrix24/events", content=event, headers=FORM)
        assert answer.status_code in {400, 401, 413}, (name, answer.status_code)
    for name in ("event", "ts", "data[ID]", "data[FIELDS][ID]", "event_handler_id"):
        fields = {
            "event": "ONUSERADD",
            "auth[application_token]": genuine["application_token"],
            name: hostile,
        }
        answer = served.http.post("/bitrix24/events", content=urlencode(fields), headers=FORM)
        assert answer.status_code in {400, 413, 422}, (name, answer.status_code)
    inert = {
        "event": "ONUSERADD",
        "ts": "1767225600",
        "auth[application_token]": genuine["application_token"],
    }
    answer = served.http.post(
        "/bitrix24/events", content=urlencode({**inert, "data[NAME]": hostile}), headers=FORM
    )
    assert answer.status_code in {200, 413}
    with store.sessions() as session:
        stored = [row.payload["data"].get("NAME") for row in session.scalars(select(InboxMessage))]
        tokens = session.scalar(select(AppToken))
    assert stored == ([hostile] if answer.status_code == 200 else [])
    assert tokens is not None and tokens.application_token == genuine["application_token"]
    assert tokens.access_token == genuine["access_token"]
