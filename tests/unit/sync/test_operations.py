"""Typed operations survive the ledger's JSON form, an unknown one is refused, and apply handles each."""

from __future__ import annotations

import json

import pytest

from core.ids import B24GroupId, B24UserId, PersonRef
from sync.apply import HANDLERS
from sync.operations import (
    KINDS,
    AddMembers,
    CreateGroup,
    CreateUser,
    RemoveMembers,
    UnknownOperation,
    UpdateGroup,
    UpdateUser,
    decode,
)

SAMPLES = [
    CreateGroup("organization", "org-1", "organization:org-1", {"NAME": "Org"}),
    UpdateGroup(
        "department", "d-1", "department:d-1", B24GroupId(7), {"NAME": "D"}, {"fields": {"NAME": "D"}}
    ),
    CreateUser(PersonRef("p-1"), {"EMAIL": "a@example.ru"}, ["organization:org-1"], "abc"),
    UpdateUser(PersonRef("p-1"), B24UserId(5), {"ACTIVE": "N"}, {"active": False}),
    AddMembers("department:d-1", "department:d-1", [PersonRef("p-1")]),
    RemoveMembers("department:d-1", "department:d-1", [PersonRef("p-1")], [B24UserId(5)]),
]


@pytest.mark.parametrize("operation", SAMPLES, ids=lambda o: o.op)
def test_an_operation_reads_back_from_its_stored_form(operation: object) -> None:
    op, kind, ref = operation.op, operation.kind, operation.ref  # type: ignore[attr-defined]
    stored = json.loads(json.dumps(operation.payload))  # type: ignore[attr-defined]
    assert decode(op, kind, ref, stored) == operation


def test_a_deactivation_stores_no_digest() -> None:
    assert "digest" not in UpdateUser(PersonRef("p"), B24UserId(1), {"ACTIVE": "N"}, {}).payload


def test_an_unknown_operation_is_refused_not_guessed() -> None:
    with pytest.raises(UnknownOperation):
        decode("delete_everything", "group", "x", {"group_key": "x", "person_refs": []})


def test_every_operation_has_exactly_one_handler() -> None:
    assert set(HANDLERS) == set(KINDS.values())
