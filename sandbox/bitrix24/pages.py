"""A read-only page at the sandbox's root: the portal's users, groups and memberships, for a person to see
what the mirror did. Not part of Bitrix24's REST API (a real portal shows these in its own UI); it reads
the in-memory portal and changes nothing.
"""

from __future__ import annotations

import html
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

_STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}"
    "td,th{border-bottom:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}"
)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _name(fields: dict[str, Any]) -> str:
    return " ".join(str(fields.get(k) or "") for k in ("LAST_NAME", "NAME", "SECOND_NAME")).strip()


def render(portal: Any) -> str:
    users = sorted(portal.users.values(), key=lambda u: u.id)
    groups = sorted(portal.groups.values(), key=lambda g: g.id)
    names = {u.id: _name(u.fields) or u.fields.get("EMAIL", "") for u in users}
    user_rows = [
        [
            u.id,
            _name(u.fields),
            u.fields.get("EMAIL", ""),
            u.fields.get("XML_ID", ""),
            "yes" if u.fields.get("ACTIVE", True) not in (False, "N") else "no",
            "extranet" if not u.fields.get("UF_DEPARTMENT") else "intranet",
            "yes" if u.registered else "invited",
        ]
        for u in users
    ]
    group_rows = [
        [
            g.id,
            g.fields.get("NAME", ""),
            "extranet" if g.extranet else "intranet",
            len(g.members),
            len(g.requests),
            "; ".join(f"{names.get(uid, uid)} ({role})" for uid, role in sorted(g.members.items())),
        ]
        for g in groups
    ]
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(portal.domain)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>Bitrix24 sandbox — {html.escape(portal.domain)}</h1>"
        "<p>Read-only view of the portal. REST: <code>/rest/…</code>; test knobs: "
        "<code>/_sandbox/state</code>.</p>"
        f"<h2>Groups ({len(group_rows)})</h2>"
        + _table(["id", "name", "kind", "members", "invitations pending", "members (role)"], group_rows)
        + f"<h2>Users ({len(user_rows)})</h2>"
        + _table(["id", "name", "e-mail", "XML_ID", "active", "kind", "logged in"], user_rows)
        + "</body></html>"
    )


async def portal_page(request: Request) -> Response:
    return HTMLResponse(render(request.app.state.sandbox.portal))


def page_routes() -> list[Route]:
    return [Route("/", portal_page, methods=["GET"])]
