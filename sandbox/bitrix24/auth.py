"""Who is calling: incoming-webhook codes, OAuth access tokens, scopes, and the OAuth token server.

Owns the authentication checks and the ``/oauth/token/`` answers. It must not run methods.
Sources: bitrix24-rest.md §1.1 (URL forms, webhook = its user's rights within its scopes, webhook expiry),
§8.3 (NO_AUTH_FOUND 401, expired_token 401, insufficient_scope 403, OAuth server errors, token lifetimes),
§9.1 (app-only methods), settings/oauth/auto-renewal.md (refresh request and answer).

What a real portal answers for bad credentials (b24pysdk tests/integration/errors/test_errors.py and
test_errors_oauth.py, run against live portals; codes and texts in b24pysdk/errors/__init__.py):
a wrong webhook code → 401 ``INVALID_CREDENTIALS`` "Invalid request credentials"; an unknown OAuth
access token → 401 ``invalid_token`` "Unable to get application by token"; no ``auth`` at all → 401
``NO_AUTH_FOUND``; the token of a deactivated user → 401 ``authorization_error`` "Unable to authorize user".
``insufficient_scope`` is 403 in the docs (_includes/system-errors.md) and 401 in the SDK's class; the
sandbox answers the documented 403 and the bridge accepts both.
"""

from __future__ import annotations

from typing import Any

from sandbox.bitrix24.core import Caller, MethodSpec, RestError
from sandbox.bitrix24.state import Portal

ALL_SCOPES = frozenset(
    {
        "basic",
        "user",
        "user.userfield",
        "department",
        "humanresources",
        "sonet_group",
        "lists",
        "bizproc",
        "im",
        "disk",
        "timeman",
        "calendar",
        "task",
        "placement",
    }
)
# bitrix24-rest.md §1.1: `sonet_group` has the alias `socialnetwork` (the sonet pages say `sonet`).
SCOPE_ALIASES = {"socialnetwork": "sonet_group", "sonet": "sonet_group"}
# §1.3 §8.3 texts as documented in _includes/system-errors.md
WRONG_AUTH = "Wrong authorization data"
EXPIRED = "The access token provided has expired"
INSUFFICIENT = "The request requires higher privileges than provided by the webhook token"
INSUFFICIENT_TOKEN = "The request requires higher privileges than provided by the access token"
BAD_WEBHOOK = ("INVALID_CREDENTIALS", "Invalid request credentials")
BAD_TOKEN = ("invalid_token", "Unable to get application by token")
FIRED_USER = ("authorization_error", "Unable to authorize user")
OAUTH_SERVER = "oauth.bitrix.info"  # settings/oauth/auto-renewal.md: the refresh answer's `domain`


def normalise_scopes(scopes: Any) -> frozenset[str]:
    """A comma string or a list of scope names → a set, aliases folded (§1.1)."""
    items = scopes.split(",") if isinstance(scopes, str) else list(scopes or [])
    return frozenset(SCOPE_ALIASES.get(s.strip(), s.strip()) for s in items if str(s).strip())


def webhook_caller(portal: Portal, user_id: int, code: str) -> Caller:
    """The caller behind ``/rest/<user_id>/<code>/…`` or 401 (bitrix24-rest.md §1.1, §8.3)."""
    hook = portal.webhooks.get((user_id, code))
    if hook is None:
        raise RestError(*BAD_WEBHOOK, 401)
    if hook.expires_at is not None and portal.clock.now() >= hook.expires_at:
        # §1.1: "Webhooks can have an expiry date; after it the call fails with an auth error".
        raise RestError("expired_token", EXPIRED, 401)
    user = portal.user(user_id)
    if user is None or not user.active:
        raise RestError(*FIRED_USER, 401)
    return Caller(user_id, hook.scopes, user.is_admin, "webhook", None, f"webhook:{user_id}:{code}")


