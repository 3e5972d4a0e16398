"""The portal's user ids become integer columns (and back on a downgrade); a non-number stops the upgrade."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import inspect, text

from core.errors import StoreError
from store.db import current_revision
from tests.integration.migration_step import NOW, MigrationStep, Rows, before_migration


@pytest.fixture
def before(empty_db_url: str) -> Iterator[MigrationStep]:
    """A store at the revision before the migration, with an order and a decided registration (text ids)."""
    rows: Rows = [
        (
            "INSERT INTO portal_orders (order_id, site_ref, kind, position, headcount, start, details, "
            "author, status, comments, created_at) VALUES ('o-1', 'site-A', 'order', 'Грузчик', 2, "
            ":start, '', '42', 'new', '[]', :now)",
            {"start": date(2026, 12, 10), "now": NOW},
        ),
        (
            "INSERT INTO portal_registrations (registration_id, name, company, email, phone, status, "
            "decided_by, created_at) VALUES ('r-1', 'И', 'К', 'a@example.test', '+79990000000', "
            "'approved', '30', :now), ('r-2', 'И', 'К', 'b@example.test', '+79990000001', 'pending', "
            "NULL, :now)",
            {"now": NOW},
        ),
    ]
    with before_migration(empty_db_url, "_portal_user_ids_integer.py", rows) as step:
        yield step


def test_text_ids_become_integers_and_a_downgrade_turns_them_back(before: MigrationStep) -> None:
    before.upgrade()
    with before.engine.connect() as connection:
        author = connection.execute(text("SELECT author FROM portal_orders")).scalar_one()
        deciders = connection.execute(
            text("SELECT decided_by FROM portal_registrations ORDER BY registration_id")
        ).all()
    assert author == 42 and [row[0] for row in deciders] == [30, None]
    columns = {c["name"]: c for c in inspect(before.engine).get_columns("portal_orders")}
    assert columns["author"]["type"].python_type is int
    before.downgrade()
    with before.engine.connect() as connection:
        author = connection.execute(text("SELECT author FROM portal_orders")).scalar_one()
    assert author == "42"
    assert current_revision(before.engine) == before.previous


def test_a_non_numeric_author_stops_the_migration_naming_its_order(before: MigrationStep) -> None:
    with before.engine.begin() as connection:
        connection.execute(text("UPDATE portal_orders SET author = 'u-1'"))
    with pytest.raises(StoreError, match=r"portal_orders\.author \(order_id o-1\).*run the upgrade"):
        before.upgrade()
    assert current_revision(before.engine) == before.previous
