"""The PHP bracket-form parser: any body is either a nested form or a FormError (never another error), and
what PHP's http_build_query writes (the sandbox's encoder) reads back as it was written."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sandbox.bitrix24.params import encode_form
from tests.fuzzing import EXAMPLES
from webhooks.forms import MAX_DEPTH, MAX_FIELDS, FormError, form_pairs, parse_php_form

names = st.from_regex(r"\A[A-Za-z0-9_]{1,12}\Z")
texts = st.text(st.characters(exclude_categories=["Cc", "Cs"]), max_size=40)
values = st.recursive(
    texts, lambda inner: st.dictionaries(names, inner, min_size=1, max_size=4), max_leaves=8
)
forms = st.dictionaries(names, values, min_size=1, max_size=4)


def _depth(value: Any) -> int:
    return 1 + max((_depth(v) for v in value.values()), default=0) if isinstance(value, dict) else 0


@settings(max_examples=EXAMPLES, deadline=None)
@given(forms)
def test_what_http_build_query_writes_reads_back(form: dict[str, Any]) -> None:
    if _depth(form) > MAX_DEPTH:
        with pytest.raises(FormError):
            parse_php_form(encode_form(form))
        return
    assert parse_php_form(encode_form(form)) == form


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_any_body_is_a_form_or_a_form_error(body: bytes | str) -> None:
    try:
        parsed = parse_php_form(body)
    except FormError as exc:
        assert str(exc)
    else:
        assert isinstance(parsed, dict)


keys = st.lists(st.sampled_from(["a", "b", "[", "]", "[]", "[x]", "[0]", "%5B", "&", "="]), max_size=8).map(
    "".join
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(st.tuples(keys, texts), max_size=8))
def test_bracket_soup_is_a_form_or_a_form_error(pairs: list[tuple[str, str]]) -> None:
    try:
        parsed = parse_php_form(urlencode(pairs))
    except FormError as exc:
        assert "field" in str(exc) or "name" in str(exc)
    else:
        assert all(key and "[" not in key for key in parsed)


@pytest.mark.parametrize(
    "body",
    [
        "data[FIELDS]=x&data[FIELDS][ID]=1",
        "data[FIELDS][ID]=1&data[FIELDS]=x",
        "a[]=1&a[x]=2",
        "a=1&a[b]=2",
        "a[b][c]=1&a[b]=2",
        "a[b]=1&a[b][c]=2",
        "a[b]]=1",
        "a[[b]=1",
        "a[b=1",
        "=x",
        "a=%ff",
        "a=%01",
        "a" + "[b]" * MAX_DEPTH + "=1",
        "&".join(f"k{i}=1" for i in range(1001)),
    ],
)
def test_ambiguous_or_hostile_forms_are_refused(body: str) -> None:
    with pytest.raises(FormError):
        parse_php_form(body)


def test_lists_and_numbered_keys_read_as_php_does() -> None:
    assert parse_php_form("a[b][c]=1&a[d][]=2&a[d][]=3&x=") == {
        "a": {"b": {"c": "1"}, "d": ["2", "3"]},
        "x": "",
    }
    assert parse_php_form("document_id[0]=lists&document_id[1]=B") == {
        "document_id": {"0": "lists", "1": "B"}
    }


pieces = st.lists(
    st.sampled_from(
        ["a", "é", "+", "=", "&", "%", "%5B", "%5D", "%7C", "%5b", "%2", "%ZZ", "%C3%A9", "%FF", "[", "]"]
    ),
    max_size=12,
).map("".join)


@settings(max_examples=EXAMPLES, deadline=None)
@example("document_id%5B0%5D=lists&event_token=1.2%7CA_x%7C0.f&x")
@example("auth%5bmember_id%5d=%7c%2B+&=&&a=%FF")
@given(st.one_of(pieces, st.text(max_size=200), st.lists(st.tuples(texts, texts), max_size=6).map(urlencode)))
def test_pairs_are_read_as_urllib_reads_them(body: str) -> None:
    """``form_pairs`` is ``parse_qsl`` (keep_blank_values, strict UTF-8) with a fast path: same pairs,
    and a FormError exactly where parse_qsl raises."""
    try:
        expected = parse_qsl(body, keep_blank_values=True, errors="strict", max_num_fields=MAX_FIELDS)
    except ValueError:  # UnicodeDecodeError is one
        with pytest.raises(FormError):
            form_pairs(body)
        return
    assert form_pairs(body) == expected
