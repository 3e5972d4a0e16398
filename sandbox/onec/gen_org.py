"""Generating the legal entities of an outsourcing company, their department trees and the positions.

Owns the vocabulary of cities, clients and positions and the shape of the tree: each organisation has an
office branch (administration, HR, accounting) and, per client, a department with one department per
client site (some large sites split into shifts; a few sites disbanded). Deterministic per ``rng``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sandbox.onec import ids
from sandbox.onec.model import Dept, Org, Pos

# (city, region code, tax office code)
CITIES: tuple[tuple[str, str, str], ...] = (
    ("Москва", "77", "7714"), ("Санкт-Петербург", "78", "7810"), ("Казань", "16", "1655"),
    ("Екатеринбург", "66", "6658"), ("Новосибирск", "54", "5406"), ("Нижний Новгород", "52", "5260"),
    ("Самара", "63", "6316"), ("Краснодар", "23", "2308"), ("Ростов-на-Дону", "61", "6164"),
    ("Подольск", "50", "5036"), ("Химки", "50", "5047"), ("Тверь", "69", "6950"),
)  # fmt: skip

BRANDS = (
    "Стафф Ресурс", "Кадровый Альянс", "ПроПерсонал", "Трудовые Ресурсы", "Аутсорс Логистик",
    "Северный Персонал", "Линия Сервиса", "Техно Кадры", "Мега Стафф", "Гранд Аутсорсинг",
)  # fmt: skip
PREFIXES = ("СР", "КА", "ПП", "ТР", "АЛ", "СП", "ЛС", "ТК", "МС", "ГА")

CLIENTS = (
    "Ozon", "Wildberries", "Магнит", "Пятёрочка", "Лента", "X5 Логистика", "ВкусВилл", "Леруа Мерлен",
    "Ашан", "Metro", "Яндекс Маркет", "DNS", "Спортмастер", "М.Видео", "Самокат", "Перекрёсток",
)  # fmt: skip
SITE_KINDS = ("распределительный центр", "склад", "гипермаркет", "магазин", "сортировочный центр", "даркстор")
STREETS = ("ул. Лесная", "ул. Индустриальная", "Промышленный проезд", "ул. Складская", "ш. Энтузиастов",
           "ул. Ленина", "пр. Мира", "ул. Заводская", "ул. Транспортная", "Окружное ш.")  # fmt: skip

SITE_POSITIONS = (
    "Кладовщик", "Комплектовщик", "Грузчик", "Водитель погрузчика", "Оператор склада", "Упаковщик",
    "Сборщик заказов", "Кассир", "Продавец-консультант", "Мерчендайзер", "Уборщик производственных помещений",
    "Старший смены", "Бригадир", "Контролёр-приёмщик", "Сортировщик", "Курьер", "Повар", "Охранник",
)  # fmt: skip
OFFICE_POSITIONS = (
    "Генеральный директор", "Главный бухгалтер", "Бухгалтер", "Специалист по кадрам", "Менеджер по персоналу",
    "Менеджер объекта", "Территориальный управляющий", "Юрисконсульт", "Специалист по охране труда",
    "Рекрутер", "Системный администратор", "Офис-менеджер",
)  # fmt: skip
OFFICE_DEPARTMENTS = ("Бухгалтерия", "Отдел кадров", "Отдел подбора персонала", "Служба охраны труда")


@dataclass
class OrgTree:
    orgs: list[Org]
    depts: list[Dept]
    positions: list[Pos]
    sites: dict[str, list[str]]
    """Open client-site department refs per organisation ref."""
    offices: dict[str, list[str]]
    """Office department refs per organisation ref."""
    site_positions: list[str]
    office_positions: list[str]


def _org(rng: random.Random, brand: str, prefix: str, city: tuple[str, str, str], today: date) -> Org:
    _name, region, office = city
    return Org(
        ref=ids.new_ref(rng),
        name=f"ООО «{brand}»",
        full_name=f"Общество с ограниченной ответственностью «{brand}»",
        inn=ids.inn10(office, rng),
        kpp=ids.kpp(office, "01"),
        ogrn=ids.ogrn(today.year - rng.randint(3, 20), region, rng),
        head_org_ref=None,
        prefix=prefix,
    )


def _branch(rng: random.Random, head: Org, city: tuple[str, str, str]) -> Org:
    """A registered separate division (обособленное подразделение): an Организация with a head org."""
    return Org(
        ref=ids.new_ref(rng),
        name=f"{head.name} (филиал {city[0]})",
        full_name=f"{head.full_name}, обособленное подразделение в г. {city[0]}",
        inn=head.inn,
        kpp=ids.kpp(city[2], "43", rng),
        ogrn=head.ogrn,
        head_org_ref=head.ref,
        prefix=head.prefix,
    )


def generate_orgs(rng: random.Random, employees: int, today: date) -> OrgTree:
    """Three to five legal entities plus one branch, with department trees sized for ``employees``."""
    n_orgs = 3 + rng.randrange(3)
    picks = rng.sample(range(len(BRANDS)), n_orgs)
    cities = rng.sample(CITIES, n_orgs + 1)
    orgs = [_org(rng, BRANDS[i], PREFIXES[i], cities[k], today) for k, i in enumerate(picks)]
    orgs.append(_branch(rng, orgs[0], cities[-1]))
    positions = [Pos(ids.new_ref(rng), name) for name in SITE_POSITIONS + OFFICE_POSITIONS]
    site_positions = [p.ref for p in positions[: len(SITE_POSITIONS)]]
    office_positions = [p.ref for p in positions[len(SITE_POSITIONS) :]]
    depts: list[Dept] = []
    sites: dict[str, list[str]] = {}
    offices: dict[str, list[str]] = {}
    total_sites = max(len(orgs) * 3, employees // 60)
    weights = [rng.uniform(0.5, 2.0) for _ in orgs]
    scale = total_sites / sum(weights)
    for org, weight in zip(orgs, weights, strict=True):
        counter = iter(range(1, 10**6))

        def dept(
            parent: str | None, name: str, created: date, site: bool, org: Org = org, counter: Any = counter
        ) -> Dept:
            d = Dept(
                ids.new_ref(rng), org.ref, parent, f"00-{next(counter):06d}", name, created, is_site=site
            )
            depts.append(d)
            return d

        founded = today - timedelta(days=rng.randint(3 * 365, 12 * 365))
        admin = dept(None, "Администрация", founded, False)
        offices[org.ref] = [admin.ref] + [dept(admin.ref, n, founded, False).ref for n in OFFICE_DEPARTMENTS]
        org_sites: list[str] = []
        n_sites = max(3, round(weight * scale))
        clients = rng.sample(CLIENTS, min(len(CLIENTS), max(2, n_sites // 8)))
        client_depts = {c: dept(None, f"Объекты клиента «{c}»", founded, False) for c in clients}
        for _ in range(n_sites):
            client = rng.choice(clients)
            opened = founded + timedelta(days=rng.randint(0, max(1, (today - founded).days - 30)))
            name = (
                f"{client}: {rng.choice(SITE_KINDS)} {rng.choice(CITIES)[0]}, "
                f"{rng.choice(STREETS)}, {rng.randint(1, 120)}"
            )
            site = dept(client_depts[client].ref, name, opened, True)
            if rng.random() < 0.05:  # a contract that ended: disbanded, nobody works there any more
                site.disbanded_on = today - timedelta(days=rng.randint(30, 400))
                continue
            if rng.random() < 0.1:  # a large site split into shifts
                org_sites += [dept(site.ref, f"Смена {n}", opened, True).ref for n in (1, 2)]
            else:
                org_sites.append(site.ref)
        sites[org.ref] = org_sites
    return OrgTree(orgs, depts, positions, sites, offices, site_positions, office_positions)
