"""The portal's added pages over HTTP, each opened through the Bitrix24 sandbox's placement knob: the
employee's cabinet (1C schedule from the 1C sandbox, regulations acknowledged once), the provider
manager's view, notification preferences, resumes in the site group's Drive (``disk.*`` of the sandbox),
who is working today (``timeman.status`` with the app's token joined with 1C's schedule) — and a manager
of site A reaching nothing of site B through any of them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from own_pages_world import NAMES, NOW, Pages, build_pages, publish_regulations

from config.wiring import Store
from portal.notifications import NotificationStore, build_digests, note_assignment_change
from processes.b24_sender import send_pending
from processes.catalog import default_catalog
from processes.engine import verify_chain
from processes.regulations import ack_id
from sandbox.bitrix24.testing import run_sandbox
from sandbox.onec.testing import RunningSandbox as OneCSandbox
from sandbox.onec.testing import onec_sandbox
from store.regulations import Regulations


@pytest.fixture
def onec_sb() -> Iterator[OneCSandbox]:
    with onec_sandbox(seed=7, employees=30, today=date(2026, 3, 20), frozen_clock=True) as sb:
        yield sb


@pytest.fixture
def pages(store: Store, onec_sb: OneCSandbox) -> Iterator[Pages]:
    with run_sandbox(rate=1000, burst=1000) as sb:
        yield build_pages(sb, onec_sb, store)


@pytest.fixture
def client(pages: Pages) -> Iterator[TestClient]:
    with TestClient(pages.app) as test_client:
        yield test_client
        assert test_client.portal is not None
        test_client.portal.call(pages.gateway.close)
        test_client.portal.call(pages.onec.close)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf(?:-token)?" (?:value|content)="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def test_the_employee_cabinet_shows_1c_data_requests_sheets_and_regulations(
    pages: Pages, client: TestClient
) -> None:
    publish_regulations(pages)
    pages.open_as(client, "employee")
    html = client.get("/portal/me").text
    assert "Иванов Пётр" in html and "ООО «Аутсорс»" in html and "Северный склад" in html and "14 дн." in html
    schedule = html.split('id="schedule"')[1].split("</table>")[0]
    assert schedule.count("<th>") == 14 and "20.03" in schedule and "1С сейчас не отвечает" not in html
    assert (
        'Заявление на отпуск <span class="state">на согласовании' in html
        and "sheet-A0" in html
        and "sheet-A1" not in html
        and "sheet-B0" not in html
    )
    assert "Правила охраны труда" in html and "Пропускной режим" not in html and "до 30.03.2026" in html

    first = client.post("/portal/me/regulations/doc-a/ack", data={"csrf": _csrf(html)})
    assert first.status_code == 200 and "ознакомлен 20.03.2026 10:00" in first.text
    pages.clock[0] = NOW + timedelta(hours=1)
    again = client.post("/portal/me/regulations/doc-a/ack", data={"csrf": _csrf(html)})
    assert again.status_code == 200 and "ознакомлен 20.03.2026 10:00" in again.text  # the first press counts
    assert client.post("/portal/me/regulations/doc-b/ack", data={"csrf": _csrf(html)}).status_code == 404
    assert client.post("/portal/me/regulations/doc-a/ack", data={"csrf": "forged"}).status_code == 403
    ack = ack_id("doc-a", pages.persons["A0"])
    with pages.store.sessions() as session:
        history = Regulations(session).history(ack)
    assert [(t.to_state, t.actor) for t in history] == [
        ("assigned", "bridge"), ("confirmed", f"portal:{pages.users['employee']}")
    ]  # fmt: skip
    assert history[-1].at == NOW and verify_chain(ack, history) is None

    pages.open_as(client, "approver_a")
    assert client.get("/portal/me").status_code == 403


def test_the_provider_manager_sees_sites_managers_invitations_and_summaries(
    pages: Pages, client: TestClient
) -> None:
    employee = pages.data.principals[pages.users["employee"]]
    record = pages.data.sheet("sheet-A0")
    assert record is not None
    pages.service.save_days(employee, "sheet-A0", record.sheet.days, submit=True)
    pages.service.approve(pages.data.principals[pages.users["approver_a"]], "sheet-A0")
    pages.service.approve(pages.data.principals[pages.users["provider"]], "sheet-A0")

    pages.open_as(client, "provider")
    html = client.get("/portal/provider").text
    assert "Северный склад" in html and "Южный терминал" in html
    assert "Анна Клиентова" in html and "согласует табели" in html and "отправлено" in html
    site = client.get("/portal/provider/sites/site-A").text
    foreman = site.split('id="by-foreman"')[1].split("</table>")[0]
    assert "Бригадир A" in foreman and str(record.sheet.total()) in foreman
    assert "Бригадир B" not in site
    for who in ("approver_a", "employee"):
        pages.open_as(client, who)
        assert client.get("/portal/provider").status_code == 403
        assert client.get("/portal/provider/sites/site-A").status_code == 403


def _resume_files(pages: Pages, site: str) -> list[dict[str, object]]:
    [storage] = pages.rest(
        "disk.storage.getlist", {"filter": {"ENTITY_TYPE": "group", "ENTITY_ID": str(pages.groups[site])}}
    )
    folders = pages.rest("disk.storage.getchildren", {"id": storage["ID"]})
    folder = next((f for f in folders if f["NAME"] == "Резюме"), None)
    return [] if folder is None else list(pages.rest("disk.folder.getchildren", {"id": folder["ID"]}))


def test_resumes_live_in_the_site_groups_drive_and_only_its_managers_see_them(
    pages: Pages, client: TestClient
) -> None:
    pages.open_as(client, "provider")
    html = client.get("/portal/sites/site-A/resumes").text
    assert "Иванов Пётр" in html and "resume-" not in html
    made = client.post("/portal/sites/site-A/resumes/generate", data={"csrf": _csrf(html)})
    assert made.status_code == 200 and f"resume-{pages.refs['A0']}.html" in made.text
    assert client.post("/portal/sites/site-A/resumes/generate", data={"csrf": _csrf(html)}).status_code == 200
    files = _resume_files(pages, "site-A")
    expected = sorted(f"resume-{pages.refs[k]}.html" for k in ("A0", "A1"))
    assert sorted(str(f["NAME"]) for f in files) == expected
    assert _resume_files(pages, "site-B") == []
    content = pages.sb.knobs.http.get(f"/_sandbox/disk/files/{files[0]['ID']}").json()
    assert content["name"].startswith("resume-")

    upload = f"/portal/sites/site-A/resumes/{pages.refs['A0']}"
    cv = {"file": ("cv.pdf", b"%PDF-1.4 resume", "application/pdf")}
    assert client.post(upload, data={"csrf": _csrf(html)}, files=cv).status_code == 200
    bad = client.post(upload, data={"csrf": _csrf(html)}, files={"file": ("cv.exe", b"MZ", "application/x")})
    assert bad.status_code == 400 and "PDF" in bad.text
    listed = client.get("/portal/sites/site-A/resumes").text
    assert f"resume-{pages.refs['A0']}.pdf" in listed and f"resume-{pages.refs['A0']}.html" not in listed
    assert client.post(upload, data={"csrf": _csrf(html)}, files=cv).status_code == 200  # a replacement
    listed = client.get("/portal/sites/site-A/resumes").text
    assert f"resume-{pages.refs['A0']} (1).pdf" in listed  # the newest upload wins

    pages.open_as(client, "approver_a")
    assert f"resume-{pages.refs['A1']}.html" in client.get("/portal/sites/site-A/resumes").text
    assert client.post("/portal/sites/site-A/resumes/generate", data={"csrf": _csrf(html)}).status_code == 403
    for who in ("approver_b", "employee"):
        pages.open_as(client, who)
        denied = client.get("/portal/sites/site-A/resumes")
        assert denied.status_code == 403 and "resume-" not in denied.text and "Смирнова" not in denied.text


def test_who_is_working_today_joins_time_tracking_with_the_1c_schedule(
    pages: Pages, client: TestClient
) -> None:
    at = datetime(2026, 3, 20, 9, 5, tzinfo=UTC).timestamp()
    pages.sb.knobs.freeze(at)
    pages.rest("timeman.open", {"USER_ID": int(pages.users["A0"])})
    pages.sb.knobs.freeze(at + 20 * 60)
    pages.rest("timeman.open", {"USER_ID": int(pages.users["A1"])})
    pages.rest("timeman.pause", {"USER_ID": int(pages.users["A1"])})
    pages.sb.knobs.freeze(NOW.timestamp())
    pages.open_as(client, "approver_a")
    html = client.get("/portal/sites/site-A/today").text
    rows = {name: html.split(name)[1].split("</tr>")[0] for name in (NAMES["A0"], NAMES["A1"])}
    assert "на работе" in rows[NAMES["A0"]] and "перерыв" in rows[NAMES["A1"]]
    assert "Васильев" not in html
    assert client.get("/portal/sites/site-B/today").status_code == 403
    pages.sb.knobs.faults(error_500=1.0)
    try:
        down = client.get("/portal/sites/site-A/today")
        assert down.status_code == 503 and "не отвечают" in down.text and "Traceback" not in down.text
        drive = client.get("/portal/sites/site-A/resumes")
        assert drive.status_code == 503 and "Диск Битрикс24 сейчас недоступен" in drive.text
    finally:
        pages.sb.knobs.faults(error_500=0.0)
    pages.open_as(client, "employee")
    assert client.get("/portal/sites/site-A/today").status_code == 403


def test_notification_preferences_are_per_user(pages: Pages, client: TestClient) -> None:
    with pages.store.sessions.begin() as session:
        store = NotificationStore(session)
        store.record(pages.users["approver_a"], "timesheet_submitted", "k-a", "Табель Иванов Пётр ждёт", NOW)
        store.record(
            pages.users["approver_b"], "timesheet_submitted", "k-b", "Табель Васильев Илья ждёт", NOW
        )
    pages.open_as(client, "approver_a")
    html = client.get("/portal/notifications").text
    assert "Иванов Пётр ждёт" in html and "Васильев" not in html
    form = {"csrf": _csrf(html), "timesheet_submitted__email": "on", "order_status__sms": "on"}
    assert client.post("/portal/notifications", data=form).status_code == 200
    with pages.store.sessions() as session:
        chosen = NotificationStore(session).preferences(pages.users["approver_a"])
        other = NotificationStore(session).preferences(pages.users["approver_b"])
    assert chosen[("timesheet_submitted", "email")] and chosen[("order_status", "sms")]
    assert not chosen[("timesheet_submitted", "bitrix24")] and other[("timesheet_submitted", "bitrix24")]
    assert client.post("/portal/notifications", data={"timesheet_submitted__sms": "on"}).status_code == 403


def test_a_manager_of_site_a_reaches_nothing_of_site_b_through_the_added_pages(
    pages: Pages, client: TestClient
) -> None:
    pages.open_as(client, "provider")
    html = client.get("/portal/sites/site-B/resumes").text
    client.post("/portal/sites/site-B/resumes/generate", data={"csrf": _csrf(html)})
    pages.open_as(client, "approver_a")
    csrf = _csrf(client.get("/portal/").text)
    for path in (
        "/portal/sites/site-B/resumes",
        "/portal/sites/site-B/today",
        "/portal/provider",
        "/portal/provider/sites/site-B",
        "/portal/me",
    ):
        response = client.get(path)
        assert response.status_code == 403, path
        assert (
            "Васильев" not in response.text
            and "Соколова" not in response.text
            and "resume-" not in response.text
        )
    for path in (
        "/portal/sites/site-B/resumes/generate",
        f"/portal/sites/site-B/resumes/{pages.refs['B0']}",
        "/portal/me/regulations/doc-b/ack",
    ):
        assert client.post(path, data={"csrf": csrf}).status_code == 403, path
    dashboard = client.get("/portal/").text
    assert "/sites/site-B/" not in dashboard and "/portal/sites/site-A/resumes" in dashboard


async def test_a_team_change_reaches_the_sites_managers_as_one_bitrix24_digest(pages: Pages) -> None:
    """The digest's ``im.notify`` row is delivered by the bridge's Bitrix24 sender to the sandbox."""
    team = [m for m in pages.data.members if m.site_ref == "site-A"]
    with pages.store.sessions.begin() as session:
        assert note_assignment_change(session, pages.data, "site-A", team, "v1", NOW) == 1
    report = build_digests(
        pages.store.sessions, lambda _s: pages.data, day=NOW.date(), now=NOW + timedelta(hours=14)
    )
    assert report.digests == 1 and report.queued == {"bitrix24": 1}
    try:
        sent = await send_pending(pages.store.sessions, pages.gateway, default_catalog())
        again = await send_pending(pages.store.sessions, pages.gateway, default_catalog())
    finally:
        await pages.gateway.close()
    assert sent.sent == {"im.notify": 1} and again.sent == {}
    told = pages.sb.knobs.http.get(
        "/_sandbox/im/notifications", params={"user_id": pages.users["approver_a"]}
    )
    [note] = told.json()["notifications"]
    assert "Команда на объекте «Северный склад» изменилась" in note["message"]
    assert NAMES["A0"] in note["message"] and NAMES["B0"] not in note["message"]
    others = pages.sb.knobs.http.get(
        "/_sandbox/im/notifications", params={"user_id": pages.users["approver_b"]}
    )
    assert others.json()["notifications"] == []
