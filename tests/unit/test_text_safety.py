"""Text cleaning for PDFs: control characters, markup escaping, glyph coverage, coercion."""

from __future__ import annotations

import pytest

from include.form526.package.text_safety import REPLACEMENT, clean_text, paragraph_markup, to_text
from include.form526.package.theme import theme


def test_control_characters_removed_newlines_kept_tabs_become_spaces():
    assert clean_text("a\x00b\x07c\x1bd\x7fe") == "abcde"
    assert clean_text("one\ntwo\r\nthree\rfour") == "one\ntwo\nthree\nfour"
    assert clean_text("col1\tcol2") == "col1 col2"


def test_invisible_format_characters_removed():
    # zero-width space, right-to-left override, BOM
    assert clean_text("ab\u200bc\u202ed\ufeff") == "abcd"


def test_markup_is_escaped_so_it_renders_literally():
    assert paragraph_markup("<b>Knee</b> & back") == "&lt;b&gt;Knee&lt;/b&gt; &amp; back"
    assert paragraph_markup("already &amp; escaped") == "already &amp;amp; escaped"
    assert paragraph_markup("line1\nline2") == "line1<br/>line2"


def test_characters_outside_the_font_are_replaced_visibly_not_dropped():
    covered = frozenset(range(0x20, 0x7F))
    assert clean_text("ab中c", covered, "?") == "ab?c"
    text = "名前 Kim 🦄"
    cleaned = clean_text(text, covered, "?")
    assert len(cleaned) == len(text)
    assert cleaned == "?? Kim ?"


def test_dejavu_covers_latin_extended_quotes_and_dashes():
    t = theme()
    text = "é ñ ł Ł ő Ő ç ø ß ’ ‘ “ ” — – …"
    assert clean_text(text, t.covered, t.replacement) == text


def test_dejavu_replaces_cjk_with_replacement_character():
    t = theme()
    assert t.replacement == REPLACEMENT
    assert clean_text("山田 太郎", t.covered, t.replacement) == f"{REPLACEMENT * 2} {REPLACEMENT * 2}"


def test_decomposed_accents_are_composed_so_the_font_can_draw_them():
    assert clean_text("Jose\u0301") == "José"


def test_lone_surrogate_does_not_crash():
    cleaned = clean_text("bad\ud800end")
    assert cleaned == f"bad{REPLACEMENT}end"
    cleaned.encode("utf-8")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        (True, "Yes"),
        (False, "No"),
        (42, "42"),
        (2.0, "2"),
        (2.5, "2.5"),
        ("text", "text"),
        (["a", None, 3], "a, 3"),
        ({"k": "v", "empty": None}, "k: v"),
    ],
)
def test_to_text_coerces_json_values(value, expected):
    assert to_text(value) == expected
