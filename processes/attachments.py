"""The files of an approved request, on their way to 1C as ``SubmitRequest`` attachments.

Where the download happens, and why. The approval that writes the ``SubmitRequest`` outbox row runs inside
the call-out's unit of work, which does no I/O; a call-out's async part runs before it knows whether its
decision is the last one (that is settled under the request's row lock). So the row carries **file
references** only — the field, the list, the element and the file id the approvers saw — and the 1C outbox
worker downloads the bytes just before it sends (``attach``):

- a crash anywhere loses nothing and doubles nothing: until the row is settled it is claimed again, the
  files are downloaded again and the same ``requestId`` goes to 1C, which creates the document once;
- the row stays small (a few ids, not megabytes of base64 in the store);
- a transient failure (Bitrix24 down, 5xx, a dropped connection) raises ``AttachmentUnavailable`` and the
  row backs off like any 1C outage; a file that is gone, over the size limit or refused raises a Terminal
  error whose class name is the row's dead-letter reason (``AttachmentMissing``, ``AttachmentTooLarge``,
  ``AttachmentRefused``) and the operator sees it among stalled requests — unless 1C already has the
  request (an earlier claim delivered it and crashed before settling): then the row settles as sent.

The links come from ``lists.element.get.file.url`` (the property id from ``lists.field.get`` by the
field's CODE); a referenced file no longer among the property's links is missing — a file replaced after
the approval is not sent in its place. The MIME type is the one the portal sent, else the stdlib's guess
from the name. Logs carry ids and error classes only, never names, links or content.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import structlog

from connectors.bitrix24.errors import Bitrix24ApiError
from connectors.bitrix24.port import Bitrix24Port, FileDownloads
from connectors.onec.port import Attachment, OneCPort, RequestSubmission
from core.errors import ProcessError, Terminal, Transient
from processes.bpt import property_code
from processes.catalog import ProcessEntry
from processes.portal_setup import IBLOCK_TYPE

log = structlog.get_logger(__name__)

REFS = "attachment_refs"
"""The outbox payload's key for the file references."""
_UNKNOWN_TO_1C = frozenset({"NotFound", "NOT_FOUND", "Unknown"})
"""GetDocument's status for a requestId 1C never received (docs/onec-contract.md, connectors/onec/encode)."""
_GONE = frozenset({"FILE_NOT_FOUND", "ERROR_ELEMENT_NOT_FOUND", "ERROR_IBLOCK_NOT_FOUND"})


class AttachmentUnavailable(ProcessError, Transient):
    """Bitrix24 could not hand the file over now; the outbox row retries with its backoff."""


class AttachmentMissing(ProcessError, Terminal):
    """The request's file (or its element or list) is no longer in Bitrix24."""


class AttachmentTooLarge(ProcessError, Terminal):
    """The file is over ``bitrix24.max_file_mb``."""


class AttachmentRefused(ProcessError, Terminal):
    """Bitrix24 refused the file for good (access, configuration), or no downloader is wired."""


def references(
    entry: ProcessEntry, values: Mapping[str, Any], *, iblock_id: int | None, element_id: int | None
) -> list[dict[str, Any]]:
    """The file references of a request's attachment fields (form values hold Bitrix24 file ids)."""
    if element_id is None:
        return []
    refs: list[dict[str, Any]] = []
    for code in entry.onec.attachments:
        raw = values.get(code)
        for file_id in raw if isinstance(raw, list) else [raw]:
            if file_id not in (None, "") and str(file_id).isdigit():
                refs.append(
                    {
                        "field": code,
                        "iblock_id": iblock_id or None,
                        "iblock_code": "eb_" + entry.code,
                        "element_id": int(element_id),
                        "file_id": str(file_id),
                    }
                )
    return refs