def token_caller(portal: Portal, token: Any) -> Caller:
    """The caller behind ``auth=<access_token>`` or 401 (bitrix24-rest.md §1.1, §8.3)."""
    if not token or not isinstance(token, str):
        raise RestError("NO_AUTH_FOUND", WRONG_AUTH, 401)
    record = portal.access_tokens.get(token)
    if record is None or not portal.app.installed:
        raise RestError(*BAD_TOKEN, 401)
    if portal.clock.now() >= record.expires_at:
        raise RestError("expired_token", EXPIRED, 401)
    user = portal.user(record.user_id)
    if user is None or not user.active:
        raise RestError(*FIRED_USER, 401)
    client = portal.app.client_id
    return Caller(record.user_id, portal.app.scopes, user.is_admin, "app", client, f"app:{client}")


def caller_key(caller: Caller) -> str:
    """The operating-time ledger key: per app or per webhook (bitrix24-rest.md §8.2)."""
    if caller.credential:
        return caller.credential
    return f"app:{caller.client_id}" if caller.via == "app" else f"webhook:{caller.user_id}"


def authorise(spec: MethodSpec, caller: Caller, *, in_batch: bool = False) -> None:
    """App-only methods refuse webhooks (§9.1); the caller needs the method's scope (§8.3).

    Inside a batch the scope error has an empty description (§7 example: ``"result_error": {"get_user":
    {"error": "insufficient_scope", "error_description": ""}}``)."""
    if spec.app_only and caller.via != "app":
        code, text = spec.webhook_error
        raise RestError(code, text, 403)
    needed = {SCOPE_ALIASES.get(s, s) for s in spec.scope.split("|") if s}
    if "basic" in needed or not needed:
        return
    if not needed & caller.scopes:
        text = "" if in_batch else INSUFFICIENT if caller.via == "webhook" else INSUFFICIENT_TOKEN
        raise RestError("insufficient_scope", text, 403)


def refresh(portal: Portal, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """``/oauth/token/?grant_type=refresh_token&client_id&client_secret&refresh_token`` (auto-renewal.md)."""
    grant = params.get("grant_type")
    if grant != "refresh_token":
        # settings/oauth/error-codes.md: invalid_request for a malformed request.
        return 400, {"error": "invalid_request", "error_description": "Unsupported grant_type"}
    app = portal.app
    if params.get("client_id") != app.client_id or params.get("client_secret") != app.client_secret:
        return 401, {"error": "invalid_client", "error_description": "Invalid client"}
    if not app.installed:
        return 401, {"error": "invalid_client", "error_description": "Application not installed"}
    token = portal.refresh_tokens.pop(str(params.get("refresh_token") or ""), None)
    if token is None or portal.clock.now() >= token.expires_at:
        return 400, {"error": "invalid_grant", "error_description": "Invalid grant"}
    access, refresh_token = portal.issue_tokens(token.user_id)
    return 200, token_answer(portal, access, refresh_token, token.user_id)


def token_answer(portal: Portal, access: str, refresh_token: str, user_id: int) -> dict[str, Any]:
    """The OAuth server's JSON, keys as in settings/oauth/auto-renewal.md: ``expires`` (unix time),
    ``user_id``, ``domain`` is the OAuth server's own host ("oauth.bitrix.info"), while the portal is
    named by ``client_endpoint`` (its host is the portal's domain). ``status`` L = local app (§6.2)."""
    endpoint = portal.public_url.rstrip("/")
    return {
        "access_token": access,
        "client_endpoint": f"{endpoint}/rest/",
        "domain": OAUTH_SERVER,
        "expires": int(portal.clock.now()) + portal.token_lifetime,
        "expires_in": portal.token_lifetime,
        "member_id": portal.member_id,
        "refresh_token": refresh_token,
        "scope": ",".join(sorted(portal.app.scopes)),
        "server_endpoint": f"{endpoint}/rest/",
        "status": "L",
        "user_id": user_id,
    }
