"""The state store: tables (models), opening and migrating the database (db)."""

from store.db import ensure_current, make_engine, session_factory, upgrade, utcnow

__all__ = ["ensure_current", "make_engine", "session_factory", "upgrade", "utcnow"]
