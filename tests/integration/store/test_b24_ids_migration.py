"""Bitrix24 ids become integer columns: the stored text is converted, a non-number stops the migration."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import inspect, text

from core.errors import StoreError
from store.db import current_revision
from tests.integration.migration_step import NOW, MigrationStep, Rows, before_migration


@pytest.fixture
def before(empty_db_url: str) -> Iterator[MigrationStep]:
    """A store at the revision before the migration, holding ids as Bitrix24 sends them (text)."""
    rows: Rows = [
        (
            "INSERT INTO identity_map (kind, source_ref, b24_id, state, updated_at) "
            "VALUES ('person', 'P-1', '17', '{}', :now), ('department', 'D-1', '5', '{}', :now), "
            "('person', 'P-2', NULL, '{}', :now)",
            {"now": NOW},
        ),
        (
            "INSERT INTO invitations (person_ref, b24_user_id, channel, status, sent_at) "
            "VALUES ('P-1', '17', 'bitrix24', 'sent', :now)",
            {"now": NOW},
        ),
        (
            "INSERT INTO client_managers (email, site_ref, role, b24_user_id, created_at) "
            "VALUES ('m@example.test', 'D-1', 'viewer', '23', :now)",
            {"now": NOW},
        ),
    ]
    with before_migration(empty_db_url, "_bitrix24_ids_integer.py", rows) as step:
        yield step


def test_text_ids_become_integers(before: MigrationStep) -> None:
    before.upgrade()
    with before.engine.connect() as connection:
        query = "SELECT source_ref, b24_id FROM identity_map ORDER BY source_ref"
        links = connection.execute(text(query)).all()
        invited = connection.execute(text("SELECT b24_user_id FROM invitations")).scalar_one()
        manager = connection.execute(text("SELECT b24_user_id FROM client_managers")).scalar_one()
    assert [tuple(row) for row in links] == [("D-1", 5), ("P-1", 17), ("P-2", None)]
    assert (invited, manager) == (17, 23)
    columns = {c["name"]: c for c in inspect(before.engine).get_columns("identity_map")}
    assert columns["b24_id"]["type"].python_type is int


def test_a_non_numeric_id_stops_the_migration_naming_its_row(before: MigrationStep) -> None:
    with before.engine.begin() as connection:
        connection.execute(text("UPDATE client_managers SET b24_user_id = 'abc'"))
        row_id = connection.execute(text("SELECT id FROM client_managers")).scalar_one()
    named = rf"client_managers\.b24_user_id \(row id {row_id}\).*run the upgrade"
    with pytest.raises(StoreError, match=named):
        before.upgrade()
    assert current_revision(before.engine) == before.previous
