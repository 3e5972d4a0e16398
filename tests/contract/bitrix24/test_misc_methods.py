"""im.notify.*, disk.*, timeman.*, calendar.event.*, placement.* over HTTP (bitrix24-rest.md §9–§10)."""

from __future__ import annotations

import base64

import httpx

from sandbox.bitrix24.methods import disk, im
from sandbox.bitrix24.testing import T0, Rest, RunningSandbox

from .procs_helpers import add_user, install_app


def _err(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"], body["error_description"]


# -- im -----------------------------------------------------------------------------------------------
def test_notifications(b24: RunningSandbox, rest: Rest, http: httpx.Client) -> None:
    uid, hook = add_user(b24.knobs, http, "Reader")
    first = rest.ok(
        "im.notify.system.add",
        {"USER_ID": uid, "MESSAGE": "  Leave approved  ", "TAG": "leave-1", "CLIENT_ID": "middleware-1c"},
    )
    assert isinstance(first, int)
    second = rest.ok(
        "im.notify.system.add",
        {"USER_ID": uid, "MESSAGE": "Leave booked in 1C", "TAG": "leave-1", "CLIENT_ID": "middleware-1c"},
    )
    personal = hook.ok("im.notify.personal.add", {"USER_ID": 1, "MESSAGE": "Thanks"})
    notes = im.notifications(b24.sandbox.portal, uid)
    # §10.1: MESSAGE is trimmed; a new notification with the same TAG removes the older ones.
    assert [(n["id"], n["message"], n["kind"]) for n in notes] == [(second, "Leave booked in 1C", "system")]
    mine = im.notifications(b24.sandbox.portal, 1)
    assert [(n["id"], n["kind"], n["from_user_id"]) for n in mine] == [(personal, "personal", uid)]
    assert _err(rest("im.notify.system.add", {"MESSAGE": "x"}))[1:] == (
        "USER_ID_EMPTY",
        "User ID can't be empty",
    )
    assert _err(rest("im.notify.system.add", {"USER_ID": uid, "MESSAGE": "   "}))[1] == "MESSAGE_EMPTY"
    big = rest(
        "im.notify.system.add", {"USER_ID": uid, "MESSAGE": "x", "ATTACH": [{"MESSAGE": "y" * 60_001}]}
    )
    assert _err(big)[1] == "ATTACH_OVERSIZE"
    assert _err(rest("im.notify.system.add", {"USER_ID": uid, "MESSAGE": "x", "ATTACH": "{not json"}))[1] == (
        "ATTACH_ERROR"
    )
    assert rest.ok("im.notify.system.add", {"USER_ID": 424242, "MESSAGE": "nobody"}) is False


# -- disk ---------------------------------------------------------------------------------------------
def test_disk_storages_folders_and_upload(b24: RunningSandbox, rest: Rest, http: httpx.Client) -> None:
    uid, hook = add_user(b24.knobs, http, "Owner")
    mine = hook.ok("disk.storage.getlist", {"filter": {"ENTITY_TYPE": "user"}})
    assert [(s["ENTITY_TYPE"], s["ENTITY_ID"]) for s in mine] == [("user", str(uid))]  # only their own
    storage = mine[0]
    assert rest.ok("disk.storage.get", {"id": storage["ID"]}) == storage
    assert rest.ok("disk.storage.get", {"id": "abc"}) is None
    assert _err(rest("disk.storage.get", {"id": 999999}))[1:] == (
        "ERROR_NOT_FOUND",
        "Could not find entity with id `999999`",
    )
    assert _err(rest("disk.storage.get", {}))[1] == "ERROR_ARGUMENT"
    root = storage["ROOT_OBJECT_ID"]
    folder = hook.ok("disk.folder.addsubfolder", {"id": root, "data": {"NAME": "Payslips"}})
    assert (folder["TYPE"], folder["PARENT_ID"], folder["STORAGE_ID"]) == ("folder", root, storage["ID"])
    assert (
        _err(hook("disk.folder.addsubfolder", {"id": root, "data": {"NAME": "Payslips"}}))[1]
        == "DISK_OBJ_22000"
    )
    assert _err(hook("disk.folder.addsubfolder", {"id": root, "data": {}}))[1] == "ERROR_ARGUMENT"
    pdf = b"%PDF-1.4 payslip"
    body = {
        "id": folder["ID"],
        "data": {"NAME": "payslip-2025-01.pdf"},
        "fileContent": ["payslip-2025-01.pdf", base64.b64encode(pdf).decode()],
        "generateUniqueName": True,
    }
    uploaded = hook.ok("disk.folder.uploadfile", body)
    assert (uploaded["TYPE"], uploaded["SIZE"], uploaded["PARENT_ID"]) == (
        "file",
        str(len(pdf)),
        str(folder["ID"]),
    )
    assert isinstance(uploaded["ID"], int) and isinstance(uploaded["FILE_ID"], int)
    assert disk.read_file(b24.sandbox.portal, uploaded["ID"]) == ("payslip-2025-01.pdf", pdf)
    renamed = hook.ok("disk.folder.uploadfile", body)
    assert renamed["NAME"] == "payslip-2025-01 (1).pdf"  # generateUniqueName
    clash = hook("disk.folder.uploadfile", {**body, "generateUniqueName": False})
    assert _err(clash)[1] == "DISK_OBJ_22000"
    no_name = hook("disk.folder.uploadfile", {**body, "data": {}})
    assert _err(no_name)[1] == "DISK_BASE_SERVICE_22001"
    two_step = hook.ok("disk.folder.uploadfile", {"id": folder["ID"], "data": {"NAME": "x.pdf"}})
    assert two_step["field"] == "file" and "uploadUrl" in two_step  # §10.2 / §11.20: JSON key uploadUrl
    names = [c["NAME"] for c in hook.ok("disk.folder.getchildren", {"id": folder["ID"]})]
    assert names == ["payslip-2025-01.pdf", "payslip-2025-01 (1).pdf"]
    assert _err(hook("disk.folder.getchildren", {"id": 1}))[1] == "ERROR_NOT_FOUND"
    batch = rest.ok(
        "batch",
        {
            "cmd": {
                "up": f"disk.folder.uploadfile?id={folder['ID']}&data[NAME]=b.pdf"
                "&fileContent[0]=b.pdf&fileContent[1]=JVBERg=="
            }
        },
    )
    assert batch["result_error"]["up"]["error"] == "ERROR_BATCH_METHOD_NOT_ALLOWED"


def test_disk_getforapp_needs_the_app(b24: RunningSandbox, rest: Rest, http: httpx.Client) -> None:
    assert _err(rest("disk.storage.getforapp"))[:2] == (403, "ACCESS_DENIED")
    app = install_app(b24, http, "http://127.0.0.1:9/install")
    first = app.ok("disk.storage.getforapp")
    assert first["ENTITY_TYPE"] == "restapp" and app.ok("disk.storage.getforapp") == first


# -- timeman ------------------------------------------------------------------------------------------
def test_workday_cycle_on_the_portal_clock(b24: RunningSandbox, rest: Rest, http: httpx.Client) -> None:
    b24.knobs.clock(set=T0 + 8 * 3600)  # 2026-01-01 08:00 UTC
    uid, hook = add_user(b24.knobs, http, "Shift")
    fresh = hook.ok("timeman.status")
    assert (fresh["STATUS"], fresh["TIME_START"], fresh["TIME_FINISH"]) == ("CLOSED", None, None)
    opened = hook.ok("timeman.open", {"LAT": 53.5, "LON": 9.9})
    assert (opened["STATUS"], opened["TIME_START"], opened["DURATION"]) == (
        "OPENED",
        "2026-01-01T08:00:00+00:00",
        "00:00:00",
    )
    b24.knobs.advance(3600)
    assert hook.ok("timeman.pause")["STATUS"] == "PAUSED"
    b24.knobs.advance(1800)
    assert hook.ok("timeman.open")["STATUS"] == "OPENED"
    b24.knobs.advance(3600)
    closed = hook.ok("timeman.close")
    assert (closed["STATUS"], closed["TIME_LEAKS"], closed["DURATION"]) == ("CLOSED", "00:30:00", "02:00:00")
    assert closed["TIME_FINISH"] == "2026-01-01T10:30:00+00:00"
    # An admin may read someone's day; a plain user may not read the admin's.
    assert rest.ok("timeman.status", {"USER_ID": uid})["STATUS"] == "CLOSED"
    assert _err(hook("timeman.status", {"USER_ID": 1}))[:2] == (403, "ACCESS_DENIED")
    assert _err(rest("timeman.status", {"USER_ID": 424242})) == (400, "", "User not found")


def test_workday_time_rules_and_expiry(b24: RunningSandbox, http: httpx.Client) -> None:
    b24.knobs.clock(set=T0 + 8 * 3600)
    _, hook = add_user(b24.knobs, http, "Late")
    yesterday = hook("timeman.open", {"TIME": "2025-12-31T09:00:00+00:00", "REPORT": "forgot"})
    assert _err(yesterday)[1:] == ("WRONG_DATETIME", "Day open date should correspond to the current date")
    assert _err(hook("timeman.open", {"TIME": "2026-01-01T07:00:00+00:00"}))[1] == "REPORT"
    opened = hook.ok("timeman.open", {"TIME": "2026-01-01T07:00:00+00:00", "REPORT": "came early"})
    assert opened["ACTIVE"] is False  # a changed time waits for the manager (timeman-open.md ACTIVE)
    hook.ok("timeman.pause")
    assert _err(hook("timeman.open", {"TIME": "2026-01-01T07:30:00+00:00", "REPORT": "x"}))[1] == "TIME"
    b24.knobs.advance(86400)
    expired = hook.ok("timeman.status")
    assert expired["STATUS"] == "EXPIRED" and "TIME_FINISH_DEFAULT" in expired
    wrong_day = hook("timeman.close", {"TIME": "2026-01-02T08:00:00+00:00", "REPORT": "late"})
    assert _err(wrong_day)[1:] == ("WRONG_DATETIME", "Day close date should correspond to the day open date")


# -- calendar -----------------------------------------------------------------------------------------
def test_calendar_absence(b24: RunningSandbox, rest: Rest, http: httpx.Client) -> None:
    uid, hook = add_user(b24.knobs, http, "Away")
    body = {
        "type": "user",
        "ownerId": uid,
        "name": "Vacation (1C)",
        "from": "2026-01-10",
        "to": "2026-01-20",
        "skip_time": "Y",
        "accessibility": "absent",
    }
    for missing in ("type", "ownerId", "name", "from", "to"):
        response = hook("calendar.event.add", {k: v for k, v in body.items() if k != missing})
        assert _err(response) == (
            400,
            "",
            f'The required parameter "{missing}" for the method "calendar.event.add" is not set',
        )
    assert _err(hook("calendar.event.add", {**body, "ownerId": 1}))[2] == "Access denied"
    assert _err(hook("calendar.event.add", {**body, "section": 999}))[2].startswith(
        "You specified an invalid"
    )
    event_id = hook.ok("calendar.event.add", body)
    assert isinstance(event_id, int)
    admin_made = rest.ok(
        "calendar.event.add", {**body, "name": "Sick leave", "from": "2026-01-25", "to": "2026-01-26"}
    )
    rows = hook.ok(
        "calendar.event.get", {"type": "user", "ownerId": uid, "from": "2026-01-01", "to": "2026-01-31"}
    )
    assert [(r["ID"], r["NAME"], r["DATE_FROM"], r["ACCESSIBILITY"]) for r in rows] == [
        (str(event_id), "Vacation (1C)", "01/10/2026", "absent"),
        (str(admin_made), "Sick leave", "01/25/2026", "absent"),
    ]
    assert hook.ok("calendar.event.get", {"type": "user", "ownerId": uid, "from": "2026-02-01"}) == []
    assert _err(hook("calendar.event.get", {"ownerId": uid}))[2] == (
        'Required parameter "type" is not specified for method "calendar.event.get"'
    )


def test_calendar_update_and_delete(b24: RunningSandbox, rest: Rest, http: httpx.Client) -> None:
    """calendar-event-update.md / calendar-event-delete.md: required parameters, the documented errors
    (empty code), the dates moved, and a deleted event gone (deleting it again is the documented error)."""
    uid, hook = add_user(b24.knobs, http, "Mover")
    other, _ = add_user(b24.knobs, http, "Other")
    body = {"type": "user", "ownerId": uid, "name": "Leave", "from": "2026-03-10", "to": "2026-03-12",
            "skip_time": "Y", "accessibility": "absent", "description": "annual"}  # fmt: skip
    event_id = hook.ok("calendar.event.add", body)
    move = {"id": event_id, "type": "user", "ownerId": uid, "from": "2026-04-01", "to": "2026-04-05"}
    for missing in ("id", "type", "ownerId"):
        assert _err(hook("calendar.event.update", {k: v for k, v in move.items() if k != missing})) == (
            400,
            "",
            f'The required parameter "{missing}" for the method "calendar.event.update" is not set.',
        )
    assert _err(hook("calendar.event.update", {**move, "ownerId": other}))[2] == "Access denied."
    assert _err(hook("calendar.event.update", {**move, "id": 999999}))[2] == (
        "An error occurred while changing the event."
    )
    assert hook.ok("calendar.event.update", {**move, "skip_time": "Y"}) == event_id
    window = {"type": "user", "ownerId": uid, "from": "2026-01-01", "to": "2026-12-31"}
    [row] = hook.ok("calendar.event.get", window)
    assert (row["ID"], row["DATE_FROM"], row["DATE_TO"], row["NAME"], row["DESCRIPTION"]) == (
        str(event_id), "04/01/2026", "04/05/2026", "Leave", "annual",
    )  # fmt: skip
    assert _err(hook("calendar.event.delete", {})) == (400, "", "Event id not specified")
    assert hook.ok("calendar.event.delete", {"id": event_id}) is True
    assert hook.ok("calendar.event.get", window) == []
    assert _err(hook("calendar.event.delete", {"id": event_id})) == (
        400,
        "",
        "An error occurred while deleting the event",
    )
    assert rest.ok("calendar.event.delete", {"id": rest.ok("calendar.event.add", body)}) is True  # admin


# -- placement ----------------------------------------------------------------------------------------
def test_placements_are_app_only(b24: RunningSandbox, rest: Rest, http: httpx.Client) -> None:
    refused = rest("placement.bind", {"PLACEMENT": "LEFT_MENU", "HANDLER": "https://x.example.com/p"})
    assert _err(refused)[:2] == (403, "WRONG_AUTH_TYPE")
    app = install_app(b24, http, "http://127.0.0.1:9/install")
    empty = app("placement.bind", {"HANDLER": "https://x.example.com/p"})
    assert empty.status_code == 200 and empty.json() == {
        "error": "ERROR_ARGUMENT",
        "error_description": "Argument 'PLACEMENT' is null or empty",
        "argument": "PLACEMENT",
    }  # §9.2 / §11.21: some errors come with HTTP 200
    user_mode = app(
        "placement.bind", {"PLACEMENT": "LEFT_MENU", "HANDLER": "https://x.example.com/p", "USER_ID": 1}
    )
    assert (user_mode.status_code, user_mode.json()["error"]) == (200, "ERROR_PLACEMENT_USER_MODE")
    for code in ("NO_SUCH_PLACE", "CRM_DEAL_DETAIL_TAB"):  # the sandbox app has no crm scope
        missing = app("placement.bind", {"PLACEMENT": code, "HANDLER": "https://x.example.com/p"})
        assert _err(missing)[:2] == (400, "ERROR_PLACEMENT_NOT_FOUND")
    profile = {
        "PLACEMENT": "USER_PROFILE_TOOLBAR",
        "HANDLER": "https://x.example.com/profile",
        "TITLE": "1C payroll data",
        "LANG_ALL": {"en": {"TITLE": "1C payroll data"}},
    }
    assert app.ok("placement.bind", profile) is True
    assert (
        app.ok("placement.bind", {"PLACEMENT": "LEFT_MENU", "HANDLER": "https://x.example.com/menu"}) is True
    )
    got = app.ok("placement.get")
    assert [(g["placement"], g["handler"], g["title"]) for g in got] == [
        ("USER_PROFILE_TOOLBAR", "https://x.example.com/profile", "1C payroll data"),
        ("LEFT_MENU", "https://x.example.com/menu", ""),
    ]
    assert "USER_PROFILE_TOOLBAR" in app.ok("placement.list") and "LEFT_MENU" in app.ok("placement.list")
    assert _err(app("placement.unbind", {}))[:2] == (400, "ERROR_ARGUMENT")
    assert app.ok("placement.unbind", {"PLACEMENT": "USER_PROFILE_TOOLBAR"}) == {"count": 2}
    assert [g["placement"] for g in app.ok("placement.get")] == ["LEFT_MENU"]
    _, hook = add_user(b24.knobs, http, "NoAdmin")
    assert hook("placement.get").json()["error"] == "WRONG_AUTH_TYPE"
