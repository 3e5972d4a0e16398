"""The Central Bank of Russia control key of a bank account, checked together with the bank's BIK.

The key (the 9th digit of a 20-digit account) makes the weighted sum of 23 digits end in 0: the three
BIK-derived digits, then the account; weights 7, 1, 3 repeating; the last digit of each product is
summed. For an account in a credit institution the three digits are the BIK's last three; for an account
held with a Bank of Russia division (BIK ending in 000, 001 or 002) they are ``0`` and the BIK's 5th and
6th digits. Source: the Bank of Russia's procedure for calculating the control key (Положение ЦБ РФ
№ 579-П, приложение «Порядок расчёта контрольного ключа в номере лицевого счёта»).
No maintained PyPI library covers it (python-stdnum has Russian INN/OGRN only), hence this module.
"""

from __future__ import annotations

import re

_WEIGHTS = ((7, 1, 3) * 8)[:23]
_BIK = re.compile(r"^04\d{7}$")
_ACCOUNT = re.compile(r"^\d{20}$")
_CBR_DIVISIONS = frozenset({"000", "001", "002"})


def is_bik(bik: str) -> bool:
    """Nine digits, beginning with the Russian country code 04."""
    return bool(_BIK.match(bik))


def is_account_number(account: str) -> bool:
    return bool(_ACCOUNT.match(account))


def _division_prefix(bik: str) -> str:
    return "0" + bik[4:6]


def _prefix(bik: str) -> str:
    return _division_prefix(bik) if bik[6:] in _CBR_DIVISIONS else bik[6:]


def _sum(prefix: str, account: str) -> int:
    return sum((int(d) * w) % 10 for d, w in zip(prefix + account, _WEIGHTS, strict=True))


def control_sum(bik: str, account: str) -> int:
    """The weighted sum of last digits for an account in the bank ``bik`` (a valid one ends in 0)."""
    return _sum(_prefix(bik), account)


def account_key_ok(bik: str, account: str) -> bool:
    """True when ``account`` passes its control key against ``bik`` (both already digits-only)."""
    if not (is_bik(bik) and is_account_number(account)):
        return False
    return control_sum(bik, account) % 10 == 0


def correspondent_account_ok(bik: str, account: str) -> bool:
    """The bank's correspondent account (30101…) is keyed with ``0`` and the BIK's 5th–6th digits."""
    if not (is_bik(bik) and is_account_number(account)):
        return False
    return _sum(_division_prefix(bik), account) % 10 == 0


def with_key(bik: str, account: str) -> str:
    """``account`` with its 9th digit replaced by the right key (to build test data)."""
    blank = account[:8] + "0" + account[9:]
    key = (control_sum(bik, blank) % 10 * 3) % 10
    return blank[:8] + str(key) + blank[9:]
