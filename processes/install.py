"""Setting a portal up for the process catalog, as the mirror syncs: desired state → diff → operations.

``desired`` builds what the portal should hold from the catalog: one "processes in the feed" list per
entry (its fields and the status field), the bridge's REST activities, one workflow template per list (a
real ``.bpt``, processes/bpt.py), event bindings and placements. ``plan_install`` compares it with the
portal's actual state (read by processes/portal_setup.py) and returns the operations that are missing;
an unchanged portal gives none, so a second install changes nothing. ``plan_uninstall`` returns the
operations that remove what the bridge owns — and only that: lists whose code starts with ``eb_``,
templates on them that carry the bridge's fingerprint, the activities, bindings and placements the bridge
declares. Pure: no I/O; processes/portal_setup.py turns operations into REST calls.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from processes import activities, bpt
from processes.catalog import Catalog, FormField, ProcessEntry

PREFIX = "eb_"
"""Codes of what the bridge creates (lists, activities) start with this."""
MARK = "[eb "
"""Template descriptions end with ``[eb <fingerprint>]``: the bridge's, and which build they hold."""
EVENTS_PATH = "/bitrix24/events"
ACTIVITY_PATH = "/bitrix24/activity"
PORTAL_PATH = "/portal/"

# (event, offline): online events go to EVENTS_PATH; offline ones are the reliable feed drained with
# event.offline.get (bitrix24-rest.md §6.4), ONOFFLINEEVENT pings the bridge when the queue has records.
EVENTS: tuple[tuple[str, bool], ...] = (
    ("ONAPPUNINSTALL", False),
    ("ONUSERADD", False),
    ("ONOFFLINEEVENT", False),
    ("ONUSERADD", True),
)
# (placement, path under server.public_url, title) — bitrix24-rest.md §9.2.
# Both open the portal's entry, which verifies the placement call and starts the person's session
# (portal/web.py ``POST /portal/placement``), then shows that person their start page.
PLACEMENTS: tuple[tuple[str, str, str], ...] = (
    ("LEFT_MENU", PORTAL_PATH + "placement", "Кабинет"),
    ("USER_PROFILE_TOOLBAR", PORTAL_PATH + "placement", "Данные из 1С"),
)
BOOL_OPTIONS = (("Y", "Да"), ("N", "Нет"))


# -- what the portal should hold ---------------------------------------------------------------------
@dataclass(frozen=True)
class FieldSpec:
    code: str
    """The list property's CODE (``DATE_FROM``)."""
    name: str
    kind: str
    """The catalog's field type (``date``); setup.py maps it to the list field TYPE."""
    required: bool = False
    multiple: bool = False
    sort: int = 500
    options: tuple[tuple[str, str], ...] = ()
    """select: (value, label) pairs."""


@dataclass(frozen=True)
class ListSpec:
    code: str
    """IBLOCK_CODE: ``eb_<process>``."""
    name: str
    description: str
    fields: tuple[FieldSpec, ...]


@dataclass(frozen=True)
class TemplateSpec:
    list_code: str
    name: str
    description: str
    """Ends with ``[eb <fingerprint of the package>]``."""
    package: bytes = field(repr=False)


@dataclass(frozen=True)
class ActivitySpec:
    code: str
    params: Mapping[str, object] = field(repr=False, compare=False)
    """The ``bizproc.activity.add`` body."""


@dataclass(frozen=True)
class BindingSpec:
    event: str
    handler: str
    """'' for an offline binding."""
    offline: bool


@dataclass(frozen=True)
class PlacementSpec:
    placement: str
    handler: str
    title: str = field(compare=False)


@dataclass(frozen=True)
class Desired:
    lists: tuple[ListSpec, ...]
    activities: tuple[ActivitySpec, ...]
    templates: tuple[TemplateSpec, ...]
    bindings: tuple[BindingSpec, ...]
    placements: tuple[PlacementSpec, ...]


def list_code(entry: ProcessEntry) -> str:
    return PREFIX + entry.code


def _field(f: FormField, sort: int) -> FieldSpec:
    options = tuple(f.options.items()) if f.type == "select" else BOOL_OPTIONS if f.type == "bool" else ()
    # A field required only with another's value is checked by the bridge, not by the list.
    required = f.required and not f.required_when
    return FieldSpec(bpt.property_code(f.code), f.label, f.type, required, f.multiple, sort, options)


def _list(entry: ProcessEntry) -> ListSpec:
    fields = [_field(f, 100 + 10 * i) for i, f in enumerate(entry.fields)]
    fields.append(FieldSpec(bpt.STATUS_FIELD, "Статус", "string", sort=100 + 10 * len(fields)))
    return ListSpec(list_code(entry), entry.title, entry.description, tuple(fields))


def fingerprint(package: bytes) -> str:
    return hashlib.sha256(package).hexdigest()[:16]


