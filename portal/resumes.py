"""Resumes of a site's team in the site group's Drive, listed for that site's managers only.

Each employee's resume is one file ``resume-<employment ref>.<ext>`` in the folder «Резюме» of the
Bitrix24 group mirrored for the site (identity_map ``department`` → group). It is either generated from
the 1C data (``resume_document``: an HTML document from the employee card) or a file a provider manager
uploads. Calls, all with the application's token (bitrix24-rest.md §10.2; api-reference/disk/…):

- ``disk.storage.getlist`` with ``filter {ENTITY_TYPE: group, ENTITY_ID: <group id>}`` — the group's
  storage (disk-storage-get-list.md; ENTITY_ID is a string in disk-storage-get.md's answer);
- ``disk.storage.getchildren`` / ``disk.folder.addsubfolder`` — the «Резюме» folder, created once
  (a taken name answers ``DISK_OBJ_22000``: read it again);
- ``disk.folder.uploadfile`` with ``data {NAME}`` and ``fileContent [name, base64]`` (disk-folder-upload-
  file.md); a generated resume that exists already answers ``DISK_OBJ_22000`` and is kept (idempotent);
  an upload of a replacement uses ``generateUniqueName`` and the newest file (highest ``ID``) wins;
- ``disk.folder.getchildren`` pages of 50 (``start``) — the list.

The pages check the policy first (``view_resume`` on the site; uploads and generation need ``manage``):
a manager of another site gets 403 and never a file name. The files' links are Bitrix24's own
``DETAIL_URL``, which Bitrix24 opens only for members of the group.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import UploadFile

from connectors.bitrix24.errors import Bitrix24ApiError
from connectors.bitrix24.port import Bitrix24Port
from portal.access import require
from portal.data import EmployeeCard, NotFound, PortalData, TeamMember, permitted_site
from portal.pages import Invalid, Kit, Unavailable, ports

if TYPE_CHECKING:
    from portal.web import PortalSettings

log = logging.getLogger(__name__)
FOLDER = "Резюме"
PAGE = 50
MAX_BYTES = 5 * 1024 * 1024
EXTENSIONS = {"pdf", "doc", "docx", "odt", "rtf", "txt", "html"}
_NAME = re.compile(r"^resume-(?P<ref>[^.()\s]+)(?: \(\d+\))?\.(?P<ext>[a-z0-9]+)$")
_DOCUMENT = Environment(
    loader=FileSystemLoader(str(Path(__file__).with_name("templates"))), autoescape=select_autoescape()
)


@dataclass(frozen=True, slots=True)
class DriveFile:
    file_id: int
    employee_ref: str
    name: str
    url: str
    updated: str


def resume_document(card: EmployeeCard | None, member: TeamMember, generated: datetime) -> bytes:
    """The resume generated from 1C data: a small HTML document (opens in Bitrix24's viewer)."""
    template = _DOCUMENT.get_template("resume_document.html")
    return template.render(card=card, member=member, generated=generated).encode("utf-8")


class ResumeDrive:
    """The «Резюме» folder of one site group's Drive."""

    def __init__(self, bitrix24: Bitrix24Port) -> None:
        self.b24 = bitrix24

    async def folder(self, group_id: int) -> int:
        storages = await self.b24.call(
            "disk.storage.getlist", {"filter": {"ENTITY_TYPE": "group", "ENTITY_ID": str(group_id)}}
        )
        storage = next((s for s in storages or [] if str(s.get("ENTITY_ID")) == str(group_id)), None)
        if storage is None:
            raise Unavailable("У группы объекта нет Диска в Битрикс24")
        for attempt in range(2):
            children = await self.b24.call(
                "disk.storage.getchildren", {"id": storage["ID"], "filter": {"NAME": FOLDER}}
            )
            found = next(
                (c for c in children or [] if c.get("NAME") == FOLDER and c.get("TYPE") == "folder"), None
            )
            if found is not None:
                return int(found["ID"])
            if attempt:
                break
            try:
                created = await self.b24.call(
                    "disk.folder.addsubfolder", {"id": storage["ROOT_OBJECT_ID"], "data": {"NAME": FOLDER}}
                )
                return int(created["ID"])
            except Bitrix24ApiError as exc:
                if exc.code != "DISK_OBJ_22000":  # created meanwhile by another request: read it again
                    raise
        raise Unavailable("Не удалось открыть папку «Резюме» на Диске группы")

    async def files(self, folder_id: int) -> dict[str, DriveFile]:
        """Employment ref → its newest resume file."""
        newest: dict[str, DriveFile] = {}
        start = 0
        while True:
            page = await self.b24.call("disk.folder.getchildren", {"id": folder_id, "start": start}) or []
            for item in page:
                matched = _NAME.match(str(item.get("NAME") or ""))
                if item.get("TYPE") != "file" or matched is None:
                    continue
                found = DriveFile(
                    int(item["ID"]),
                    matched["ref"],
                    str(item["NAME"]),
                    str(item.get("DETAIL_URL") or ""),
                    str(item.get("UPDATE_TIME") or ""),
                )
                old = newest.get(found.employee_ref)
                if old is None or old.file_id < found.file_id:
                    newest[found.employee_ref] = found
            if len(page) < PAGE:
                return newest
            start += PAGE

    async def upload(
        self, folder_id: int, employee_ref: str, ext: str, content: bytes, *, replace: bool
    ) -> bool:
        """Put a resume in the folder; False when a generated one exists already (nothing written)."""
        name = f"resume-{employee_ref}.{ext}"
        params: dict[str, Any] = {
            "id": folder_id,
            "data": {"NAME": name},
            "fileContent": [name, base64.b64encode(content).decode()],
            "generateUniqueName": replace,
        }
        try:
            await self.b24.call("disk.folder.uploadfile", params)
        except Bitrix24ApiError as exc:
            if exc.code == "DISK_OBJ_22000" and not replace:
                return False
            raise
        return True


def resumes_router(data: PortalData, settings: PortalSettings, clock: Callable[[], datetime]) -> APIRouter:
    kit = Kit(data, settings)
    router = APIRouter()

    async def drive_folder(request: Request, site_ref: str) -> tuple[ResumeDrive, int]:
        bitrix24 = ports(request).bitrix24
        group = data.group_of_site(site_ref)
        if bitrix24 is None or group is None:
            raise Unavailable("Для объекта нет группы в Битрикс24: резюме негде хранить")
        drive = ResumeDrive(bitrix24)
        return drive, await drive.folder(group)

    def team_member(site_ref: str, employee_ref: str) -> TeamMember:
        member = next((m for m in data.team(site_ref) if m.employee_ref == employee_ref), None)
        if member is None:
            raise NotFound(employee_ref)
        return member

    @router.get("/sites/{site_ref}/resumes", response_class=HTMLResponse, name="resumes")
    @kit.guarded
    async def listing(request: Request, site_ref: str) -> Response:
        session, principal = kit.who(request)
        site = permitted_site(data, principal, "view_resume", site_ref)
        try:
            drive, folder = await drive_folder(request, site_ref)
            files = await drive.files(folder)
        except Bitrix24ApiError as exc:
            raise _unavailable(exc) from None
        return kit.page(
            request,
            "resumes.html",
            session,
            principal=principal,
            site=site,
            team=data.team(site_ref),
            files=files,
            can_manage=principal.kind == "provider_manager",
        )

    @router.post("/sites/{site_ref}/resumes/generate", name="resumes_generate")
    @kit.guarded
    async def generate(request: Request, site_ref: str) -> Response:
        session, principal = kit.who(request)
        require(principal, "manage", site_ref)
        await kit.form(request, session)
        try:
            drive, folder = await drive_folder(request, site_ref)
            have = await drive.files(folder)
            made = 0
            for member in data.team(site_ref):
                if member.employee_ref in have:
                    continue
                content = resume_document(data.employee_card(member.employee_ref), member, clock())
                made += await drive.upload(folder, member.employee_ref, "html", content, replace=False)
        except Bitrix24ApiError as exc:
            raise _unavailable(exc) from None
        log.info("portal.resumes.generated", extra={"site": site_ref, "count": made})
        return kit.back(str(request.url_for("resumes", site_ref=site_ref)), "generated")

    @router.post("/sites/{site_ref}/resumes/{employee_ref}", name="resume_upload")
    @kit.guarded
    async def upload(request: Request, site_ref: str, employee_ref: str) -> Response:
        session, principal = kit.who(request)
        require(principal, "manage", site_ref)
        form = await kit.form(request, session)
        team_member(site_ref, employee_ref)
        file = form.get("file")
        if not isinstance(file, UploadFile) or not file.filename:
            raise Invalid("Выберите файл резюме")
        ext = file.filename.rsplit(".", 1)[-1].lower() if "." in file.filename else ""
        if ext not in EXTENSIONS:
            raise Invalid("Резюме — файл PDF, DOC, DOCX, ODT, RTF, TXT или HTML")
        content = await file.read(MAX_BYTES + 1)
        if not content or len(content) > MAX_BYTES:
            raise Invalid("Файл резюме пустой или больше 5 МБ")
        try:
            drive, folder = await drive_folder(request, site_ref)
            await drive.upload(folder, employee_ref, ext, content, replace=True)
        except Bitrix24ApiError as exc:
            raise _unavailable(exc) from None
        return kit.back(str(request.url_for("resumes", site_ref=site_ref)), "uploaded")

    return router


def _unavailable(exc: Bitrix24ApiError) -> Unavailable:
    log.warning("portal.resumes.drive_failed", extra={"code": exc.code})
    return Unavailable("Диск Битрикс24 сейчас недоступен: повторите позже")
