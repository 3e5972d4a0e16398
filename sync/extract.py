"""Read what the mirror needs: 1C records (snapshot or change feed) and Bitrix24 users to adopt."""

from __future__ import annotations

from collections.abc import Iterable

from connectors.bitrix24 import directory
from connectors.bitrix24.port import Bitrix24Port, Call
from connectors.onec.port import ChangeBatch, OneCPort, Record
from sync.model import ExistingUser
from sync.reconcile import ActualState
from sync.source import MIRRORED_ENTITIES

TARGETED_LOOKUP_LIMIT = 500
"""Up to this many unlinked persons are looked up one by one; more, and every user is listed once."""


async def snapshot(onec: OneCPort, page_size: int | None = None) -> list[Record]:
    records: list[Record] = []
    for entity in MIRRORED_ENTITIES:
        async for page in onec.snapshot(entity, page_size=page_size):  # type: ignore[arg-type]
            records.extend(page)
    return records


async def changes(onec: OneCPort, ack_message_no: int, max_items: int = 500) -> ChangeBatch:
    return await onec.changes(ack_message_no, max_items)


def _existing(user: directory.DirectoryUser) -> ExistingUser:
    return ExistingUser(user.id, user.xml_id, user.email, user.active, user.fields)


async def all_users(b24: Bitrix24Port) -> list[ExistingUser]:
    found: list[ExistingUser] = []
    async for page in directory.all_users(b24):
        found.extend(_existing(u) for u in page)
    return found


async def adoption_candidates(
    b24: Bitrix24Port, unlinked: Iterable[tuple[str, str | None]]
) -> list[ExistingUser]:
    """Bitrix24 users that unlinked persons (ref, e-mail) might already have: by XML_ID, then e-mail."""
    wanted = list(unlinked)
    if not wanted:
        return []
    if len(wanted) > TARGETED_LOOKUP_LIMIT:
        return await all_users(b24)
    calls: list[Call] = []
    for ref, email in wanted:
        calls.append(directory.find_users(xml_id=ref, label=f"x{len(calls)}"))
        if email:
            calls.append(directory.find_users(email=email, label=f"e{len(calls)}"))
    found: dict[int, ExistingUser] = {}
    for outcome in await b24.batch(calls):
        if outcome.ok and isinstance(outcome.result, list):
            for row in outcome.result:
                user = _existing(directory.parse_user(row))
                found[user.id] = user
    return list(found.values())


async def actual_state(b24: Bitrix24Port, group_ids: Iterable[int]) -> ActualState:
    """What Bitrix24 holds now: every user and group, and the members of the given groups (reconcile)."""
    actual = ActualState()
    for user in await all_users(b24):
        actual.users[user.id] = user
    for group in await directory.all_groups(b24):
        actual.groups[group.id] = group.fields
    wanted = [g for g in group_ids if g in actual.groups]
    calls = [directory.group_members(g, label=f"g{g}") for g in wanted]
    for group_id, outcome in zip(wanted, await b24.batch(calls) if calls else [], strict=True):
        actual.members[group_id] = directory.member_ids(outcome.result) if outcome.ok else set()
    return actual
