"""The install plan (processes/install.py) is a pure diff: nothing for a portal that matches, only the
difference for one that drifted, and uninstall touches only what the bridge owns."""

from __future__ import annotations

from dataclasses import replace

from processes import install
from processes.catalog import default_catalog, parse_catalog
from processes.portal_setup import FIELD_TYPES

CLIENT = "local.app"
PUBLIC = "https://bridge.example.com"
WANT = install.desired(default_catalog(), CLIENT, PUBLIC)


def _field_state(spec: install.FieldSpec, n: int) -> install.FieldState:
    return install.FieldState(
        f"PROPERTY_{n}",
        spec.code,
        spec.name,
        FIELD_TYPES[spec.kind],
        spec.required,
        spec.multiple,
        spec.sort,
        frozenset(label for _v, label in spec.options),
    )


def matching(want: install.Desired = WANT) -> install.PortalState:
    """The state a portal has once ``want`` is installed."""
    lists = {
        spec.code: install.ListState(
            i + 1,
            spec.code,
            spec.name,
            {f.code: _field_state(f, 100 * i + j) for j, f in enumerate(spec.fields)},
            spec.description,
        )
        for i, spec in enumerate(want.lists)
    }
    templates = tuple(
        install.TemplateState(10 + i, lists[t.list_code].id, t.name, t.description)
        for i, t in enumerate(want.templates)
    )
    return install.PortalState(
        lists=lists,
        activities=frozenset(a.code for a in want.activities),
        templates=templates,
        bindings=frozenset(want.bindings),
        placements=frozenset(want.placements),
    )


def empty() -> install.PortalState:
    return install.PortalState({}, frozenset(), (), frozenset(), frozenset())


def test_an_empty_portal_gets_everything_in_phase_order() -> None:
    ops = install.plan_install(WANT, empty(), FIELD_TYPES)
    assert sum(isinstance(op, install.AddList) for op in ops) == len(WANT.lists) == 11
    assert sum(isinstance(op, install.AddTemplate) and op.list_id is None for op in ops) == 11
    assert [install.phase(op) for op in ops] == sorted(install.phase(op) for op in ops)
    assert all(b.handler == PUBLIC + "/bitrix24/events" for b in WANT.bindings if not b.offline)
    assert {p.handler for p in WANT.placements} == {PUBLIC + "/portal/placement"}
    assert all(a.params["HANDLER"] == PUBLIC + "/bitrix24/activity" for a in WANT.activities)
    assert all(t.description.endswith("]") and install.MARK in t.description for t in WANT.templates)


def test_a_matching_portal_needs_nothing() -> None:
    assert install.plan_install(WANT, matching(), FIELD_TYPES) == []


def test_drift_gives_only_the_difference() -> None:
    have = matching()
    leave = have.lists["eb_leave"]
    renamed = replace(leave.fields["DATE_FROM"], name="Начало", sort=1)
    retyped = replace(leave.fields["COMMENT"], type="N")
    fields = {**leave.fields, "DATE_FROM": renamed, "COMMENT": retyped}
    fields.pop("EB_STATUS")
    lists = {**have.lists, "eb_leave": replace(leave, fields=fields, name="Отпуск")}
    templates = tuple(
        replace(t, description=t.description.replace(install.MARK, install.MARK + "0"))
        if t.list_id == leave.id
        else t
        for t in have.templates
    )
    drifted = replace(
        have, lists=lists, templates=templates, activities=have.activities - {"eb_submit_to_1c"}
    )
    ops = install.plan_install(WANT, drifted, FIELD_TYPES)
    kinds = sorted(type(op).__name__ for op in ops)
    assert kinds == [
        "AddActivity",
        "AddField",
        "FieldConflict",
        "UpdateField",
        "UpdateList",
        "UpdateTemplate",
    ]
    update = next(op for op in ops if isinstance(op, install.UpdateField))
    assert update.changed == ("name", "sort") and update.field_id == renamed.field_id
    assert install.describe(next(op for op in ops if isinstance(op, install.FieldConflict)))[0] == "conflict"


def test_a_new_catalog_entry_adds_only_its_own_list_and_template() -> None:
    catalog = default_catalog()
    data = catalog.model_dump(mode="json")
    data["processes"]["parking"] = {
        **data["processes"]["work_book"],
        "code": "parking",
        "title": "Пропуск на парковку",
    }
    bigger = install.desired(parse_catalog(data), CLIENT, PUBLIC)
    ops = install.plan_install(bigger, matching(), FIELD_TYPES)
    assert {install.describe(op)[1].split(".")[0] for op in ops} == {"eb_parking"}
    assert sum(isinstance(op, install.AddTemplate) for op in ops) == 1


def test_uninstall_removes_only_what_the_bridge_owns() -> None:
    have = matching()
    theirs = install.ListState(99, "vacation_hr", "HR", {})
    foreign_template = install.TemplateState(500, 1, "Hand-made", "made in the designer")
    other_binding = install.BindingSpec("ONTASKADD", "https://elsewhere.example.com/", False)
    have = replace(
        have,
        lists={**have.lists, "vacation_hr": theirs},
        templates=(*have.templates, foreign_template),
        bindings=have.bindings | {other_binding},
    )
    ops = install.plan_uninstall(WANT, have)
    assert {op.code for op in ops if isinstance(op, install.DeleteList)} == {s.code for s in WANT.lists}
    assert 500 not in {op.id for op in ops if isinstance(op, install.DeleteTemplate)}
    assert other_binding not in {op.spec for op in ops if isinstance(op, install.Unbind)}
    assert all(install.phase(op) == 1 for op in ops if isinstance(op, install.DeleteTemplate))
    assert install.plan_uninstall(WANT, empty()) == []
