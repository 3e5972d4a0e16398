"""Column types of the store: moments go in and come out as aware UTC datetimes on every database.

SQLite has no time-zone type: SQLAlchemy writes the wall clock of the value as text, dropping its
offset, and reads it back naive; PostgreSQL's ``timestamptz`` answers in the session's zone. This type
stores UTC on both and hands back aware UTC, so no code above the store patches moments it reads.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import DateTime, Dialect
from sqlalchemy.types import TypeDecorator


class NaiveDatetimeError(ValueError):
    """A naive datetime was given to the store: its zone is unknown, so the moment is too."""


class UtcDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that refuses naive values, stores UTC and returns aware UTC.

    A naive value is refused rather than taken as UTC: every moment the bridge makes is aware
    (core.clock.utcnow), so a naive one is a local wall clock or a parse that lost its zone, and
    storing it as UTC would shift it silently by the server's offset.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise NaiveDatetimeError(
                "a naive datetime was given to the store; make it aware (core.clock.utcnow)"
            )
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        # SQLite hands back the naive UTC wall clock written above; PostgreSQL an aware value.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def render_migration_type(kind: str, item: Any, _context: Any) -> str | Literal[False]:
    """Alembic's ``render_item``: a generated migration names the type the database has, since
    ``UtcDateTime`` only converts values in Python (the DDL is ``DateTime(timezone=True)``'s)."""
    if kind == "type" and isinstance(item, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False
