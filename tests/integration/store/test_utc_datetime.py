"""Stored moments come back as aware UTC on SQLite and PostgreSQL alike; a naive one is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata, produce_migrations, render_python_code
from alembic.migration import MigrationContext
from sqlalchemy import DateTime, func, select
from sqlalchemy.exc import StatementError

from config.wiring import Store
from portal import models as portal_models
from portal import tables as portal_tables
from store import rate_limits, regulations
from store.db import make_engine, upgrade
from store.models import Base, InboxMessage, JobLease
from store.types import NaiveDatetimeError, UtcDateTime, render_migration_type

MODEL_MODULES = (portal_models, portal_tables, rate_limits, regulations)
"""Every module declaring tables beside store/models.py: imported, their tables join Base.metadata."""
MSK = timezone(timedelta(hours=3))
AT = datetime(2026, 3, 2, 12, 30, 15, 123456, tzinfo=MSK)


def test_a_moment_in_any_zone_comes_back_as_the_same_moment_in_utc(store: Store) -> None:
    with store.sessions() as session, session.begin():
        if session.get_bind().dialect.name == "postgresql":  # the session's zone must not leak into values
            session.execute(func.set_config("TimeZone", "Asia/Vladivostok", True).select())
        session.add(JobLease(name="msk", holder="h", expires_at=AT))
        session.add(InboxMessage(source="s", event_key="k", kind="k", payload={}, received_at=AT))
        session.flush()
        session.expire_all()
        row = session.scalars(select(JobLease)).one()
        oldest = session.scalar(select(func.min(InboxMessage.received_at)))
        earlier = session.scalar(select(func.count()).where(JobLease.expires_at < AT + timedelta(seconds=1)))
    for value in (row.expires_at, oldest):
        assert value == AT and value.tzinfo is UTC and value.hour == 9
    assert earlier == 1


def test_a_naive_moment_is_refused_and_nothing_is_written(store: Store) -> None:
    with pytest.raises(StatementError) as raised, store.sessions() as session, session.begin():
        session.add(JobLease(name="naive", holder="h", expires_at=datetime(2026, 3, 2, 9)))
    assert isinstance(raised.value.orig, NaiveDatetimeError)
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(JobLease)) == 0


def test_every_datetime_column_of_every_model_is_utc_datetime() -> None:
    types = [c.type for t in Base.metadata.tables.values() for c in t.columns]
    assert not [t for t in types if isinstance(t, DateTime)]  # a plain DateTime comes back naive on SQLite
    assert sum(isinstance(t, UtcDateTime) for t in types) > 30


def test_the_migrations_build_the_schema_the_models_describe(empty_db_url: str) -> None:
    """Autogenerate (with type comparison, as store/migrations/env.py runs it) sees nothing to change."""
    engine = make_engine(empty_db_url)
    try:
        upgrade(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_a_generated_migration_names_the_database_type_not_the_decorator(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        with engine.connect() as connection:
            script = produce_migrations(MigrationContext.configure(connection), Base.metadata)
        assert script.upgrade_ops is not None
        code = render_python_code(script.upgrade_ops, render_item=render_migration_type)
    finally:
        engine.dispose()
    assert "sa.Column('expires_at', sa.DateTime(timezone=True)" in code and "UtcDateTime" not in code
