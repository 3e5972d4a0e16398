"""Typed ids: what a string or an integer names, checked by mypy at no run-time cost.

1C refs are strings (UUIDs); Bitrix24 ids are integers everywhere inside the bridge (the REST API sends
them as strings or numbers; connectors/bitrix24/directory.py turns them into these).
"""

from __future__ import annotations

from typing import NewType

PersonRef = NewType("PersonRef", str)
"""A 1C physical person (ФизическоеЛицо): the identity a Bitrix24 user mirrors."""
OrgRef = NewType("OrgRef", str)
"""A 1C organisation (legal entity)."""
DepartmentRef = NewType("DepartmentRef", str)
"""A 1C department (a client site for a staffing provider)."""
LinkKey = NewType("LinkKey", str)
"""``kind:ref`` — the identity map's key of one mirrored entity."""

B24UserId = NewType("B24UserId", int)
B24GroupId = NewType("B24GroupId", int)
"""A Bitrix24 workgroup (sonet_group)."""
B24DepartmentId = NewType("B24DepartmentId", int)
"""A Bitrix24 intranet department."""
RunId = NewType("RunId", int)
"""A sync run of the ledger."""
B24ElementId = NewType("B24ElementId", int)
"""A list element (a request filed in a "processes in the feed" list)."""
