"""A site's "today" is its own wall clock (``portal.sites[].timezone``, else ``schedule.timezone``): at 22:30
UTC it is already tomorrow morning in Vladivostok and just past midnight in Kaliningrad."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from config.settings import PortalSite
from portal.web import PortalSettings

LATE = datetime(2026, 3, 20, 22, 30, tzinfo=UTC)


def test_each_site_has_its_own_today_and_the_rest_the_providers() -> None:
    zones = {"east": "Asia/Vladivostok", "west": "Europe/Kaliningrad"}
    settings = PortalSettings("s" * 32, zones=zones, default_zone="Europe/Moscow")
    east, west, other = (settings.local(LATE, site) for site in ("east", "west", "unknown"))
    assert (east.date(), east.hour) == (date(2026, 3, 21), 8)
    assert (west.date(), west.hour) == (date(2026, 3, 21), 0)
    assert (other.date(), other.hour) == (date(2026, 3, 21), 1)  # Moscow, UTC+3
    assert settings.local(LATE) == other and east == LATE  # the same moment, another wall clock


def test_an_unknown_site_time_zone_is_refused_with_its_name() -> None:
    assert PortalSite(site="s", client="c", timezone="Asia/Vladivostok").timezone == "Asia/Vladivostok"
    with pytest.raises(ValidationError, match="unknown time zone 'Moscow/Center'"):
        PortalSite(site="s", client="c", timezone="Moscow/Center")
