"""Apply a stored plan to Bitrix24 in batches of up to 50 calls, committing state after each batch.

Per batch: mark the items started (commit), send one ``batch``, then record every outcome and the
confirmed state it implies (commit). An item found "started" after a crash is checked first — a user
by ``XML_ID``, a group by name — and only re-sent if Bitrix24 does not have it (style brief §1).
Refusals (bad e-mail, e-mail taken, …) quarantine the person; transient failures leave the item
failed for the next run; configuration failures (auth, scope) abort the run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from connectors.bitrix24 import directory
from connectors.bitrix24.port import Bitrix24Port, Call, CallOutcome
from core.clock import utcnow
from core.errors import SyncError
from store.models import Invitation
from sync import commit, ledger
from sync import lease as sync_lease
from sync.ledger import Item
from sync.model import STAGES, Link, Quarantine, RunStatus, link_key
from sync.state import link_ids

BATCH_LIMIT = 50  # bitrix24-rest.md §7: at most 50 commands per batch
ITEM_CHUNK = 2000
"""Plan items read from the ledger at a time."""
NOTHING_TO_SEND = Call("")
"""An item left with no one to act on (every person of a member list was parked): done without a call."""
UNKNOWN_PASSES = 3
"""How often a stage re-checks and re-sends writes whose answer was lost before giving up on them."""


class RunAborted(SyncError):
    """Bitrix24 refused the bridge itself (credentials, scope, portal): nothing more can be applied."""


@dataclass
class ApplyStats:
    done: int = 0
    failed: int = 0
    quarantined: int = 0
    calls: int = 0
    by_op: dict[str, int] = field(default_factory=dict)


def _action(error: Exception | None) -> str:
    action = getattr(error, "action", None)
    return str(getattr(action, "name", action or "RETRY"))


def _reason(error: Exception | None) -> tuple[str, str]:
    code = str(getattr(error, "code", "") or "refused")
    description = str(getattr(error, "description", "") or getattr(error, "operator_message", "") or error)
    return code, f"Bitrix24 refused: {code} {description}".strip()


def _levels(items: Sequence[Item]) -> list[list[Item]]:
    """Consecutive runs of items of the same department depth (other items have none: one run)."""
    runs: list[list[Item]] = []
    for item in items:
        depth = item.payload.get("depth")
        if runs and runs[-1][0].payload.get("depth") == depth:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


class Applier:
    """Applies the open items of one run; keeps the links it confirms in memory as it goes."""

    def __init__(
        self,
        port: Bitrix24Port,
        sessions: sessionmaker[Session],
        run_id: int,
        links: dict[str, Link],
        batch_size: int = BATCH_LIMIT,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        self.port = port
        self.sessions = sessions
        self.run_id = run_id
        self.links = links
        self.batch_size = min(batch_size, BATCH_LIMIT)
        self.on_progress = on_progress
        self.stats = ApplyStats()
        self._unknown: list[Item] = []
        self._links_due: dict[tuple[str, str], tuple[int | None, dict[str, Any]]] = {}
        self._invitations_due: list[dict[str, Any]] = []
        self._done_due: list[int] = []
        self._memberships_due: dict[str, dict[str, bool]] = {}
        """person ref → {group key: joined (True) or left (False)} confirmed in this batch."""
        with sessions() as session:
            self._link_ids = link_ids(session)
        """Items whose write may have run although no answer came: checked, then re-sent if absent."""

    async def run(self) -> ApplyStats:
        with self.sessions.begin() as session:
            ledger.set_status(session, self.run_id, RunStatus.APPLYING)
        for stage in STAGES:
            after = -1
            while True:  # a chunk of items at a time keeps memory flat on large plans
                with self.sessions() as session:
                    items = ledger.open_items(session, self.run_id, stage, after_seq=after, limit=ITEM_CHUNK)
                if not items:
                    break
                after = items[-1].seq
                settled = await self._verify_started([i for i in items if i.started_before])
                items = [i for i in items if i.id not in settled]
                for level in _levels(items):  # a department's parent is created before it
                    for start in range(0, len(level), self.batch_size):
                        await self._apply_batch(level[start : start + self.batch_size])
            for _ in range(UNKNOWN_PASSES):
                if not self._unknown:
                    break
                unknown, self._unknown = self._unknown, []
                settled = await self._verify_started(unknown)
                again = [i for i in unknown if i.id not in settled]
                for start in range(0, len(again), self.batch_size):
                    await self._apply_batch(again[start : start + self.batch_size])
            if self._unknown:
                with self.sessions.begin() as session:
                    ledger.mark(session, [i.id for i in self._unknown], "failed", error="outcome unknown")
                self.stats.failed += len(self._unknown)
                self._unknown = []
        return self.stats

    # -- one batch ---------------------------------------------------------------------------------
    async def _apply_batch(self, items: Sequence[Item]) -> None:
        held = sync_lease.current()
        if held is not None:
            held.check()  # a process that lost the lease writes nothing more
        calls: list[Call] = []
        sendable: list[Item] = []
        skipped: list[Item] = []
        for item in items:
            call = self._call_for(item, label=f"i{item.id}")
            if call is None:
                skipped.append(item)
            elif call is NOTHING_TO_SEND:
                self._done_due.append(item.id)  # marked done with the batch's outcomes
                self.stats.done += 1
            else:
                calls.append(call)
                sendable.append(item)
        with self.sessions.begin() as session:
            ledger.mark(session, [i.id for i in sendable], "started")
            for item in skipped:
                ledger.mark(
                    session, [item.id], "failed", error="a group or user it needs is not in Bitrix24 yet"
                )
                self.stats.failed += 1
        outcomes = await self.port.batch(calls) if calls else []
        self.stats.calls += len(calls)
        refused: list[tuple[Item, CallOutcome]] = []
        with self.sessions.begin() as session:
            for item, outcome in zip(sendable, outcomes, strict=True):
                if item.op == "create_user" and _action(outcome.error) in ("QUARANTINE", "FAIL"):
                    refused.append((item, outcome))
                else:
                    self._record(session, item, outcome)
            self._flush(session)
        if refused:
            # A user.add refused as a duplicate may be our own from a retried batch whose answer was
            # lost (the portal ran it): look for the person's XML_ID before parking anyone.
            settled = await self._verify_started([item for item, _ in refused])
            with self.sessions.begin() as session:
                for item, outcome in refused:
                    if item.id not in settled:
                        self._record(session, item, outcome)
                self._flush(session)
        if self.on_progress:
            self.on_progress(len(items))

    def _call_for(self, item: Item, label: str) -> Call | None:
        p = item.payload
        if item.op in ("create_department", "update_department"):
            f = p["fields"]
            parent = f["PARENT_ID"] if f.get("PARENT_KEY") is None else self._group_id(f["PARENT_KEY"])
            if parent is None:
                return None
            if item.op == "create_department":
                return directory.create_department(f["NAME"], parent, label)
            return directory.update_department(p["department_id"], f["NAME"], parent, label)
        if item.op == "create_group":
            return directory.create_group(p["fields"], label)
        if item.op == "update_group":
            return directory.update_group(p["group_id"], p["fields"], label)
        if item.op == "create_user":
            if "UF_DEPARTMENT" in p["fields"]:
                departments = self._department_ids(p["fields"]["UF_DEPARTMENT"])
                return directory.create_employee(p["fields"], departments, label) if departments else None
            group_ids = [g for g in (self._group_id(k) for k in p["groups"]) if g is not None]
            return directory.create_user(p["fields"], group_ids, label) if group_ids else None
        if item.op in ("adopt_user", "update_user"):
            fields = dict(p["fields"])
            if isinstance(fields.get("UF_DEPARTMENT"), list):
                fields["UF_DEPARTMENT"] = self._department_ids(fields["UF_DEPARTMENT"])
            if item.op == "adopt_user":
                fields.setdefault("XML_ID", item.ref)
            return directory.update_user(p["user_id"], fields, label)
        group_id = self._group_id(p["group_key"])
        if group_id is None:
            return None
        if item.op == "add_members":
            user_ids = [u for u in (self._user_id(r) for r in p["person_refs"]) if u is not None]
            return directory.add_members(group_id, user_ids, label) if user_ids else NOTHING_TO_SEND
        return directory.remove_members(group_id, p["user_ids"], label)

    def _department_ids(self, keys: list[str]) -> list[int]:
        return [d for d in (self._group_id(k) for k in keys) if d is not None]

    def _group_id(self, key: str) -> int | None:
        link = self.links.get(key)
        return link.b24_id if link else None

    def _user_id(self, person_ref: str) -> int | None:
        link = self.links.get(link_key("person", person_ref))
        return link.b24_id if link else None

    # -- outcomes ----------------------------------------------------------------------------------
    def _flush(self, session: Session) -> None:
        """Write what the batch confirmed in a few statements (links, invitations, done items)."""
        commit.save_links(session, self._links_due, self._link_ids)
        commit.apply_memberships(session, self._memberships_due)
        if self._invitations_due:
            session.execute(insert(Invitation), self._invitations_due)
        ledger.mark(session, self._done_due, "done")
        self._links_due, self._invitations_due, self._done_due = {}, [], []
        self._memberships_due = {}

    def _record(self, session: Session, item: Item, outcome: CallOutcome) -> None:
        if outcome.ok:
            self._confirm(session, item, outcome.result)
            self._done_due.append(item.id)
            self.stats.done += 1
            self.stats.by_op[item.op] = self.stats.by_op.get(item.op, 0) + 1
            return
        action = _action(outcome.error)
        code, reason = _reason(outcome.error)
        if getattr(outcome.error, "outcome_unknown", False):
            self._unknown.append(item)  # stays "started": checked before it is sent again
            return
        if action == "FAIL_CONFIG":
            ledger.mark(session, [item.id], "failed", error=reason)
            raise RunAborted(f"Bitrix24 refused the bridge's credentials or scope ({code})")
        if action in ("QUARANTINE", "FAIL") and item.kind == "person":
            # Parked with the planner's hash of the desired state: it is retried when 1C changes it.
            digest = item.payload.get("digest")
            commit.park(session, Quarantine("person", item.ref, code, reason, digest))
            ledger.mark(session, [item.id], "quarantined", error=reason)
            self.stats.quarantined += 1
            return
        ledger.mark(session, [item.id], "failed", error=reason)
        self.stats.failed += 1

    def _confirm(self, session: Session, item: Item, result: Any) -> None:
        p = item.payload
        if item.op in ("create_department", "update_department"):
            department_id = int(result) if item.op == "create_department" else int(p["department_id"])
            self._save(session, "intranet", item.ref, department_id, {"fields": p["fields"]}, key=p["key"])
        elif item.op in ("create_group", "update_group"):
            group_id = int(result) if item.op == "create_group" else int(p["group_id"])
            state = p.get("state") or {"fields": p["fields"]}
            self._save(session, item.kind, item.ref, group_id, state, key=p["key"])
        elif item.op == "create_user":
            state = {"fields": p["fields"], "groups": [], "active": True}
            self._save(session, "person", item.ref, int(result), state)
            # user.add itself e-mails the first invitation (bitrix24-rest.md §2.1): record it.
            self._invitations_due.append(
                {
                    "person_ref": item.ref,
                    "b24_user_id": str(result),
                    "channel": "bitrix24",
                    "status": "sent",
                    "error": None,
                    "sent_at": utcnow(),
                }
            )
        elif item.op in ("adopt_user", "update_user"):
            self._save(session, "person", item.ref, int(p["user_id"]), p["state"])
        else:
            joined = item.op == "add_members"
            for ref in p["person_refs"]:
                delta = self._memberships_due.setdefault(ref, ({}))
                delta[p["group_key"]] = joined

    def _save(
        self,
        session: Session,
        kind: str,
        ref: str,
        b24_id: int | None,
        state: dict[str, Any],
        key: str | None = None,
    ) -> None:
        self._links_due[(kind, ref)] = (b24_id, state)
        # Only ids are kept in memory; states live in the store (memberships are applied there).
        self.links[key or link_key(kind, ref)] = Link(kind, ref, b24_id, {})

    # -- resume after a crash ----------------------------------------------------------------------
    async def _verify_started(self, items: Sequence[Item]) -> set[int]:
        """For items whose outcome a crash left unknown, look in Bitrix24 before re-sending.

        Returns the ids of the items found done; the others are re-sent as usual.
        """
        lookups: list[tuple[Item, Call]] = []
        for item in items:
            if item.op == "create_user":
                lookups.append((item, directory.find_users(xml_id=item.ref, label=f"v{item.id}")))
            elif item.op == "create_department":
                name = item.payload["fields"]["NAME"]
                lookups.append((item, directory.find_department_by_name(name, f"v{item.id}")))
            elif item.op == "create_group":
                lookups.append(
                    (item, directory.find_group_by_name(item.payload["fields"]["NAME"], f"v{item.id}"))
                )
        settled: set[int] = set()
        if not lookups:
            return settled
        outcomes = await self.port.batch([call for _, call in lookups])
        with self.sessions.begin() as session:
            for (item, _call), outcome in zip(lookups, outcomes, strict=True):
                rows = outcome.result if outcome.ok and isinstance(outcome.result, list) else []
                if not rows:
                    continue  # not there: the item is re-sent as usual
                found_id = int(rows[0]["ID"])
                self._confirm(session, item, found_id)
                self._done_due.append(item.id)
                self.stats.done += 1
                settled.add(item.id)
            self._flush(session)
        return settled
