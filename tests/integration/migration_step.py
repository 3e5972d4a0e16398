"""What the data-migration tests share: a store stopped just before one migration, holding the rows the
migration must convert, and that migration's step up and down."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from store.db import _alembic_config, make_engine

NOW = datetime(2026, 12, 1, 12, 0)
"""The rows' times (written with raw SQL, as the schema of their revision stored them)."""
Rows = Sequence[tuple[str, Mapping[str, Any]]]
"""``(INSERT …, parameters)`` statements."""


@dataclass(frozen=True)
class MigrationStep:
    engine: Engine
    this: str
    previous: str

    def upgrade(self) -> None:
        command.upgrade(_alembic_config(self.engine), self.this)

    def downgrade(self) -> None:
        command.downgrade(_alembic_config(self.engine), self.previous)


def revisions(engine: Engine, file_suffix: str) -> tuple[str, str]:
    """(the migration whose file name ends so, the one before it): a re-chained history still works."""
    scripts = ScriptDirectory.from_config(_alembic_config(engine))
    found = next(s for s in scripts.walk_revisions() if s.path.endswith(file_suffix))
    assert isinstance(found.down_revision, str)
    return found.revision, found.down_revision


@contextmanager
def before_migration(url: str, file_suffix: str, rows: Rows) -> Iterator[MigrationStep]:
    """The empty database at ``url`` upgraded to the revision before the migration, then ``rows``
    inserted in one transaction."""
    engine = make_engine(url)
    try:
        this, previous = revisions(engine, file_suffix)
        command.upgrade(_alembic_config(engine), previous)
        with engine.begin() as connection:
            for statement, parameters in rows:
                connection.execute(text(statement), dict(parameters))
        yield MigrationStep(engine, this, previous)
    finally:
        engine.dispose()
