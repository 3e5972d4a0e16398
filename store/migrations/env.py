"""Alembic environment: runs against the engine the bridge passes in (store/db.py)."""

from __future__ import annotations

from alembic import context

from store.models import Base
from store.types import render_migration_type

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # plain `alembic` CLI use, e.g. `alembic -x url=... revision --autogenerate`
    from store.db import make_engine

    engine = make_engine(context.get_x_argument(as_dictionary=True).get("url", "sqlite:///var/alembic.db"))


with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_migration_type,
    )
    with context.begin_transaction():
        context.run_migrations()
