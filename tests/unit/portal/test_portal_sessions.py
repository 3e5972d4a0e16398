"""The session cookie carries the Bitrix24 user id as an integer; an older text id is not trusted."""

from __future__ import annotations

from itsdangerous import URLSafeTimedSerializer

from core.ids import B24UserId
from portal.auth import Sessions

SECRET = "unit-test-secret-0123456789abcdef0123"


def test_the_user_id_round_trips_as_an_integer() -> None:
    sessions = Sessions(SECRET)
    loaded = sessions.load(sessions.dump(sessions.new(B24UserId(17))))
    assert loaded is not None and loaded.user_id == 17 and isinstance(loaded.user_id, int)
    visitor = sessions.load(sessions.dump(sessions.new(None)))
    assert visitor is not None and visitor.user_id is None


def test_a_cookie_with_a_text_user_id_is_refused() -> None:
    signer = URLSafeTimedSerializer(SECRET, salt="extranet-bridge-portal")
    assert Sessions(SECRET).load(str(signer.dumps({"u": "17", "c": "token", "l": "ru"}))) is None
