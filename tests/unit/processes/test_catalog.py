"""The shipped catalog loads, covers the launch processes, and rejects what it must."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from processes.catalog import CATALOG_FILE, CatalogError, load_catalog, parse_catalog

LAUNCH = {
    "leave",
    "leave_change",
    "vacation_wish",
    "sick_notice",
    "certificate",
    "business_trip",
    "advance",
    "bank_details",
    "child_tax_deduction",
    "work_book",
    "dismissal",
}


def _raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(CATALOG_FILE.read_text(encoding="utf-8"))
    return data


def test_shipped_catalog_has_every_launch_process() -> None:
    catalog = load_catalog()
    assert set(catalog.processes) == LAUNCH
    leave = catalog.entry("leave")
    assert leave.code == "leave"
    assert [s.approver for s in leave.approvals] == ["client_approver", "provider_manager"]
    assert leave.approvals[0].alternate == "alternate_approver"
    assert leave.onec.kind == "Leave"


def test_kind_follows_a_select_field() -> None:
    catalog = load_catalog()
    certificate = catalog.entry("certificate").onec
    assert certificate.kind_for({"certificate_kind": "income_2ndfl"}) == "IncomeCertificate"
    assert certificate.kind_for({"certificate_kind": "employment"}) == "Certificate"
    assert catalog.entry("leave_change").onec.kind_for({"action": "cancel"}) == "LeaveCancel"


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda p: p["leave"].update(colour="red"), "colour"),
        (lambda p: p["leave"]["onec"].update(kind="Holiday"), "unknown 1C request kind"),
        (lambda p: p["leave"]["checks"][0].update(end="nowhere"), "unknown field 'nowhere'"),
        (lambda p: p["leave"]["approvals"][0].update(remind_after_hours=99), "remind_after_hours"),
        (lambda p: p["leave"]["messages"].pop("rejected"), "rejected"),
        (lambda p: p["leave"]["fields"][0].update(options={}), "options"),
        (lambda p: p["bank_details"]["onec"].update(attachments=["bik"]), "not a file field"),
    ],
)
def test_broken_entries_are_refused_with_the_place(edit: Any, needle: str) -> None:
    data = _raw()
    edit(data["processes"])
    with pytest.raises(CatalogError) as caught:
        parse_catalog(data, "catalog.yaml")
    assert needle in str(caught.value)
    assert str(caught.value).startswith("catalog.yaml: processes.")


def test_unreadable_or_broken_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read"):
        load_catalog(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: [1", encoding="utf-8")
    with pytest.raises(CatalogError, match="not valid YAML"):
        load_catalog(bad)
