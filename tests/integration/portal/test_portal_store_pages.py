"""What the added pages read from the state store (SQLite and PostgreSQL): the employee card from the 1C
replica, their requests from process_instances, client managers and invitations, contacts, the site's
Bitrix24 group."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from config.wiring import Store
from connectors.onec.port import (
    ContactPhone,
    DepartmentRef,
    Employee,
    EmploymentRef,
    Organization,
    OrgRef,
    Person,
    PersonRef,
    Placement,
    Position,
    PositionRef,
    Record,
)
from core.ids import B24UserId
from portal.models import PortalSite
from portal.store import SqlPortalData
from store.models import ClientManager, IdentityLink, Invitation, ProcessInstance, SourceRecord
from sync.source import to_json

NOW = datetime(2026, 3, 20, 9, tzinfo=UTC)


def _seed(store: Store) -> None:
    person = Person(
        PersonRef("p-1"), "Иванов", "Пётр", None, None, emails=("petr@example.test",),
        phones=(ContactPhone("Work", "+74950000000"), ContactPhone("Mobile", "+79161234567")),
    )  # fmt: skip
    employee = Employee(
        EmploymentRef("e-1"), "0042", PersonRef("p-1"), OrgRef("org-1"), None, False,
        Placement(OrgRef("org-1"), DepartmentRef("site-A"), PositionRef("pos-1"), "Main", date(2025, 2, 3),
                  None),
    )  # fmt: skip
    records: list[tuple[str, str, str | None, Record]] = [
        ("Person", "p-1", None, person),
        ("Employee", "e-1", "p-1", employee),
        ("Position", "pos-1", None, Position(PositionRef("pos-1"), "Кладовщик")),
        ("Organization", "org-1", None, Organization(OrgRef("org-1"), "ООО «Аутсорс»", "", None, None)),
    ]
    with store.sessions.begin() as session:
        session.add(PortalSite(site_ref="site-A", name="Северный склад", client="ООО Клиент", org_ref="org-1",
                               period_kind="month", settings={}))  # fmt: skip
        for entity, ref, parent, record in records:
            session.add(SourceRecord(entity=entity, ref=ref, parent_ref=parent, payload=to_json(record),
                                     content_hash=ref, updated_at=NOW))  # fmt: skip
        session.add(IdentityLink(kind="person", source_ref="p-1", b24_id=10, state={}, updated_at=NOW))
        session.add(IdentityLink(kind="department", source_ref="site-A", b24_id=77, state={}, updated_at=NOW))
        session.add(ClientManager(email="anna@example.test", name="Анна", site_ref="site-A",
                                  role="timesheet_approver", b24_user_id=20, created_at=NOW))  # fmt: skip
        session.add(ClientManager(email="old@example.test", name="Ушёл", site_ref="site-A", role="viewer",
                                  b24_user_id=21, created_at=NOW, removed_at=NOW))  # fmt: skip
        session.add(Invitation(person_ref="p-1", b24_user_id=10, channel="email", status="sent", sent_at=NOW))
        # r-1 is the person's request; r-2 another person's; a local act's acknowledgement is no request.
        for request_id, person_ref, kind in (
            ("r-1", "p-1", "leave"), ("r-2", "p-2", "leave"), ("lna:doc:p-1", "p-1", "regulation_ack")
        ):  # fmt: skip
            session.add(
                ProcessInstance(
                    request_id=request_id,
                    kind=kind,
                    person_ref=person_ref,
                    state="approving",
                    data={},
                    created_at=NOW,
                    updated_at=NOW,
                )
            )


def test_the_store_answers_the_added_pages(store: Store) -> None:
    _seed(store)
    with store.sessions() as session:
        data = SqlPortalData(session)
        card = data.employee_card("e-1", date(2026, 3, 20))
        assert card is not None
        assert (card.name, card.position, card.organisation, card.site_name, card.personnel_no) == (
            "Иванов Пётр", "Кладовщик", "ООО «Аутсорс»", "Северный склад", "0042"
        )  # fmt: skip
        assert card.hire_date == date(2025, 2, 3) and card.person_ref == "p-1" and card.org_ref == "org-1"
        assert card.leave_balance == Decimal("30.33")  # 13 full months × 28 / 12, no leave taken yet
        assert data.employee_card("e-404") is None
        assert [r.request_id for r in data.requests_of("e-1")] == ["r-1"]
        assert [(m.user_id, m.role) for m in data.managers("site-A")] == [(20, "timesheet_approver")]
        assert data.managers("site-B") == []
        assert [(i.person, i.channel, i.status) for i in data.invitations()] == [
            ("Иванов Пётр", "email", "sent")
        ]
        assert data.user_of_employee("e-1") == 10 and data.user_of_employee("e-404") is None
        petr = data.contact(B24UserId(10))
        assert (petr.email, petr.phone) == ("petr@example.test", "+79161234567")
        assert data.contact(B24UserId(20)).email == "anna@example.test"
        assert data.contact(B24UserId(99)).email is None
        assert data.group_of_site("site-A") == 77 and data.group_of_site("site-B") is None
