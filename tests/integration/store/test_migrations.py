"""Migrations apply on both databases, are idempotent, and the store refuses an outdated schema."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from connectors.errors import StoreNotUpgraded
from store.db import current_revision, ensure_current, head_revision, make_engine, upgrade


def test_upgrade_creates_every_table_and_is_idempotent(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        before, after = upgrade(engine)
        assert before is None
        assert after == head_revision()
        tables = set(inspect(engine).get_table_names())
        for expected in (
            "identity_map",
            "sync_runs",
            "plan_items",
            "change_feed",
            "quarantine",
            "outbox",
            "inbox",
            "process_instances",
            "process_transitions",
            "job_leases",
            "app_tokens",
            "rate_budget",
            "due_changes",
            "invitations",
            "client_managers",
        ):
            assert expected in tables
        assert upgrade(engine) == (after, after)
    finally:
        engine.dispose()


def test_outdated_store_is_refused_without_auto_upgrade(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        with pytest.raises(StoreNotUpgraded, match="db upgrade"):
            ensure_current(engine, auto_upgrade=False)
        ensure_current(engine, auto_upgrade=True)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