def _template(entry: ProcessEntry, client_id: str) -> TemplateSpec:
    package = bpt.build(entry, client_id)
    text = (entry.description or entry.title).strip()
    return TemplateSpec(list_code(entry), entry.title, f"{text} {MARK}{fingerprint(package)}]", package)


def desired(catalog: Catalog, client_id: str, public_url: str) -> Desired:
    """What the portal should hold for this catalog, for the application ``client_id``."""
    base = public_url.rstrip("/")
    entries = list(catalog.processes.values())
    return Desired(
        lists=tuple(_list(e) for e in entries),
        activities=tuple(
            ActivitySpec(a.code, _activity_params(a, base + ACTIVITY_PATH)) for a in activities.ALL
        ),
        templates=tuple(_template(e, client_id) for e in entries),
        bindings=tuple(
            BindingSpec(event, "" if offline else base + EVENTS_PATH, offline) for event, offline in EVENTS
        ),
        placements=tuple(PlacementSpec(code, base + path, title) for code, path, title in PLACEMENTS),
    )


def _activity_params(spec: activities.RestActivity, handler: str) -> dict[str, object]:
    # One activity serves every list: no DOCUMENT_TYPE, the filter keeps it to lists (§5.11).
    # An empty RETURN_PROPERTIES cannot travel in a query string (a batch command): left out.
    params = spec.add_params(handler, [])
    params.pop("DOCUMENT_TYPE")
    return {key: value for key, value in params.items() if value != {}}


# -- what the portal holds (read by processes/portal_setup.py) --------------------------------------
@dataclass(frozen=True)
class FieldState:
    field_id: str
    code: str
    name: str
    type: str
    """The list field TYPE (``S:Date``)."""
    required: bool
    multiple: bool
    sort: int
    options: frozenset[str] = frozenset()
    """L: the labels of its values."""


@dataclass(frozen=True)
class ListState:
    id: int
    code: str
    name: str
    fields: Mapping[str, FieldState]
    """By CODE (custom properties only)."""
    description: str = ""


@dataclass(frozen=True)
class TemplateState:
    id: int
    list_id: int
    name: str
    description: str

    @property
    def ours(self) -> bool:
        return MARK in self.description


@dataclass(frozen=True)
class PortalState:
    lists: Mapping[str, ListState]
    """The ``bitrix_processes`` lists, by code."""
    activities: frozenset[str]
    templates: tuple[TemplateState, ...]
    bindings: frozenset[BindingSpec]
    """This application's event bindings (offline ones with handler '')."""
    placements: frozenset[PlacementSpec]


# -- operations --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AddList:
    spec: ListSpec


@dataclass(frozen=True)
class UpdateList:
    id: int
    spec: ListSpec


@dataclass(frozen=True)
class DeleteList:
    code: str
    id: int


@dataclass(frozen=True)
class AddField:
    list_code: str
    spec: FieldSpec


@dataclass(frozen=True)
class UpdateField:
    list_code: str
    field_id: str
    type: str
    """The field's TYPE on the portal (lists.field.update must repeat it)."""
    spec: FieldSpec
    changed: tuple[str, ...]


@dataclass(frozen=True)
class FieldConflict:
    """A property with the bridge's code but another type: Bitrix24 cannot change a field's type."""

    list_code: str
    code: str
    actual: str
    wanted: str


@dataclass(frozen=True)
class AddActivity:
    spec: ActivitySpec


@dataclass(frozen=True)
class DeleteActivity:
    code: str


@dataclass(frozen=True)
class AddTemplate:
    spec: TemplateSpec
    list_id: int | None
    """None while the list is still to be created (the next phase knows it)."""


@dataclass(frozen=True)
class UpdateTemplate:
    id: int
    spec: TemplateSpec


@dataclass(frozen=True)
class DeleteTemplate:
    id: int
    name: str


@dataclass(frozen=True)
class Bind:
    spec: BindingSpec


@dataclass(frozen=True)
class Unbind:
    spec: BindingSpec


@dataclass(frozen=True)
class BindPlacement:
    spec: PlacementSpec


@dataclass(frozen=True)
class UnbindPlacement:
    spec: PlacementSpec


Operation = (
    AddList
    | UpdateList
    | DeleteList
    | AddField
    | UpdateField
    | FieldConflict
    | AddActivity
    | DeleteActivity
    | AddTemplate
    | UpdateTemplate
    | DeleteTemplate
    | Bind
    | Unbind
    | BindPlacement
    | UnbindPlacement
)


def phase(op: Operation) -> int:
    """Install order: lists, activities, bindings, placements (1); fields (2); templates, which need the
    list's id and the activities (3). Uninstall: templates and registrations (1), then the lists (2)."""
    if isinstance(op, AddField | UpdateField | FieldConflict | DeleteList):
        return 2
    if isinstance(op, AddTemplate | UpdateTemplate):
        return 3
    return 1


