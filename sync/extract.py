"""Read what the mirror needs: 1C records (snapshot or change feed) and Bitrix24 users to adopt."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

from connectors.bitrix24 import directory
from connectors.bitrix24.port import Bitrix24Port, Call, CallError
from connectors.onec.port import ChangeBatch, OneCPort, Record
from core.errors import SyncError
from sync.model import ExistingUser
from sync.reconcile import ActualState
from sync.source import MIRRORED_ENTITIES

USER_CHUNK = 2500
"""Users handled at a time when every user is read: the 50 pages of one batched request."""
MEMBER_SLICE = 200
"""Groups whose member lists are asked for at a time: 4 batched requests of 50 (the gateway sends them
side by side); their raw rows are turned into ids before the next slice is read."""
MEMBER_READ_PASSES = 3
"""Times a failed member list is asked for before the read fails."""
TARGETED_LOOKUP_LIMIT = 500
"""Up to this many unlinked persons are looked up one by one; more, and every user is listed once."""


async def snapshot(onec: OneCPort, page_size: int | None = None) -> AsyncIterator[list[Record]]:
    """The 1C snapshot a page at a time: reference data first, then persons, then employments."""
    for entity in MIRRORED_ENTITIES:
        async for page in onec.snapshot(entity, page_size=page_size):  # type: ignore[arg-type]
            yield list(page)


async def changes(onec: OneCPort, ack_message_no: int, max_items: int = 500) -> ChangeBatch:
    return await onec.changes(ack_message_no, max_items)


def _existing(user: directory.DirectoryUser) -> ExistingUser:
    return ExistingUser(user.id, user.xml_id, user.email, user.active, user.fields)


async def all_users(b24: Bitrix24Port) -> list[ExistingUser]:
    found: list[ExistingUser] = []
    async for page in directory.all_users(b24):
        found.extend(_existing(u) for u in page)
    return found


async def user_chunks(b24: Bitrix24Port, size: int = USER_CHUNK) -> AsyncIterator[dict[int, ExistingUser]]:
    """Every Bitrix24 user, ``size`` at a time (id → user): what one batched read brings, never all."""
    chunk: dict[int, ExistingUser] = {}
    async for page in directory.all_users(b24):
        for user in page:
            chunk[user.id] = _existing(user)
        if len(chunk) >= size:
            yield chunk
            chunk = {}
    if chunk:
        yield chunk


async def group_members(b24: Bitrix24Port, group_ids: Iterable[int]) -> dict[int, set[int]]:
    """Group id → ids of its active members (owner, moderators, members): 50 groups per request.

    A list whose command failed is asked again (an empty answer would read as everyone having left)."""
    wanted = list(group_ids)
    members: dict[int, set[int]] = {}
    for _ in range(MEMBER_READ_PASSES):
        if not wanted:
            break
        failed: list[tuple[int, CallError | None]] = []
        for start in range(0, len(wanted), MEMBER_SLICE):  # raw member rows of a slice only, then ids
            some = wanted[start : start + MEMBER_SLICE]
            calls = [directory.group_members(g, label=f"g{g}") for g in some]
            for group_id, outcome in zip(some, await b24.batch(calls), strict=True):
                if outcome.ok and isinstance(outcome.result, list):
                    members[group_id] = directory.member_ids(outcome.result)
                else:
                    failed.append((group_id, outcome.error))
        wanted = [g for g, _ in failed]
    if wanted:
        error = failed[0][1]
        if isinstance(error, Exception):  # the gateway's errors are exceptions that carry the Action
            raise error
        raise SyncError(f"Bitrix24 gave no member list for {len(wanted)} groups; try again later")
    return members


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
