"""Long user text is laid out as bounded paragraphs (reportlab's layout of one paragraph is quadratic)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from xml.sax.saxutils import unescape

import pytest
from reportlab.platypus import Flowable, Paragraph, Table

from include.form526.package import theme as pf
from include.form526.package.build import build_package
from include.form526.package.text_safety import CHUNK_CHARS, CHUNK_LINES, markup_chunks
from tools import samples

# A bounded chunk: CHUNK_CHARS characters of text plus its line-break tags.
MAX_MARKUP = CHUNK_CHARS + CHUNK_LINES * len("<br/>")
SENTENCE = "Pain in the knee after the fall. "


def plain(markup: str) -> str:
    """The text a chunk shows (line breaks as newlines, no-break spaces of blank lines removed)."""
    return unescape(markup.replace("<br/>", "\n")).replace("\u00a0", "")


def test_chunks_hold_every_character_in_order() -> None:
    text = "First <b>line</b> & more\n\n" + SENTENCE * 300 + "\n" + "x" * 4000 + " tail\n" * 30
    chunks = markup_chunks(text)
    assert len(chunks) > 5
    rejoined = ""
    for chunk in chunks:
        shown = plain(chunk)
        # between chunks the text was cut at a newline, a space, or inside a long word
        rejoined += shown if not rejoined or text[len(rejoined)] not in "\n " else text[len(rejoined)] + shown
    assert rejoined == text


@pytest.mark.parametrize("text", [
    SENTENCE * 3000,                 # one long line
    "x" * 100_000,                   # one long word
    "line\n" * 20_000,               # many short lines
    "\n" * 5_000 + "end",            # blank lines
])
def test_chunks_are_bounded(text: str) -> None:
    chunks = markup_chunks(text)
    assert all(len(plain(c).replace("\n", "")) <= CHUNK_CHARS for c in chunks)
    assert all(c.count("<br/>") < CHUNK_LINES for c in chunks)
    assert all(plain(c).strip() or "\u00a0" in c for c in chunks)  # a blank line keeps its height


def test_short_text_is_one_paragraph_as_before() -> None:
    [paragraph] = pf.text_flowables("Knee <pain> & back\nsecond line")
    assert isinstance(paragraph, Paragraph)
    assert paragraph.text == "Knee &lt;pain&gt; &amp; back<br/>second line"


def test_long_text_becomes_bounded_paragraphs_with_spacing_only_around_the_whole() -> None:
    t = pf.theme()
    paragraphs = pf.text_flowables(SENTENCE * 1000 + "THE-END", t.block)
    assert len(paragraphs) > 10
    assert all(isinstance(p, Paragraph) and len(p.text) <= MAX_MARKUP for p in paragraphs)
    assert paragraphs[-1].text.endswith("THE-END")
    assert paragraphs[0].style.spaceAfter == 0 and paragraphs[-1].style.spaceAfter == t.block.spaceAfter


def test_a_long_heading_splits_into_bounded_paragraphs_and_only_the_last_keeps_with_next() -> None:
    run = pf.subheading("Condition 1: " + SENTENCE * 1000)
    parts = run.split(400, 600)
    assert len(parts) > 10
    assert all(isinstance(p, Paragraph) and len(p.text) <= MAX_MARKUP for p in parts)
    assert [p.getKeepWithNext() for p in parts] == [0] * (len(parts) - 1) + [1]


def _flowables(story: list[Any]) -> Iterator[Any]:
    """Every flowable of a story, descending into split-only text runs and table cells."""
    for item in story:
        if isinstance(item, pf.TextRun):
            yield from _flowables(item.split(400, 600))
        elif isinstance(item, Table):
            yield item
            yield from _flowables([cell for row in item._cellvalues for cell in row])
        else:
            yield item


def _long_everywhere(chars: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every kind of user text the renderers print, `chars` long."""
    form, auth = samples.ancillary_forms()
    big = (SENTENCE * (chars // len(SENTENCE) + 1))[:chars]
    f = samples.form526_of(form)
    auth["va_eauth_firstName"] = big
    f["overflowText"] = big
    f["disabilities"][0]["name"] = big
    f["disabilities"][0]["serviceRelevance"] = "x" * chars
    f["disabilities"][0]["secondaryDisabilities"][0]["name"] = big
    f["treatments"][0]["center"]["name"] = big
    f["veteran"]["currentMailingAddress"]["addressLine1"] = "line\n" * (chars // 5)
    f["toxicExposure"] = {big: {"iraq": True}, "specifyOtherExposures": {"description": big}}
    f["unknownKey"] = {big: big}
    form["form526_uploads"] = [{"name": big, "confirmationCode": "c1", "attachmentId": "L451"}]
    form["form4142"][big] = {"nested": big}
    form["form4142"]["limitedConsent"] = big
    return form, auth


def test_every_paragraph_the_renderers_make_from_long_input_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    stories: list[list[Flowable]] = []
    render = pf.render_pdf

    def capture(story: list[Flowable], **kwargs: Any) -> bytes:
        stories.append(list(story))
        return render(story, **kwargs)

    monkeypatch.setattr(pf, "render_pdf", capture)
    build_package(samples.submission(*_long_everywhere(60_000)))
    assert len(stories) == 4  # the 526EZ and three ancillary forms
    sizes = []
    for story in stories:
        for item in _flowables(story):
            if isinstance(item, Paragraph):
                sizes.append(len(item.text))
            elif isinstance(item, str):
                sizes.append(len(item))
    assert sizes and max(sizes) <= MAX_MARKUP
    # and the text really was long: it is all there, spread over many paragraphs
    assert sum(sizes) > 15 * 60_000


def test_a_long_table_value_leaves_the_table() -> None:
    story = pf.field_list([("Short", "value"), ("Center", "Clinic " * 15_000 + "END")])
    tables = [f for f in story if isinstance(f, Table)]
    assert len(tables) == 1 and len(tables[0]._cellvalues) == 1
    paragraphs = [f for f in story if isinstance(f, Paragraph)]
    assert paragraphs[-1].text.endswith("END") and all(len(p.text) <= MAX_MARKUP for p in paragraphs)


def test_no_markup_survives_unescaped_in_chunks() -> None:
    chunks = markup_chunks("<script>" * 1000 + "&" * 500)
    assert not any(re.search(r"<(?!br/>)", c) for c in chunks)
