"""Text cells for exported spreadsheets (CSV, XLSX)."""

from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """A text cell that no spreadsheet reads as a formula (CSV/formula injection, OWASP)."""
    return "'" + value if value.startswith(FORMULA_START) else value
