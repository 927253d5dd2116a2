"""The renderer's shortcuts (theme.py) give what reportlab's general paths give: same bytes, same layout."""

from __future__ import annotations

import functools
import io
import zipfile
from typing import Any
from xml.sax.saxutils import escape

import pytest
from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import KeepTogether, Paragraph, Table

from include.form526.package import theme as pf
from include.form526.package.build import build_package
from tools import samples


def pdf_of(form: Any, auth: Any, name: str = "21-526EZ.pdf") -> bytes:
    with zipfile.ZipFile(io.BytesIO(build_package(samples.submission(form, auth)).data)) as archive:
        return archive.read(name)


TYPICAL = (samples.typical_form(), samples.typical_auth())
MANY_PAGES = samples.many_disabilities(60)


def test_ascii_split_is_what_reportlabs_loop_gives() -> None:
    pf.theme()
    font = pdfmetrics.getFont(pf.FONT)
    doc = pdfdoc.PDFDocument()
    for text in ("Left knee strain", "(a) \\ b) 100%", "x", "Café ñ", "", "tab\there"):
        assert font.splitString(text, doc) == TTFont.splitString(font, text, doc), text


@pytest.mark.parametrize(
    "sample", [TYPICAL, MANY_PAGES, samples.hostile_characters()], ids=["typical", "many", "hostile"]
)
def test_direct_ascii_text_writes_what_the_text_object_writes(
    sample: tuple[dict, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    put = pf._put_ascii
    monkeypatch.setattr(pf, "_put_ascii", lambda *a, **k: calls.append(1) or put(*a, **k))
    fast = pdf_of(*sample)
    assert calls  # the shortcut was taken
    monkeypatch.setattr(pf, "_ascii_select", lambda *a: "")
    assert pdf_of(*sample) == fast


@pytest.mark.parametrize("sample", [TYPICAL, MANY_PAGES], ids=["typical", "many"])
def test_keep_together_lays_out_as_reportlabs(sample: tuple[dict, dict], monkeypatch: pytest.MonkeyPatch) -> None:
    ours = pdf_of(*sample)
    monkeypatch.setattr(pf, "_KeepTogether", KeepTogether)
    assert pdf_of(*sample) == ours


def test_cached_font_objects_are_what_reportlab_makes(monkeypatch: pytest.MonkeyPatch) -> None:
    sample = samples.hostile_characters()  # several subsets, characters outside the BMP
    ours = pdf_of(*sample)

    def reportlab_add_objects(self: TTFont, doc: pdfdoc.PDFDocument) -> None:  # the previous implementation
        TTFont.addObjects(self, doc)
        for font in doc.idToObject["BasicFonts"].dict.values():
            cmap = doc.idToObject.get(getattr(getattr(font, "ToUnicode", None), "name", None))
            if isinstance(cmap, pdfdoc.PDFStream) and isinstance(cmap.content, str):
                cmap.content = pf._ASTRAL_CMAP_ENTRY.sub(pf._utf16_hex, cmap.content)

    monkeypatch.setattr(pf._Font, "addObjects", reportlab_add_objects)
    assert pdf_of(*sample) == ours


@pytest.mark.parametrize("text", ["Service relevance", "1. Veteran identification", "Pain " * 60 + "END"])
def test_one_line_paragraph_measures_and_splits_as_paragraph(text: str) -> None:
    t = pf.theme()
    for style in (t.heading, t.notice, t.value, t.block):
        line, paragraph = pf._Line(text.strip(), style), Paragraph(escape(text.strip()), style)
        assert line.wrap(300, 1000) == paragraph.wrap(300, 1000)
        assert len(line.split(300, 30)) == len(paragraph.split(300, 30))
        assert line.text == paragraph.text


def test_a_line_too_wide_becomes_a_wrapping_paragraph() -> None:
    line = pf._Line("Pain " * 60 + "END", pf.theme().value)
    assert line.wrap(300, 1000)[1] > 3 * pf.theme().value.leading and len(line.blPara.lines) > 3
    first, rest = line.split(300, 30)  # its parts are Paragraphs holding all its lines
    assert len(first.blPara.lines) + len(rest.wrap(300, 1000) and rest.blPara.lines) == len(line.blPara.lines)


@pytest.mark.parametrize("text", [
    "Obligation term of service from date",
    "Right hip pain secondary to Left knee strain, worse after long walks and on stairs",
    "123 Example Street\nApt 4\nSpringfield, VA 22150-1234 and a much longer line that has to wrap somewhere",
])
def test_cells_wrap_where_a_paragraph_wraps(text: str) -> None:
    width = 1.4 * 72
    cell = pf._cell(text, pf.FONT_BOLD, 8.5, width, pf.theme().label)
    assert isinstance(cell, str)
    paragraph = Paragraph(escape(text).replace("\n", "<br/>"), pf.theme().label)
    paragraph.wrap(width - pf.CELL_PADDING, 1000)
    assert len(cell.split("\n")) == len(paragraph.blPara.lines)
    assert cell.replace("\n", " ") == text.replace("\n", " ")


@pytest.mark.parametrize("text", ["x" * 200, "two  spaces " * 10, " leading space " * 8])
def test_cells_a_plain_wrap_would_change_stay_paragraphs(text: str) -> None:
    assert isinstance(pf._cell(text, pf.FONT, 9, 100, pf.theme().value), Paragraph)


def test_a_table_measured_tall_first_still_splits_like_a_fresh_one() -> None:
    rows = [(f"Label {n}", f"Value {n}") for n in range(60)]
    [measured] = pf.field_list(rows)
    [fresh] = pf.field_list(rows)
    measured.wrap(pf.CONTENT_WIDTH, 0xFFFFFFF)  # as inside a KeepTogether
    assert measured.wrap(pf.CONTENT_WIDTH, 200)[1] > 200
    first, rest = measured.split(pf.CONTENT_WIDTH, 200)
    expected = fresh.split(pf.CONTENT_WIDTH, 200)
    assert [len(part._cellvalues) for part in (first, rest)] == [len(part._cellvalues) for part in expected]
    assert isinstance(first, Table)


def test_every_cache_is_bounded() -> None:
    caches = [v for v in vars(pf).values() if isinstance(v, functools._lru_cache_wrapper)]
    assert len(caches) >= 5
    assert all(cache.cache_info().maxsize is not None for cache in caches if cache is not pf.theme)
