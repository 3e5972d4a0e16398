"""Planning: adopt before create, e-mail ownership, quarantine parking, memberships, deactivation."""

from __future__ import annotations

from datetime import date

from mappings import DesiredState, load_mapping
from sync.diff import state_hash, user_state
from sync.map import map_groups, map_person
from sync.model import ExistingUser, Link, Operation, Plan
from sync.plan import AdoptionIndex, make_plan
from tests.unit.sync.cases import SITE_B, TODAY, company, employee, hire, person, transfer

MAPPING = load_mapping()


def state_for(*people: tuple[str, str | None]) -> DesiredState:
    data = company()
    for ref, email in people:
        data.add(person(ref, email=email))
        data.add(employee(f"e-{ref}", ref, hire(date(2025, 1, 10))))
    groups = map_groups(data, MAPPING, TODAY)
    users = {ref: map_person(data, MAPPING, ref, TODAY, groups) for ref, _ in people}
    return DesiredState(groups=groups, users={k: v for k, v in users.items() if v is not None})


def ops(plan: Plan, name: str) -> list[Operation]:
    return [o for o in plan.operations if o.op == name]


def test_fresh_portal_creates_groups_then_users_then_memberships() -> None:
    desired = state_for(("p1", "a@example.ru"), ("p2", "b@example.ru"))
    plan = make_plan(desired, desired.users, {})
    assert [o.op for o in plan.operations][:3] == ["create_group"] * 3
    assert {o.ref for o in ops(plan, "create_user")} == {"p1", "p2"}
    joins = {o.payload["group_key"]: o.payload["person_refs"] for o in ops(plan, "add_members")}
    assert joins == {"department:dep-a": ["p1", "p2"], "organization:org-1": ["p1", "p2"]}


def test_adopts_by_xml_id_then_by_email_never_creates_a_duplicate() -> None:
    desired = state_for(("p1", "a@example.ru"), ("p2", "b@example.ru"))
    index = AdoptionIndex(
        [
            ExistingUser(7, "p1", "old@example.ru", True),
            ExistingUser(9, None, "B@example.ru".lower(), False),
        ]
    )
    plan = make_plan(desired, desired.users, {}, index)
    adopted = {o.ref: o.payload for o in ops(plan, "adopt_user")}
    assert adopted["p1"]["user_id"] == 7
    assert adopted["p2"]["user_id"] == 9 and adopted["p2"]["fields"]["ACTIVE"] == "Y"
    assert ops(plan, "create_user") == []


def test_email_of_another_persons_bitrix_user_is_quarantined() -> None:
    desired = state_for(("p1", "a@example.ru"))
    index = AdoptionIndex([ExistingUser(7, "someone-else", "a@example.ru", True)])
    plan = make_plan(desired, desired.users, {}, index)
    assert [(q.ref, q.code) for q in plan.quarantined] == [("p1", "email_taken")]
    assert ops(plan, "create_user") == [] and ops(plan, "adopt_user") == []


def test_duplicate_email_in_1c_keeps_one_owner() -> None:
    desired = state_for(("p1", "same@example.ru"), ("p2", "same@example.ru"))
    plan = make_plan(desired, desired.users, {})
    assert [o.ref for o in ops(plan, "create_user")] == ["p1"]
    assert [(q.ref, q.code) for q in plan.quarantined] == [("p2", "duplicate_email")]


def test_quarantined_person_waits_until_its_data_change() -> None:
    desired = state_for(("p1", None))
    first = make_plan(desired, desired.users, {})
    parked = first.quarantined[0]
    assert parked.code == "no_email"
    again = make_plan(desired, desired.users, {}, quarantined={"p1": parked.content_hash})
    assert again.quarantined == [] and ops(again, "create_user") == []
    fixed = state_for(("p1", "new@example.ru"))
    retried = make_plan(fixed, fixed.users, {}, quarantined={"p1": parked.content_hash})
    assert [o.ref for o in ops(retried, "create_user")] == ["p1"]
    assert retried.cleared == [("person", "p1")]


def test_unchanged_person_plans_nothing_and_transfer_moves_membership() -> None:
    desired = state_for(("p1", "a@example.ru"))
    user = desired.users["p1"]
    links = {
        "person:p1": Link("person", "p1", 5, user_state(user)),
        **{
            key: Link(g.kind, g.source_ref, 10 + i, {"fields": g.fields})
            for i, (key, g) in enumerate(desired.groups.items())
        },
    }
    assert make_plan(desired, desired.users, links).operations == []
    assert state_hash(user_state(user))

    data = company()
    data.add(person("p1"))
    data.add(employee("e-p1", "p1", hire(date(2025, 1, 10)), transfer(TODAY, SITE_B)))
    groups = map_groups(data, MAPPING, TODAY)
    moved = DesiredState(groups=groups, users={"p1": map_person(data, MAPPING, "p1", TODAY, groups)})  # type: ignore[dict-item]
    plan = make_plan(moved, ["p1"], links)
    assert [(o.op, o.ref) for o in plan.operations if o.kind == "group"] == [
        ("add_members", "department:dep-b"),
        ("remove_members", "department:dep-a"),
    ]


def test_person_gone_from_1c_is_deactivated() -> None:
    desired = state_for()
    links = {"person:p9": Link("person", "p9", 42, {"fields": {}, "groups": [], "active": True})}
    plan = make_plan(desired, ["p9"], links)
    persons = [(o.op, o.payload["fields"]) for o in plan.operations if o.kind == "person"]
    assert persons == [("update_user", {"ACTIVE": "N"})]
