"""Identifiers of the generated 1C company: GUID refs and Russian tax ids with valid check digits.

Owns INN (10 and 12 digits), KPP and OGRN arithmetic and the GUID format 1C uses for refs.
Pure functions over a ``random.Random``; no state.
"""

from __future__ import annotations

import random

EMPTY_REF = "00000000-0000-0000-0000-000000000000"

_INN10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_A = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_B = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


def new_ref(rng: random.Random) -> str:
    """A random version-4 GUID string, lower case, as ``Ссылка.УникальныйИдентификатор()`` prints it."""
    n = rng.getrandbits(128)
    n = (n & ~(0xF000 << 64)) | (0x4000 << 64)  # version 4
    n = (n & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _check(digits: str, weights: tuple[int, ...]) -> str:
    return str(sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11 % 10)


def inn10(tax_office: str, rng: random.Random) -> str:
    """A legal entity's INN: 4-digit tax office, 5 random digits, one check digit."""
    body = tax_office + "".join(str(rng.randrange(10)) for _ in range(5))
    return body + _check(body, _INN10)


def inn12(tax_office: str, rng: random.Random) -> str:
    """A person's INN: 4-digit tax office, 6 random digits, two check digits."""
    body = tax_office + "".join(str(rng.randrange(10)) for _ in range(6))
    first = _check(body, _INN12_A)
    return body + first + _check(body + first, _INN12_B)


def kpp(tax_office: str, reason: str = "01", rng: random.Random | None = None) -> str:
    """KPP: tax office, reason code (01 head office, 43 branch), 3-digit sequence (no check digit)."""
    seq = f"{rng.randrange(1, 10):03d}" if rng else "001"
    return tax_office + reason + seq


def ogrn(year: int, region: str, rng: random.Random) -> str:
    """OGRN (13 digits): sign 1, two digits of the year, region, 7 digits, check = n mod 11 mod 10."""
    body = "1" + f"{year % 100:02d}" + region + "".join(str(rng.randrange(10)) for _ in range(7))
    return body + str(int(body) % 11 % 10)


def valid_inn(value: str) -> bool:
    if not value.isdigit():
        return False
    if len(value) == 10:
        return value[9] == _check(value[:9], _INN10)
    if len(value) == 12:
        return value[10] == _check(value[:10], _INN12_A) and value[11] == _check(value[:11], _INN12_B)
    return False


def valid_ogrn(value: str) -> bool:
    return len(value) == 13 and value.isdigit() and int(value[:12]) % 11 % 10 == int(value[12])
