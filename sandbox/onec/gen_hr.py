"""Generating employments (Сотрудники) with dated HR history, and their absences.

Owns the HR rules of the generated company: one main employment per person, dated hires, transfers
(some temporary, some dated in the future), dismissals (some in the future), rare restores, rehires
(a new Employee of the same Person) and part-time second jobs (internal ones linked to the main
employment). Absences come from ДанныеСостоянийСотрудников-like records. Deterministic per ``rng``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sandbox.onec import ids, schedules
from sandbox.onec.gen_org import OrgTree
from sandbox.onec.model import AbsenceRec, EmployeeRec, Event, PersonRec

ONE, HALF = Decimal("1"), Decimal("0.5")
ABSENCE_KINDS = (("Vacation", 14, 0.5), ("SickLeave", 7, 0.3), ("BusinessTrip", 5, 0.15), ("Unpaid", 2, 0.05))
ABSENCE_DOCS = {
    "Vacation": "Отпуск",
    "SickLeave": "Больничный лист",
    "BusinessTrip": "Командировка",
    "Unpaid": "Отпуск без сохранения оплаты",
    "Other": "Отсутствие",
}


@dataclass(frozen=True)
class HrShares:
    """Shares (0..1) of employments with each kind of history."""

    part_time: float = 0.04
    rehire: float = 0.03
    dismissed: float = 0.2
    transfer: float = 0.3
    temp_transfer: float = 0.02
    future_transfer: float = 0.02
    future_dismissal: float = 0.02
    future_hire: float = 0.005
    restore: float = 0.003
    absence: float = 0.15


class HrGenerator:
    """Builds employments one by one; keeps per-head-org personnel number counters."""

    def __init__(self, rng: random.Random, tree: OrgTree, today: date, shares: HrShares) -> None:
        self.rng, self.tree, self.today, self.shares = rng, tree, today, shares
        self.orgs = [o for o in tree.orgs if tree.sites[o.ref]]
        self.org_weights = [len(tree.sites[o.ref]) for o in self.orgs]
        self.counters: dict[str, int] = {}
        self.by_ref = {o.ref: o for o in tree.orgs}

    def personnel_no(self, org_ref: str) -> str:
        org = self.by_ref[org_ref]
        head = org.head_org_ref or org.ref
        n = self.counters.get(head, 0) + 1
        self.counters[head] = n
        return f"{org.prefix}-{n:07d}"

    def place(self, org_ref: str) -> tuple[str, str]:
        """(department, position): a client site mostly, the office sometimes."""
        rng, tree = self.rng, self.tree
        if rng.random() < 0.05:
            return rng.choice(tree.offices[org_ref]), rng.choice(tree.office_positions)
        return rng.choice(tree.sites[org_ref]), rng.choice(tree.site_positions)

    def employment(
        self,
        person: PersonRec,
        hire: date,
        kind: str = "Main",
        org_ref: str | None = None,
        main_ref: str | None = None,
        allow_dismissal: bool = True,
    ) -> EmployeeRec:
        rng, today, sh = self.rng, self.today, self.shares
        org_ref = org_ref or rng.choices(self.orgs, self.org_weights)[0].ref
        head = self.by_ref[org_ref].head_org_ref or org_ref
        rate = ONE if kind == "Main" else HALF
        schedule = schedules.HALF_TIME if rate == HALF else rng.choice((0, 0, 0, 2, 3))
        dept, pos = self.place(org_ref)
        emp = EmployeeRec(
            ids.new_ref(rng), self.personnel_no(org_ref), person.ref, head, main_ref, kind, rate, schedule
        )
        emp.history.append(Event(hire, "Hire", org_ref, dept, pos))
        if hire > today:
            return emp
        end = today
        dismissed: date | None = None
        if allow_dismissal and rng.random() < sh.dismissed and (today - hire).days > 2:
            dismissed = hire + timedelta(days=rng.randint(1, (today - hire).days - 1))
            end = dismissed
        span = (end - hire).days
        if span > 10 and rng.random() < sh.transfer:
            for _ in range(1 + (rng.random() < 0.3)):
                when = hire + timedelta(days=rng.randint(1, span - 1))
                dept, pos = (
                    self.place(org_ref)
                    if rng.random() < 0.7
                    else (dept, rng.choice(self.tree.site_positions))
                )
                emp.history.append(Event(when, "Transfer", org_ref, dept, pos))
            emp.history.sort(key=lambda e: e.period)
        if span > 40 and rng.random() < sh.temp_transfer:
            when = end - timedelta(days=rng.randint(5, 35))
            until = when + timedelta(days=rng.randint(10, 60))
            site, _ = self.place(org_ref)
            emp.history.append(Event(when, "Transfer", org_ref, site, pos, valid_until=until))
            emp.history.sort(key=lambda e: e.period)
        if dismissed is not None:
            emp.history.append(Event(dismissed, "Dismissal", org_ref, dept, pos))
            if rng.random() < sh.restore / max(sh.dismissed, 1e-9) and (today - dismissed).days > 20:
                back = dismissed + timedelta(days=rng.randint(5, 15))
                emp.history.append(Event(back, "Restore", org_ref, dept, pos))
            return emp
        if rng.random() < sh.future_transfer:
            site, _ = self.place(org_ref)
            emp.history.append(
                Event(today + timedelta(days=rng.randint(1, 45)), "Transfer", org_ref, site, pos)
            )
        if rng.random() < sh.future_dismissal:
            emp.history.append(
                Event(today + timedelta(days=rng.randint(46, 90)), "Dismissal", org_ref, dept, pos)
            )
        return emp

    def hire_date(self) -> date:
        if self.rng.random() < self.shares.future_hire:
            return self.today + timedelta(days=self.rng.randint(1, 30))
        return self.today - timedelta(days=1 + min(3650, int(self.rng.expovariate(1 / 700))))

    def absences(self, emp: EmployeeRec, numbers: dict[str, int]) -> list[AbsenceRec]:
        """0..2 absences around ``today`` inside the employment's working period."""
        rng, today = self.rng, self.today
        out: list[AbsenceRec] = []
        last_end = date.min
        for _ in range(1 + (rng.random() < 0.3)):
            r, acc = rng.random(), 0.0
            kind, length = "Other", 1
            for k, days, weight in ABSENCE_KINDS:
                acc += weight
                if r < acc:
                    kind, length = k, max(1, int(rng.uniform(0.5, 2.0) * days))
                    break
            start = today + timedelta(days=rng.randint(-60, 60))
            end = start + timedelta(days=length - 1)
            if start <= last_end or not (emp.is_active_on(start) and emp.is_active_on(end)):
                continue
            numbers[kind] = numbers.get(kind, 0) + 1
            number = f"00ЗУ-{numbers[kind]:06d}"
            out.append(AbsenceRec(ids.new_ref(rng), emp.ref, kind, start, end, number))
            last_end = end
        return out
