"""The service serves the portal under /portal only with a session secret; a weak secret is refused."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from config.settings import Settings
from config.wiring import Bridge, Store
from portal.mount import rate_card
from webhooks.app import create_app
from webhooks.scheduler import JobScheduler
from webhooks.timesheet_jobs import schedule_timesheet_jobs

SECRET = "mount-test-secret-0123456789abcdefghij"
PORTAL = "https://company.bitrix24.ru"


def test_the_portal_is_served_only_with_a_session_secret(db_url: str, store: Store) -> None:
    plain = Settings(database={"url": db_url}, bitrix24={"portal_url": PORTAL})
    assert TestClient(create_app(plain, store)).get("/portal/register").status_code == 404
    served = Settings(
        database={"url": db_url},
        bitrix24={"portal_url": PORTAL},
        portal={"session_secret": SECRET},
    )
    with TestClient(create_app(served, store)) as client:
        page = client.get("/portal/register")
        assert page.status_code == 200 and "Доступ для представителя клиента" in page.text
        assert page.headers["Content-Security-Policy"] == f"frame-ancestors {PORTAL}"
        refused = client.post("/portal/placement", data={"AUTH_ID": ""})
        assert refused.status_code == 403 and "Откройте страницу из Битрикс24" in refused.text


def test_a_short_secret_is_a_configuration_error() -> None:
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(portal={"session_secret": "short"})


def test_rates_from_the_configuration() -> None:
    settings = Settings(
        portal={
            "sites": [
                {
                    "site": "site-A",
                    "client": "ООО «Клиент»",
                    "rates": [
                        {"rate": "500.00"},
                        {"time_kind": "РВ", "rate": "1000.00"},
                        {"position": "Водитель", "rate": "650.00"},
                    ],
                }
            ]
        }
    )
    card = rate_card(settings.portal)
    assert card.client_of_site == {"site-A": "ООО «Клиент»"}
    assert [str(card.rate("site-A", k, p)) for k, p in (("Я", ""), ("РВ", ""), ("Я", "Водитель"))] == [
        "500.00",
        "1000.00",
        "650.00",
    ]


async def test_the_timesheet_jobs_are_scheduled_with_the_portal_and_run(db_url: str, store: Store) -> None:
    bare = SimpleNamespace(settings=Settings(database={"url": db_url}), store=store, onec=None, b24=None)
    idle = JobScheduler(store.sessions, "instance-a")
    schedule_timesheet_jobs(idle, cast(Bridge, bare))
    assert not [name for name in idle.status() if name.startswith("timesheet_")]

    configured = Settings(database={"url": db_url}, portal={"session_secret": SECRET})
    bridge = SimpleNamespace(settings=configured, store=store, onec=None, b24=None, messaging=None)
    scheduler = JobScheduler(store.sessions, "instance-a")
    schedule_timesheet_jobs(scheduler, cast(Bridge, bridge))
    names = sorted(n for n in scheduler.status() if n.startswith("timesheet_"))
    assert names == ["timesheet_deadlines", "timesheet_prefill", "timesheet_submit"]
    ran = await scheduler.run_job("timesheet_deadlines")
    assert ran.outcome == "ok" and ran.counts == {"sites": 0, "remind": 0, "escalate": 0}
    assert "notification_digest" in scheduler.status()  # yesterday's notifications, once a day
    digest = await scheduler.run_job("notification_digest")
    assert digest.outcome == "ok" and digest.counts == {"digests": 0, "skipped": 0}
