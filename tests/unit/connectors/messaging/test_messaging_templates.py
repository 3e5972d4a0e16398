"""Invitation texts: Russian, carry the name and the URL, SMS fits two segments."""

from __future__ import annotations

import pytest

from connectors.errors import ConfigError
from connectors.messaging import invitation_email, invitation_sms, sms_segments

URL = "https://portal.example.ru/extranet/?invite=Ab12Cd"


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("я" * 70, 1),
        ("я" * 71, 2),
        ("я" * 134, 2),
        ("я" * 135, 3),
        ("{" * 80, 1),  # extended GSM characters count twice
        ("{" * 81, 2),
    ],
)
def test_segments(text: str, segments: int) -> None:
    assert sms_segments(text) == segments


def test_email_has_name_url_and_escaped_html() -> None:
    content = invitation_email("Мария", URL + "&x=<1>", portal="Кадры Плюс")
    assert content.subject == "Приглашение на портал «Кадры Плюс»"
    assert "Здравствуйте, Мария!" in content.text
    assert URL in content.text
    assert "&lt;1&gt;" in content.html and "<1>" not in content.html
    assert 'href="https://portal.example.ru/extranet/?invite=Ab12Cd&amp;x=' in content.html


def test_email_without_name_and_reminder() -> None:
    content = invitation_email("  ", URL, reminder=True)
    assert content.text.startswith("Здравствуйте!")
    assert content.subject.startswith("Напоминание")


@pytest.mark.parametrize("reminder", [False, True])
def test_sms_fits_two_segments_with_the_name(reminder: bool) -> None:
    text = invitation_sms("Александра", URL, reminder=reminder)
    assert text.startswith("Александра, ")
    assert text.endswith(URL)
    assert sms_segments(text) <= 2


def test_sms_drops_the_name_when_the_url_is_long() -> None:
    long_url = "https://portal.example.ru/" + "x" * 70
    text = invitation_sms("Константинопольская", long_url)
    assert "Константинопольская" not in text
    assert text.endswith(long_url)
    assert sms_segments(text) <= 2


def test_sms_with_an_impossible_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        invitation_sms("Иван", "https://portal.example.ru/" + "я" * 200)


@pytest.mark.parametrize("reminder", [False, True])
def test_email_promises_only_what_the_extranet_gives(reminder: bool) -> None:
    content = invitation_email("Мария", URL, reminder=reminder)
    assert "групп" in content.text and "документ" in content.text and "коллег" in content.text
    for promise in ("заявлен", "табел", "новост"):
        assert promise not in content.text and promise not in content.html
