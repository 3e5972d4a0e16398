"""Downloading a file that a Bitrix24 method linked to — the links of ``lists.element.get.file.url``.

The links are relative to the portal (lists-element-get-file-url.md; how-to-download-files.md: "if a link
starts with ``/``, add the Bitrix24 address to it") and carry no token: the application adds its access
token as ``auth`` (Bitrix's documentation team, bitrix-tools/b24-rest-docs issue #94: the classic
methods' links "need ``auth`` authorisation on the portal"; sandbox/bitrix24/lists_download.py has the
whole reasoning). Without a valid token the portal answers with its HTML authorisation page instead of the
file (how-to-download-files.md), so an HTML answer is an authorisation failure here, never file content,
and an incoming webhook cannot download these files at all.

One attempt streams the body with httpx and stops as soon as it passes the size limit (the
``Content-Length`` is checked first), so a huge file never sits in memory. Failures are
``Bitrix24ApiError``s classified like REST calls' (5xx and broken connections are retried by the gateway,
404/403 are not). Never logged: the link (it carries the token once ``auth`` is added) and the content;
httpx's own request log (the URL) is kept at WARNING.
"""

from __future__ import annotations

import logging
from email.message import Message
from urllib.parse import urljoin, urlsplit

import httpx

from connectors.bitrix24.errors import (
    TRANSPORT,
    Action,
    Bitrix24ApiError,
    Resolution,
    api_error,
    classify,
)
from connectors.bitrix24.port import DownloadedFile

METHOD = "file.download"
"""How errors of a download name the call (never the link)."""
GENERIC_TYPES = frozenset(
    {"", "application/octet-stream", "application/force-download", "binary/octet-stream"}
)

TOO_LARGE = Resolution(Action.FAIL, "the file is larger than the configured limit (bitrix24.max_file_mb)")
NOT_FOUND = Resolution(Action.FAIL, "Bitrix24 has no such file, or no longer (404)")
FORBIDDEN = Resolution(Action.FAIL, "Bitrix24 denied access to the file (403)")
LOGIN_PAGE = Resolution(Action.REFRESH_TOKEN, "Bitrix24 answered the download with its authorisation page")
LOGIN_AGAIN = Resolution(
    Action.FAIL_CONFIG, "Bitrix24 answered the download with its authorisation page even to a fresh token"
)
NEEDS_APP = Resolution(
    Action.FAIL_CONFIG,
    "list files can be downloaded by the OAuth application only: a webhook gets the portal's login page",
)
FOREIGN = Resolution(Action.FAIL, "the download link points away from the portal (not followed)")


def quiet_httpx() -> None:
    """httpx logs every request's URL at INFO: with ``auth`` added that URL holds the access token."""
    for name in ("httpx", "httpcore"):
        if logging.getLogger(name).getEffectiveLevel() < logging.WARNING:
            logging.getLogger(name).setLevel(logging.WARNING)


def absolute(base_url: str, link: str) -> str:
    """The link on the portal of ``base_url``; a link to another host is refused (the token stays home)."""
    portal = urlsplit(base_url)
    url = urljoin(f"{portal.scheme}://{portal.netloc}/", link)
    target = urlsplit(url)
    if (target.scheme, target.netloc.lower()) != (portal.scheme, portal.netloc.lower()):
        raise api_error(FOREIGN, code="FOREIGN_LINK", method=METHOD)
    return url


def _filename(disposition: str | None) -> str | None:
    """``Content-Disposition`` parsed by the stdlib (RFC 2231 ``filename*`` included)."""
    if not disposition:
        return None
    message = Message()
    message["content-disposition"] = disposition
    name = (message.get_filename() or "").replace("/", "_").replace("\\", "_").strip()
    return name or None


def _too_large(limit: int, status: int) -> Bitrix24ApiError:
    return api_error(TOO_LARGE, code="FILE_TOO_LARGE", description=f"limit {limit} bytes", status=status,
                     method=METHOD)  # fmt: skip


def _refused(status: int) -> Bitrix24ApiError:
    if status == 404:
        return api_error(NOT_FOUND, code="FILE_NOT_FOUND", status=status, method=METHOD)
    if status == 403:
        return api_error(FORBIDDEN, code="ACCESS_DENIED", status=status, method=METHOD)
    if status == 401:
        return api_error(LOGIN_PAGE, code="HTML", status=status, method=METHOD)
    return api_error(classify(status, "", ""), code=f"HTTP_{status}", status=status, method=METHOD)


async def fetch(
    client: httpx.AsyncClient, url: str, token: str, *, max_bytes: int, fallback_name: str
) -> DownloadedFile:
    """One attempt: GET ``url`` with ``auth=<token>``, streamed, at most ``max_bytes``."""
    try:
        async with client.stream("GET", url, params={"auth": token}) as response:
            status = response.status_code
            if status >= 400:
                raise _refused(status)
            if status >= 300:  # a cloud portal redirects a page request without a session to its login
                raise api_error(LOGIN_PAGE, code="REDIRECT", status=status, method=METHOD)
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type == "text/html":
                raise api_error(LOGIN_PAGE, code="HTML", status=status, method=METHOD)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise _too_large(max_bytes, status)
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise _too_large(max_bytes, status)
            name = _filename(response.headers.get("content-disposition")) or fallback_name
    except httpx.TransportError as exc:
        # The exception's text may carry the URL (and so the token): only its class goes on.
        raise api_error(TRANSPORT, code=type(exc).__name__, method=METHOD) from None
    mime = None if content_type in GENERIC_TYPES else content_type
    return DownloadedFile(name=name, mime=mime, content=bytes(body))
