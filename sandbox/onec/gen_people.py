"""Generating persons (ФизическиеЛица): names, gender, birth dates, e-mails and phones with planted defects.

Owns the contact-data rules: mostly valid, unique e-mails and mobile phones in the formats people type
into 1C, plus configurable small shares that are missing, duplicated across persons or malformed — the
cases the bridge must quarantine. Deterministic per ``rng``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from sandbox.onec import ids
from sandbox.onec.model import PersonRec, Phone
from sandbox.onec.names import full_name, translit

DOMAINS = ("mail.ru", "yandex.ru", "gmail.com", "bk.ru", "list.ru", "inbox.ru", "rambler.ru", "ya.ru")
MOBILE_CODES = tuple(range(900, 1000))


@dataclass(frozen=True)
class ContactShares:
    """Shares (0..1) of persons whose contacts are defective on purpose."""

    missing_email: float = 0.04
    duplicate_email: float = 0.01
    malformed_email: float = 0.01
    second_email: float = 0.03
    missing_phone: float = 0.05
    duplicate_phone: float = 0.01
    malformed_phone: float = 0.01
    work_phone: float = 0.05
    foreign: float = 0.04
    """Persons with a Central Asian name and no patronymic."""
    female: float = 0.45
    missing_gender: float = 0.005
    """Persons whose Пол was never filled in (the name still has its gender)."""


def _mobile(rng: random.Random) -> str:
    code = rng.choice(MOBILE_CODES)
    a, b, c = rng.randrange(1000), rng.randrange(100), rng.randrange(100)
    style = rng.randrange(4)
    if style == 0:
        return f"+7 {code} {a:03d}-{b:02d}-{c:02d}"
    if style == 1:
        return f"8 ({code}) {a:03d}-{b:02d}-{c:02d}"
    if style == 2:
        return f"+7{code}{a:03d}{b:02d}{c:02d}"
    return f"8{code}{a:03d}{b:02d}{c:02d}"


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())[-10:]


def _malformed_phone(rng: random.Random) -> str:
    code = rng.choice(MOBILE_CODES)
    return rng.choice(
        (
            f"8{code}{rng.randrange(10**5):05d}",  # a digit short
            f"+7 ({code}) {rng.randrange(100):02d}-{rng.randrange(100):02d}",
            "нет",
            f"{code}-{rng.randrange(1000):03d}",
        )
    )


def _email(rng: random.Random, last: str, first: str, year: int, taken: set[str]) -> str:
    lat_last, lat_first = translit(last), translit(first)
    style = rng.randrange(4)
    if style == 0:
        local = f"{lat_last}.{lat_first[:1]}"
    elif style == 1:
        local = f"{lat_first}.{lat_last}"
    elif style == 2:
        local = f"{lat_last}{year % 100:02d}"
    else:
        local = f"{lat_first[:1]}{lat_last}{rng.randrange(1, 999)}"
    email = f"{local}@{rng.choice(DOMAINS)}"
    n = 1
    while email in taken:
        n += 1
        email = f"{local}{n}@{rng.choice(DOMAINS)}"
    taken.add(email)
    return email


def _malformed_email(rng: random.Random, last: str) -> str:
    local = translit(last)
    return rng.choice(
        (f"{local}.mail.ru", f"{local}@@mail.ru", f"{local}@mail", f"{local}@mail..ru", f"{local} @yandex.ru")
    )


def generate_persons(rng: random.Random, count: int, today: date, shares: ContactShares) -> list[PersonRec]:
    """``count`` persons aged 18..64 on ``today``; contact defects planted at the configured shares."""
    persons: list[PersonRec] = []
    emails_taken: set[str] = set()
    all_emails: list[str] = []
    all_phones: list[str] = []
    phones_taken: set[str] = set()
    rnd = rng.random
    for _ in range(count):
        female = rnd() < shares.female
        last, first, middle = full_name(rng, female, foreign=rnd() < shares.foreign)
        birth = today - timedelta(days=rng.randint(18 * 365 + 5, 64 * 365))
        gender = None if rnd() < shares.missing_gender else "Female" if female else "Male"
        person = PersonRec(ids.new_ref(rng), last, first, middle, birth, gender)
        r = rnd()
        if r < shares.missing_email:
            pass
        elif r < shares.missing_email + shares.duplicate_email and all_emails:
            person.emails.append(rng.choice(all_emails))
        elif r < shares.missing_email + shares.duplicate_email + shares.malformed_email:
            person.emails.append(_malformed_email(rng, last))
        else:
            person.emails.append(_email(rng, last, first, birth.year, emails_taken))
            if rnd() < shares.second_email:
                person.emails.append(_email(rng, last, first, birth.year, emails_taken))
            all_emails.append(person.emails[0])
        r = rnd()
        if r < shares.missing_phone:
            pass
        elif r < shares.missing_phone + shares.duplicate_phone and all_phones:
            person.phones.append(Phone("Mobile", rng.choice(all_phones)))
        elif r < shares.missing_phone + shares.duplicate_phone + shares.malformed_phone:
            person.phones.append(Phone("Mobile", _malformed_phone(rng)))
        else:
            phone = _mobile(rng)
            while _digits(phone) in phones_taken:  # unique unless duplicated on purpose
                phone = _mobile(rng)
            phones_taken.add(_digits(phone))
            person.phones.append(Phone("Mobile", phone))
            all_phones.append(phone)
        if rnd() < shares.work_phone:
            person.phones.append(
                Phone("Work", f"+7 495 {rng.randrange(1000):03d}-{rng.randrange(10000):04d}")
            )
        persons.append(person)
    return persons


def random_person(rng: random.Random, today: date) -> PersonRec:
    """One new person for a hire through the mutation API (always with valid contacts)."""
    return generate_persons(
        rng,
        1,
        today,
        ContactShares(
            missing_email=0,
            duplicate_email=0,
            malformed_email=0,
            missing_phone=0,
            malformed_phone=0,
            missing_gender=0,
        ),
    )[0]
