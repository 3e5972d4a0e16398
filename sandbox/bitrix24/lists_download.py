"""The links ``lists.element.get.file.url`` gives for a File property, served as the portal serves them.

What the sources say, and what the sandbox does:
- The link is relative,
  ``/company/lists/<list>/file/<section>/<element>/PROPERTY_<id>/<file>/?ncc=y&download=y``
  (lists-element-get-file-url.md; api-reference/files/how-to-download-files.md: "if a link starts with
  ``/``, add the Bitrix24 address to it").
- It carries no token. how-to-download-files.md: links without a REST token work "in an authorized
  Bitrix24 context"; "an HTTP client without browser authorization receives an HTML page instead of the
  file contents", and "if an HTML authorization page arrives instead of the file, the link is not suitable
  for server-side downloading". An application authorises such a portal link with its access token as the
  ``auth`` query parameter: Bitrix's documentation team on bitrix-tools/b24-rest-docs issue #94 ("the
  classic methods give links that need ``auth`` authorisation on the portal"; crm.deal.get's
  ``downloadUrl`` carries an ``auth=`` parameter, empty for a webhook). So: a live OAuth access token of the
  installed application in ``auth`` → the file; no token, a webhook's, an unknown or expired one → HTTP 200
  with an HTML authorisation page (the documented symptom), never the file. Incoming webhooks therefore
  cannot download list files, which is what the docs warn of.
- How-to-download-files.md "Permissions and Limitations": the download needs the permissions on the object
  the link came from and the scope of the method that gave it — the ``lists`` scope and Read on the list.
- The docs do not say what the portal answers for a link to a file that is gone or that the user may not
  read. The sandbox chooses the conservative answer: an HTML error page with 404 (unknown list, element,
  property or file, or a file that is not in that element's property) or 403 (no ``lists`` scope, no Read
  right) — never the bytes, and nothing a client could take for the file.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from sandbox.bitrix24.auth import token_caller
from sandbox.bitrix24.core import CallContext, RestError
from sandbox.bitrix24.methods.lists import resolve_iblock
from sandbox.bitrix24.procs_common import lock
from sandbox.bitrix24.procs_lists_model import state

_LOGIN = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Authorization</title></head>"
    "<body><form method='post' action='/auth/'><h1>Authorization</h1>"
    "<input name='USER_LOGIN'><input name='USER_PASSWORD' type='password'></form></body></html>"
)


def _page(status: int, title: str) -> HTMLResponse:
    text = html.escape(title)
    body = f"<!DOCTYPE html><html><head><title>{text}</title></head><body><p>{text}</p></body></html>"
    return HTMLResponse(body, status_code=status)


def _file(portal: Any, caller: Any, path: dict[str, Any]) -> dict[str, Any] | Response:
    st = state(portal)
    iblock = st.iblocks.get(int(path["iblock_id"]))
    element = st.elements.get(int(path["element_id"]))
    if iblock is None or element is None or element.iblock_id != iblock.id:
        return _page(404, "File not found")
    if element.section_id != int(path["section_id"]):
        return _page(404, "File not found")
    if "lists" not in caller.scopes:
        return _page(403, "Access denied")
    where = {
        "IBLOCK_TYPE_ID": iblock.type_id,
        "IBLOCK_ID": iblock.id,
        "SOCNET_GROUP_ID": iblock.socnet_group_id,
    }
    try:
        resolve_iblock(CallContext(portal, caller), where, "R")
    except RestError:
        return _page(403, "Access denied")
    field_id, file_id = str(path["field_id"]).upper(), int(path["file_id"])
    fld = iblock.fields.get(field_id)
    held = {int(v) for _vid, v in element.values.get(field_id, [])} if fld and fld.type == "F" else set()
    stored = st.files.get(file_id)
    if file_id not in held or stored is None or "content" not in stored:
        return _page(404, "File not found")
    return stored


async def download(request: Request) -> Response:
    portal = request.app.state.sandbox.portal
    with lock(portal):
        try:
            caller = token_caller(portal, request.query_params.get("auth"))
        except RestError:
            return HTMLResponse(_LOGIN)
        found = _file(portal, caller, dict(request.path_params))
    if isinstance(found, Response):
        return found
    name = str(found["name"])
    disposition = f"attachment; filename*=UTF-8''{quote(name)}"
    return Response(
        found["content"],
        media_type=str(found.get("type") or "application/octet-stream"),
        headers={"Content-Disposition": disposition},
    )


def download_routes() -> list[Route]:
    path = "/company/lists/{iblock_id:int}/file/{section_id:int}/{element_id:int}/{field_id}/{file_id:int}/"
    return [Route(path, download, methods=["GET"])]
