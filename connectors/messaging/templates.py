"""Invitation texts in Russian: an e-mail (subject, plain text, simple HTML) and an SMS of at most two
segments. Pure functions; the caller supplies the invitee's first name and the portal's invite URL.

SMS length: text outside the GSM 7-bit alphabet (any Cyrillic) is sent as UCS-2 — 70 characters in one
segment, 67 per segment when split — so two segments hold 134 characters. ``invitation_sms`` tries a
friendly text first and falls back to shorter ones; a URL too long for even the shortest is a config
error (use a shorter invite URL).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from connectors.errors import ConfigError

MAX_SMS_SEGMENTS = 2
_GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


@dataclass(frozen=True)
class EmailContent:
    subject: str
    text: str
    html: str


def sms_segments(text: str) -> int:
    """How many SMS segments ``text`` takes (GSM 7-bit 160/153, otherwise UCS-2 70/67)."""
    if all(ch in _GSM7 or ch in _GSM7_EXTENDED for ch in text):
        units = sum(2 if ch in _GSM7_EXTENDED else 1 for ch in text)
        single, multi = 160, 153
    else:
        # UCS-2 counts UTF-16 code units: a character outside the BMP (an emoji) takes two.
        units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)
        single, multi = 70, 67
    if units <= single:
        return 1
    return -(-units // multi)


def _greeting(first_name: str) -> str:
    name = first_name.strip()
    return f"Здравствуйте, {name}!" if name else "Здравствуйте!"


def invitation_email(first_name: str, url: str, *, portal: str = "", reminder: bool = False) -> EmailContent:
    """The invitation e-mail; ``portal`` names it in the subject; ``reminder`` for a repeated invitation."""
    where = f"портал «{portal.strip()}»" if portal.strip() else "портал сотрудников"
    subject = f"Напоминание о приглашении на {where}" if reminder else f"Приглашение на {where}"
    # Only what the extranet gives today: the portal pages and HR processes are not mounted yet.
    offer = "где вы увидите свои рабочие группы, документы, которыми в них делятся, и коллег."
    lead = (
        f"Напоминаем: вы ещё не вошли на портал, {offer}"
        if reminder
        else f"Вас пригласили на портал, {offer}"
    )
    text = (
        f"{_greeting(first_name)}\n\n{lead}\n\n"
        f"Чтобы войти, откройте ссылку и задайте пароль:\n{url}\n\n"
        "Если вы не ждали этого письма, просто не отвечайте на него.\n"
    )
    safe_url = escape(url, quote=True)
    html = (
        '<!DOCTYPE html>\n<html lang="ru"><head><meta charset="utf-8"></head><body>\n'
        f"<p>{escape(_greeting(first_name))}</p>\n<p>{escape(lead)}</p>\n"
        f'<p><a href="{safe_url}">Войти на портал</a></p>\n'
        f"<p>Если кнопка не работает, скопируйте ссылку в браузер:<br>{safe_url}</p>\n"
        "<p>Если вы не ждали этого письма, просто не отвечайте на него.</p>\n</body></html>\n"
    )
    return EmailContent(subject=subject, text=text, html=html)


def invitation_sms(first_name: str, url: str, *, reminder: bool = False) -> str:
    """The invitation SMS, at most two segments; raises ConfigError if the URL leaves no room."""
    name = first_name.strip()
    phrase = (
        "напоминаем о приглашении на портал сотрудников"
        if reminder
        else "вас пригласили на портал сотрудников"
    )
    short = "Напоминание о приглашении на портал" if reminder else "Приглашение на портал сотрудников"
    candidates = [
        f"{name}, {phrase}. Вход: {url}" if name else "",
        f"{short}: {url}",
        f"Портал сотрудников: {url}",
    ]
    for text in candidates:
        if text and sms_segments(text) <= MAX_SMS_SEGMENTS:
            return text
    raise ConfigError(
        "the invite URL is too long for a two-segment SMS; configure a shorter URL",
        internal=f"url_length={len(url)}",
    )