def _field_changes(actual: FieldState, spec: FieldSpec) -> tuple[str, ...]:
    changed = []
    if actual.name != spec.name:
        changed.append("name")
    if actual.required != spec.required:
        changed.append("required")
    if actual.multiple != spec.multiple:
        changed.append("multiple")
    if actual.sort != spec.sort:
        changed.append("sort")
    if not {label for _value, label in spec.options} <= actual.options:
        changed.append("options")
    return tuple(changed)


def plan_install(want: Desired, have: PortalState, field_type: Mapping[str, str]) -> list[Operation]:
    """The operations that bring ``have`` to ``want``; nothing for a portal that already matches.

    ``field_type`` maps a catalog field type to the list field TYPE. Nothing is removed here (a list
    holds the employees' requests): what the catalog no longer has stays until ``uninstall``."""
    ops: list[Operation] = []
    for spec in want.lists:
        actual = have.lists.get(spec.code)
        if actual is None:
            ops.append(AddList(spec))
        elif (actual.name, actual.description) != (spec.name, spec.description):
            ops.append(UpdateList(actual.id, spec))
        for f in spec.fields:
            current = actual.fields.get(f.code) if actual else None
            wanted_type = field_type[f.kind]
            if current is None:
                ops.append(AddField(spec.code, f))
            elif current.type != wanted_type:
                ops.append(FieldConflict(spec.code, f.code, current.type, wanted_type))
            elif changed := _field_changes(current, f):
                ops.append(UpdateField(spec.code, current.field_id, current.type, f, changed))
    ops += [AddActivity(a) for a in want.activities if a.code not in have.activities]
    for t in want.templates:
        listed = have.lists.get(t.list_code)
        found = next(
            (x for x in have.templates if listed and x.list_id == listed.id and x.name == t.name and x.ours),
            None,
        )
        if found is None:
            ops.append(AddTemplate(t, listed.id if listed else None))
        elif found.description != t.description:
            ops.append(UpdateTemplate(found.id, t))
    ops += [Bind(b) for b in want.bindings if b not in have.bindings]
    ops += [BindPlacement(p) for p in want.placements if p not in have.placements]
    return sorted(ops, key=phase)


def plan_uninstall(want: Desired, have: PortalState) -> list[Operation]:
    """The operations that remove what the bridge added, leaving everything else on the portal."""
    mine = {code: state for code, state in have.lists.items() if code.startswith(PREFIX)}
    list_ids = {state.id for state in mine.values()}
    ops: list[Operation] = [
        DeleteTemplate(t.id, t.name) for t in have.templates if t.list_id in list_ids and t.ours
    ]
    ops += [DeleteActivity(a.code) for a in want.activities if a.code in have.activities]
    ops += [Unbind(b) for b in want.bindings if b in have.bindings]
    ops += [UnbindPlacement(p) for p in want.placements if p in have.placements]
    ops += [DeleteList(code, state.id) for code, state in sorted(mine.items())]
    return sorted(ops, key=phase)


def describe(op: Operation) -> tuple[str, str, str]:
    """(action, object, detail) for the dry-run table and JSON."""
    match op:
        case AddList(spec):
            return "add list", spec.code, spec.name
        case UpdateList(list_id, spec):
            return "update list", spec.code, f"id {list_id}: {spec.name}"
        case DeleteList(code, list_id):
            return "delete list", code, f"id {list_id} and its elements"
        case AddField(code, spec):
            return "add field", f"{code}.{spec.code}", f"{spec.name} ({spec.kind})"
        case UpdateField(code, field_id, _type, spec, changed):
            return "update field", f"{code}.{spec.code}", f"{field_id}: {', '.join(changed)}"
        case FieldConflict(code, field_code, actual, wanted):
            return "conflict", f"{code}.{field_code}", f"type {actual} on the portal, {wanted} wanted"
        case AddActivity(spec):
            return "add activity", spec.code, str(spec.params.get("HANDLER", ""))
        case DeleteActivity(code):
            return "delete activity", code, ""
        case AddTemplate(spec, list_id):
            return "add template", spec.list_code, f"{spec.name} (list {list_id or 'new'})"
        case UpdateTemplate(template_id, spec):
            return "update template", spec.list_code, f"id {template_id}: {spec.name}"
        case DeleteTemplate(template_id, name):
            return "delete template", str(template_id), name
        case Bind(spec) | Unbind(spec):
            kind = "offline" if spec.offline else spec.handler
            return ("bind event" if isinstance(op, Bind) else "unbind event"), spec.event, kind
        case BindPlacement(spec) | UnbindPlacement(spec):
            verb = "bind placement" if isinstance(op, BindPlacement) else "unbind placement"
            return verb, spec.placement, spec.handler
    raise TypeError(op)  # pragma: no cover