async def attach(
    submission: RequestSubmission,
    payload: Mapping[str, Any],
    files: Bitrix24Port | None,
    onec: OneCPort | None = None,
) -> RequestSubmission:
    """``submission`` with the files its outbox row references downloaded as attachments.

    When a file cannot be had for good, 1C is asked (``GetDocument``) whether an earlier claim of the row
    already delivered the request (its answer lost, the row not settled): then the submission goes without
    the files, 1C answers ``AlreadyExists`` and the row settles instead of dead-lettering."""
    refs = [r for r in payload.get(REFS) or () if isinstance(r, Mapping)]
    if not refs:
        return submission
    try:
        if not isinstance(files, FileDownloads):
            raise AttachmentRefused("the 1C outbox worker has no Bitrix24 downloader for attachments")
        try:
            attachments = [await _download(files, ref, links) for ref, links in await _links(files, refs)]
        except Bitrix24ApiError as error:
            raise _classified(error) from None
    except ProcessError as error:
        if not isinstance(error, Terminal):
            raise
        if onec is not None and (await onec.document(submission.request_id)).status not in _UNKNOWN_TO_1C:
            log.warning("attachment.gone_after_delivery", request_id=submission.request_id)
            return submission
        raise
    return replace(submission, attachments=(*submission.attachments, *attachments))


async def _links(
    files: FileDownloads, refs: Sequence[Mapping[str, Any]]
) -> list[tuple[Mapping[str, Any], list[str]]]:
    """Each reference with its field's current links (one ``lists.field.get`` per list, one
    ``lists.element.get.file.url`` per field)."""
    out: list[tuple[Mapping[str, Any], list[str]]] = []
    property_ids: dict[tuple[Any, Any], dict[str, str]] = {}
    links: dict[tuple[Any, ...], list[str]] = {}
    for ref in refs:
        where: dict[str, Any] = {"IBLOCK_TYPE_ID": IBLOCK_TYPE}
        where |= (
            {"IBLOCK_ID": ref["iblock_id"]} if ref.get("iblock_id") else {"IBLOCK_CODE": ref["iblock_code"]}
        )
        list_key = (ref.get("iblock_id"), ref.get("iblock_code"))
        if list_key not in property_ids:
            described = await files.call("lists.field.get", where)
            described = described if isinstance(described, dict) else {}
            property_ids[list_key] = {
                str(f.get("CODE") or ""): str(f.get("FIELD_ID") or "")
                for f in described.values()
                if isinstance(f, dict)
            }
        field_id = property_ids[list_key].get(property_code(str(ref["field"])), "")
        if not field_id.startswith("PROPERTY_"):
            raise AttachmentMissing(f"the list has no file field {ref['field']!r} any more")
        key = (*list_key, ref["element_id"], field_id)
        if key not in links:
            # lists-element-get-file-url.md: FIELD_ID is the property id without the PROPERTY_ prefix.
            params = {
                **where,
                "ELEMENT_ID": ref["element_id"],
                "FIELD_ID": field_id.removeprefix("PROPERTY_"),
            }
            found = await files.call("lists.element.get.file.url", params)
            links[key] = [str(link) for link in found] if isinstance(found, list) else []
        out.append((ref, links[key]))
    return out


def _file_id_of(link: str) -> str:
    """The file id of a File property's link, its last path segment (``…/PROPERTY_<id>/<file id>/``)."""
    return urlsplit(link).path.rstrip("/").rsplit("/", 1)[-1]


async def _download(files: FileDownloads, ref: Mapping[str, Any], links: list[str]) -> Attachment:
    link = next((link for link in links if _file_id_of(link) == str(ref["file_id"])), None)
    if link is None:
        raise AttachmentMissing(f"file {ref['file_id']} is no longer in field {ref['field']!r}")
    got = await files.download(link, fallback_name=f"{ref['field']}-{ref['file_id']}")
    mime = got.mime or mimetypes.guess_type(got.name)[0] or "application/octet-stream"
    log.info("attachment.downloaded", field=ref["field"], file_id=ref["file_id"], size=len(got.content))
    return Attachment(got.name, mime, got.content)


def _classified(error: Bitrix24ApiError) -> ProcessError:
    detail = f"{error.method}: {error.code}"
    if error.code == "FILE_TOO_LARGE":
        return AttachmentTooLarge(error.operator_message, internal=detail)
    if error.code in _GONE:
        return AttachmentMissing(error.operator_message, internal=detail)
    if error.transient:
        return AttachmentUnavailable(error.operator_message, internal=detail)
    return AttachmentRefused(error.operator_message, internal=detail)
