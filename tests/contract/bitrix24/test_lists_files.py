"""``lists.element.get.file.url`` and the download of its links, over HTTP (lists-element-get-file-url.md,
api-reference/files/how-to-download-files.md; sandbox/bitrix24/lists_download.py says what is chosen where
the docs are silent)."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from sandbox.bitrix24.testing import Rest, RunningSandbox

from .procs_helpers import App, add_user

P = "bitrix_processes"
SCAN = b"%PDF-1.4 scan \x00\xff bytes"


def _setup(rest: Rest, **rights: Any) -> tuple[dict[str, Any], str, str, int]:
    extra = {"RIGHTS": rights} if rights else {}
    iblock = rest.ok(
        "lists.add", {"IBLOCK_TYPE_ID": P, "IBLOCK_CODE": "bank", "FIELDS": {"NAME": "B"}, **extra}
    )
    base = {"IBLOCK_TYPE_ID": P, "IBLOCK_ID": iblock}
    scan = rest.ok(
        "lists.field.add", {**base, "FIELDS": {"NAME": "Scan", "TYPE": "F", "CODE": "SCAN", "MULTIPLE": "Y"}}
    )
    note = rest.ok("lists.field.add", {**base, "FIELDS": {"NAME": "Note", "TYPE": "S", "CODE": "NOTE"}})
    files = [["выписка.pdf", base64.b64encode(SCAN).decode()], ["b.png", base64.b64encode(b"png").decode()]]
    fields = {"NAME": "Bank details", scan: files, note: "x"}
    element = rest.ok("lists.element.add", {**base, "ELEMENT_CODE": "e1", "FIELDS": fields})
    return base, str(scan), str(note), int(element)


def _err(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]


def test_file_url_result_and_errors(rest: Rest) -> None:
    base, scan, note, element = _setup(rest)
    field = scan.removeprefix("PROPERTY_")
    urls = rest.ok("lists.element.get.file.url", {**base, "ELEMENT_ID": element, "FIELD_ID": field})
    row = rest.ok("lists.element.get", {**base, "ELEMENT_ID": element})[0]
    file_ids = list(row[scan].values())
    # The page's "File property" example: relative links, one per file, in value order.
    assert urls == [
        f"/company/lists/{base['IBLOCK_ID']}/file/0/{element}/{scan}/{fid}/?ncc=y&download=y"
        for fid in file_ids
    ]
    by_code = rest.ok(
        "lists.element.get.file.url",
        {"IBLOCK_TYPE_ID": P, "IBLOCK_CODE": "bank", "ELEMENT_CODE": "e1", "FIELD_ID": field},
    )
    assert by_code == urls
    # An empty array: a property without files (or not a file property at all).
    note_id = note.removeprefix("PROPERTY_")
    assert rest.ok("lists.element.get.file.url", {**base, "ELEMENT_ID": element, "FIELD_ID": note_id}) == []
    for missing in ("IBLOCK_TYPE_ID", "IBLOCK_ID", "ELEMENT_ID", "FIELD_ID"):
        params = {**base, "ELEMENT_ID": element, "FIELD_ID": field}
        del params[missing]
        answer = rest("lists.element.get.file.url", params)
        assert _err(answer) == (400, "ERROR_REQUIRED_PARAMETERS_MISSING")
        assert f"`{missing}`" in answer.json()["error_description"]
    gone = rest("lists.element.get.file.url", {**base, "ELEMENT_ID": 999999, "FIELD_ID": field})
    assert _err(gone) == (400, "ERROR_ELEMENT_NOT_FOUND")
    other = rest(
        "lists.element.get.file.url", {**base, "IBLOCK_ID": 999999, "ELEMENT_ID": element, "FIELD_ID": field}
    )
    assert _err(other) == (400, "ERROR_IBLOCK_NOT_FOUND")


def test_file_url_needs_read_right(b24: RunningSandbox, rest: Rest, http: httpx.Client) -> None:
    base, scan, _note, element = _setup(rest, U1="X")
    _, hook = add_user(b24.knobs, http, "Stranger")
    answer = hook("lists.element.get.file.url", {**base, "ELEMENT_ID": element, "FIELD_ID": scan[9:]})
    assert _err(answer) == (403, "ACCESS_DENIED")


def test_download_with_the_app_token(b24: RunningSandbox, rest: Rest, app: App, http: httpx.Client) -> None:
    base, scan, _note, element = _setup(rest, U1="X")
    urls = app.ok("lists.element.get.file.url", {**base, "ELEMENT_ID": element, "FIELD_ID": scan[9:]})
    first = http.get(b24.base_url + urls[0], params={"auth": app.token})
    assert first.status_code == 200 and first.content == SCAN
    assert first.headers["content-type"] == "application/pdf"
    assert (
        "filename*=UTF-8''%D0%B2%D1%8B%D0%BF%D0%B8%D1%81%D0%BA%D0%B0.pdf"
        in first.headers["content-disposition"]
    )
    assert http.get(b24.base_url + urls[1], params={"auth": app.token}).content == b"png"
    # No token, a wrong one, or a webhook's code: the portal's authorisation page, never the file.
    for params in ({}, {"auth": "nope"}, {"auth": b24.webhook_url.rstrip("/").rsplit("/", 1)[-1]}):
        page = http.get(b24.base_url + urls[0], params=params)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert SCAN not in page.content
    # A file that is not in that element's property, or an unknown one: 404, an HTML page.
    wrong = urls[0].replace(f"/{element}/", f"/{element + 1}/")
    unknown = urls[0].rsplit("/", 2)[0] + "/99999/?ncc=y&download=y"
    for url in (wrong, unknown):
        page = http.get(b24.base_url + url, params={"auth": app.token})
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    # A user without Read on the list (its token is valid): 403.
    uid, _hook = add_user(b24.knobs, http, "Stranger")
    token, _refresh = b24.sandbox.portal.issue_tokens(uid)
    page = http.get(b24.base_url + urls[0], params={"auth": token})
    assert page.status_code == 403 and SCAN not in page.content
