"""The portal's user ids become integer columns (and back on a downgrade); a non-number stops the upgrade."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

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
    found = next(s for s in scripts.walk_revisions() if s.path.endswith("_portal_user_ids_integer.py"))
    assert isinstance(found.down_revision, str)
    return found.revision, found.down_revision


@pytest.fixture
def before(empty_db_url: str) -> Iterator[Engine]:
    """A store at the revision before the migration, with an order and a decided registration (text ids)."""
    engine = make_engine(empty_db_url)
    _this, previous = _revisions(engine)
    command.upgrade(_alembic_config(engine), previous)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO portal_orders (order_id, site_ref, kind, position, headcount, start, details, "
                "author, status, comments, created_at) VALUES ('o-1', 'site-A', 'order', 'Грузчик', 2, "
                ":start, '', '42', 'new', '[]', :now)"
            ),
            {"start": date(2026, 12, 10), "now": NOW},
        )
        connection.execute(
            text(
                "INSERT INTO portal_registrations (registration_id, name, company, email, phone, status, "
                "decided_by, created_at) VALUES ('r-1', 'И', 'К', 'a@example.test', '+79990000000', "
                "'approved', '30', :now), ('r-2', 'И', 'К', 'b@example.test', '+79990000001', 'pending', "
                "NULL, :now)"
            ),
            {"now": NOW},
        )
    yield engine
    engine.dispose()


def test_text_ids_become_integers_and_a_downgrade_turns_them_back(before: Engine) -> None:
    this, previous = _revisions(before)
    command.upgrade(_alembic_config(before), this)
    with before.connect() as connection:
        author = connection.execute(text("SELECT author FROM portal_orders")).scalar_one()
        deciders = connection.execute(
            text("SELECT decided_by FROM portal_registrations ORDER BY registration_id")
        ).all()
    assert author == 42 and [row[0] for row in deciders] == [30, None]
    columns = {c["name"]: c for c in inspect(before).get_columns("portal_orders")}
    assert columns["author"]["type"].python_type is int
    command.downgrade(_alembic_config(before), previous)
    with before.connect() as connection:
        author = connection.execute(text("SELECT author FROM portal_orders")).scalar_one()
    assert author == "42"
    assert current_revision(before) == previous


def test_a_non_numeric_author_stops_the_migration_naming_its_order(before: Engine) -> None:
    this, previous = _revisions(before)
    with before.begin() as connection:
        connection.execute(text("UPDATE portal_orders SET author = 'u-1'"))
    with pytest.raises(StoreError, match=r"portal_orders\.author \(order_id o-1\).*run the upgrade"):
        command.upgrade(_alembic_config(before), this)
    assert current_revision(before) == previous
