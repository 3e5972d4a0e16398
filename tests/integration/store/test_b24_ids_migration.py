"""Bitrix24 ids become integer columns: the stored text is converted, a non-number stops the migration."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from core.errors import StoreError
from store.db import _alembic_config, current_revision, make_engine

NOW = datetime(2026, 12, 1, 12, 0)


def _revisions(engine: Engine) -> tuple[str, str]:
    """(this migration, the one before it), found by file name so a re-chained history still works."""
    scripts = ScriptDirectory.from_config(_alembic_config(engine))
    found = next(s for s in scripts.walk_revisions() if s.path.endswith("_bitrix24_ids_integer.py"))
    assert isinstance(found.down_revision, str)
    return found.revision, found.down_revision


@pytest.fixture
def before(empty_db_url: str) -> Iterator[Engine]:
    """A store at the revision before the migration, holding ids as Bitrix24 sends them (text)."""
    engine = make_engine(empty_db_url)
    _this, previous = _revisions(engine)
    command.upgrade(_alembic_config(engine), previous)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO identity_map (kind, source_ref, b24_id, state, updated_at) "
                "VALUES ('person', 'P-1', '17', '{}', :now), ('department', 'D-1', '5', '{}', :now), "
                "('person', 'P-2', NULL, '{}', :now)"
            ),
            {"now": NOW},
        )
        connection.execute(
            text(
                "INSERT INTO invitations (person_ref, b24_user_id, channel, status, sent_at) "
                "VALUES ('P-1', '17', 'bitrix24', 'sent', :now)"
            ),
            {"now": NOW},
        )
        connection.execute(
            text(
                "INSERT INTO client_managers (email, site_ref, role, b24_user_id, created_at) "
                "VALUES ('m@example.test', 'D-1', 'viewer', '23', :now)"
            ),
            {"now": NOW},
        )
    yield engine
    engine.dispose()


def test_text_ids_become_integers(before: Engine) -> None:
    this, _previous = _revisions(before)
    command.upgrade(_alembic_config(before), this)
    with before.connect() as connection:
        query = "SELECT source_ref, b24_id FROM identity_map ORDER BY source_ref"
        links = connection.execute(text(query)).all()
        invited = connection.execute(text("SELECT b24_user_id FROM invitations")).scalar_one()
        manager = connection.execute(text("SELECT b24_user_id FROM client_managers")).scalar_one()
    assert [tuple(row) for row in links] == [("D-1", 5), ("P-1", 17), ("P-2", None)]
    assert (invited, manager) == (17, 23)
    columns = {c["name"]: c for c in inspect(before).get_columns("identity_map")}
    assert columns["b24_id"]["type"].python_type is int


def test_a_non_numeric_id_stops_the_migration_naming_its_row(before: Engine) -> None:
    this, previous = _revisions(before)
    with before.begin() as connection:
        connection.execute(text("UPDATE client_managers SET b24_user_id = 'abc'"))
        row_id = connection.execute(text("SELECT id FROM client_managers")).scalar_one()
    named = rf"client_managers\.b24_user_id \(row id {row_id}\).*run the upgrade"
    with pytest.raises(StoreError, match=named):
        command.upgrade(_alembic_config(before), this)
    assert current_revision(before) == previous
