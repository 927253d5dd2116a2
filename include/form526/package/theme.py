"""Fonts, shared styles and the page frame used by every generated PDF.

Everything expensive (TTF parsing, styles, table styles) is built once per process
and reused: the backlog is ~150k packages, so per-document set-up matters.
The font is DejaVu Sans from matplotlib's wheel: unlike reportlab's Type 1 fonts
and its bundled Vera, it covers Latin Extended (é ñ ł ő), curly quotes and dashes.
"""

from __future__ import annotations

import functools
import io
import os
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import matplotlib
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.pdfbase import pdfdoc, pdfmetrics, ttfonts
from reportlab.pdfbase.ttfonts import TTFont, TTFontFace
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from include.form526.package.text_safety import (
    CHUNK_CHARS,
    CHUNK_LINES,
    FALLBACK_REPLACEMENT,
    REPLACEMENT,
    clean_text,
    markup_chunks,
    markup_of_clean,
)

FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"
FONT_DIR = os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "fonts", "ttf")

PAGE_SIZE = LETTER
MARGIN = 0.7 * inch
LABEL_WIDTH = 2.2 * inch
FRAME_PADDING = 6  # platypus Frame default, on each side
CONTENT_WIDTH = PAGE_SIZE[0] - 2 * MARGIN - 2 * FRAME_PADDING

# A value longer than this leaves the label/value table and becomes a free paragraph:
# a table row cannot split across pages, a paragraph can.
LONG_VALUE_CHARS = 500
LONG_VALUE_LINES = 8
LONG_LABEL_CHARS = 120
CELL_PADDING = 8

NOT_PROVIDED = "Not provided"

# Fixed document metadata; with invariant=1 reportlab also fixes the creation date
# and file id, so identical input gives identical bytes.
AUTHOR = "VA.gov Form 526 backlog remediation"
CREATOR = "form526 backlog package builder"


@dataclass(frozen=True)
class Theme:
    """Registered font coverage and the shared styles."""

    covered: frozenset[int]
    replacement: str
    title: ParagraphStyle
    subtitle: ParagraphStyle
    notice: ParagraphStyle
    heading: ParagraphStyle
    subheading: ParagraphStyle
    minor: ParagraphStyle
    label: ParagraphStyle
    value: ParagraphStyle
    muted: ParagraphStyle
    block: ParagraphStyle
    fields: TableStyle
    grid: TableStyle


@functools.lru_cache(maxsize=256)
def _font_subset(face: TTFontFace, subset: tuple[int, ...]) -> tuple[int, bytes]:
    """(uncompressed length, deflated bytes) of one TTF subset. Documents of the backlog use few distinct
    subsets (subset 0 is ASCII plus the first non-ASCII characters met), so this is nearly always a hit."""
    raw = face.makeSubset(list(subset))
    return len(raw), zlib.compress(raw)


class _SubsetCachingFace(TTFontFace):
    """A TTF face whose embedded subsets are built and deflated once per process, not once per document.

    Same objects, same bytes as reportlab's own ``addSubsetObjects`` (the font file is deflated
    with zlib's default level, as ``PDFZCompress`` does); only the work is shared.
    """

    def addSubsetObjects(self, doc, fontname, subset):
        length, deflated = _font_subset(self, tuple(subset))
        font_file = pdfdoc.PDFStream()
        font_file.dictionary["Length1"] = length
        if doc.compression:
            font_file.content = deflated
            font_file.dictionary["Filter"] = pdfdoc.PDFArray([pdfdoc.PDFName(pdfdoc.PDFZCompress.pdfname)])
        else:
            font_file.content = zlib.decompress(deflated)
        font_file_ref = doc.Reference(font_file, f"fontFile:{self.filename}({fontname})")
        descriptor = pdfdoc.PDFDictionary({
            "Type": "/FontDescriptor",
            "Ascent": self.ascent,
            "CapHeight": self.capHeight,
            "Descent": self.descent,
            "Flags": (self.flags & ~ttfonts.FF_NONSYMBOLIC) | ttfonts.FF_SYMBOLIC,
            "FontBBox": pdfdoc.PDFArray(self.bbox),
            "FontName": pdfdoc.PDFName(fontname),
            "ItalicAngle": self.italicAngle,
            "StemV": self.stemV,
            "FontFile2": font_file_ref,
            "MissingWidth": self.defaultWidth,
        })
        return doc.Reference(descriptor, "fontDescriptor:" + fontname)


# A ToUnicode entry whose Unicode value has 5 or 6 hex digits: a code point outside the BMP.
_ASTRAL_CMAP_ENTRY = re.compile(r"^(<[0-9A-F]{2}>) <([0-9A-F]{5,6})>$", re.MULTILINE)


def _utf16_hex(match: re.Match[str]) -> str:
    return f"{match[1]} <{chr(int(match[2], 16)).encode('utf-16-be').hex().upper()}>"


class _Font(TTFont):
    """reportlab's TTFont, with a valid ToUnicode map for characters outside the BMP.

    DejaVu Sans draws some of them (emoticons U+1F600-U+1F640, mathematical letters, Old Italic), but
    reportlab writes each ToUnicode entry as ``<%04X>``: U+1F600 becomes ``<1F600>``, an odd number of
    hex digits that strict readers reject (and text extraction loses). The PDF Reference wants UTF-16BE
    there, i.e. a surrogate pair (``<D83DDE00>``); such entries are rewritten once reportlab has made
    the font objects. Only this font class is changed, not reportlab.
    """

    def addObjects(self, doc: pdfdoc.PDFDocument) -> None:
        super().addObjects(doc)
        for font in doc.idToObject["BasicFonts"].dict.values():
            reference = getattr(font, "ToUnicode", None)
            cmap = doc.idToObject.get(getattr(reference, "name", None))
            if isinstance(cmap, pdfdoc.PDFStream) and isinstance(cmap.content, str):
                cmap.content = _ASTRAL_CMAP_ENTRY.sub(_utf16_hex, cmap.content)


def _ttf(name: str, file_name: str) -> TTFont:
    font = _Font(name, os.path.join(FONT_DIR, file_name))
    font.face.__class__ = _SubsetCachingFace  # same data, cached subsets
    return font


@functools.cache
def theme() -> Theme:
    """Register the fonts (once per process) and build the shared styles."""
    # Binary (deflated) streams instead of ASCII85-wrapped ones: ~7% faster, ~1% smaller, still
    # deterministic. reportlab reads this when a document is built; nothing else here makes PDFs.
    rl_config.useA85 = 0
    regular = _ttf(FONT, "DejaVuSans.ttf")
    bold = _ttf(FONT_BOLD, "DejaVuSans-Bold.ttf")
    pdfmetrics.registerFont(regular)
    pdfmetrics.registerFont(bold)
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD)
    # Text may be drawn in either weight, so only code points both faces have count as covered.
    covered = frozenset(regular.face.charToGlyph) & frozenset(bold.face.charToGlyph)
    replacement = REPLACEMENT if ord(REPLACEMENT) in covered else FALLBACK_REPLACEMENT

    base = ParagraphStyle("base", fontName=FONT, fontSize=9, leading=11.5, splitLongWords=1)
    return Theme(
        covered=covered,
        replacement=replacement,
        title=ParagraphStyle("title", parent=base, fontName=FONT_BOLD, fontSize=16, leading=20),
        subtitle=ParagraphStyle("subtitle", parent=base, fontName=FONT_BOLD, fontSize=11, leading=14),
        notice=ParagraphStyle(
            "notice", parent=base, fontName=FONT_BOLD, fontSize=9.5, leading=12.5, alignment=TA_CENTER,
            textColor=colors.HexColor("#7a1f00"), backColor=colors.HexColor("#fff3cd"),
            borderColor=colors.HexColor("#c8a200"), borderWidth=0.6, borderPadding=5,
            spaceBefore=8, spaceAfter=10,
        ),
        heading=ParagraphStyle(
            "heading", parent=base, fontName=FONT_BOLD, fontSize=11, leading=14, textColor=colors.white,
            backColor=colors.HexColor("#1f3a5f"), borderPadding=(3, 4, 3, 4), spaceBefore=12, spaceAfter=6,
            keepWithNext=1,
        ),
        subheading=ParagraphStyle(
            "subheading", parent=base, fontName=FONT_BOLD, fontSize=9.5, leading=12, spaceBefore=7, spaceAfter=3,
            keepWithNext=1,
            textColor=colors.HexColor("#1f3a5f"),
        ),
        minor=ParagraphStyle(
            "minor", parent=base, fontName=FONT_BOLD, fontSize=8.5, leading=11, spaceBefore=5, spaceAfter=2,
            keepWithNext=1,
            textColor=colors.HexColor("#444444"),
        ),
        label=ParagraphStyle("label", parent=base, fontName=FONT_BOLD, fontSize=8.5, leading=11),
        value=base,
        muted=ParagraphStyle("muted", parent=base, textColor=colors.HexColor("#666666")),
        block=ParagraphStyle("block", parent=base, leftIndent=12, spaceAfter=4),
        fields=TableStyle([
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("FONTNAME", (0, 0), (0, -1), FONT_BOLD),
            ("FONTNAME", (1, 0), (1, -1), FONT),
            ("FONTSIZE", (0, 0), (0, -1), 8.5),
            ("FONTSIZE", (1, 0), (1, -1), 9),
            ("LEADING", (0, 0), (-1, -1), 11),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ("TOPPADDING", (0, 0), (-1, -1), 1.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
            ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#d0d7e1")),
            ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f2f5f9")),
        ]),
        grid=TableStyle([
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("FONTNAME", (0, 0), (-1, 0), FONT_BOLD),
            ("FONTNAME", (0, 1), (-1, -1), FONT),
            ("FONTSIZE", (0, 0), (-1, -1), 8.5),
            ("LEADING", (0, 0), (-1, -1), 11),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ("TOPPADDING", (0, 0), (-1, -1), 1.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f2f5f9")),
            ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#d0d7e1")),
        ]),
    )


class TextRun(Flowable):
    """Long text as consecutive bounded paragraphs, where one flowable is wanted (headings); never in a table.

    It always asks to be split (the idiom of reportlab's own KeepTogether) and splits into its
    paragraphs, which the frame then lays out one by one: linear time however long the text.
    """

    def __init__(self, paragraphs: list[Paragraph]) -> None:
        super().__init__()
        self._paragraphs = paragraphs

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return availWidth, 0xFFFFFF

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        return list(self._paragraphs)

    def draw(self) -> None:  # never drawn: always split first
        pass


def text_flowables(value: object, style: ParagraphStyle | None = None) -> list[Flowable]:
    """`value` shown literally (escaped, cleaned, undrawable chars replaced), as paragraphs.

    Short text is one Paragraph. Longer text is cut into paragraphs of at most CHUNK_LINES lines
    and about CHUNK_CHARS characters: reportlab lays out and splits one paragraph in time quadratic
    in its length (a 1 MB paragraph took minutes), bounded ones in linear time overall.
    """
    t = theme()
    return _paragraphs(clean_text(value, t.covered, t.replacement), style or t.value)


def _paragraphs(text: str, style: ParagraphStyle) -> list[Flowable]:
    """Paragraphs for text that already went through clean_text."""
    if len(text) <= CHUNK_CHARS and text.count("\n") < CHUNK_LINES:
        return [Paragraph(markup_of_clean(text), style)]
    chunks = markup_chunks(text)
    if len(chunks) == 1:
        return [Paragraph(chunks[0], style)]
    first, middle, last = _run_styles(style)
    return [
        Paragraph(chunk, first if i == 0 else last if i == len(chunks) - 1 else middle)
        for i, chunk in enumerate(chunks)
    ]


@functools.lru_cache(maxsize=16)
def _run_styles(style: ParagraphStyle) -> tuple[ParagraphStyle, ParagraphStyle, ParagraphStyle]:
    """Styles for the first, middle and last chunk of one text: the space around a paragraph goes only
    around the whole text, and only the last chunk keeps a heading's keepWithNext (platypus groups a
    run of keepWithNext flowables into one KeepTogether re-measured per member: quadratic)."""
    first = ParagraphStyle(f"{style.name}-first", parent=style, spaceAfter=0, keepWithNext=0)
    middle = ParagraphStyle(f"{style.name}-middle", parent=first, spaceBefore=0)
    last = ParagraphStyle(f"{style.name}-last", parent=style, spaceBefore=0)
    return first, middle, last


def safe_paragraph(value: object, style: ParagraphStyle | None = None) -> Flowable:
    """One flowable showing `value` literally: a Paragraph, or a run of bounded ones when it is long."""
    paragraphs = text_flowables(value, style)
    return paragraphs[0] if len(paragraphs) == 1 else TextRun(paragraphs)


def safe_text(value: object) -> str:
    """Plain cleaned text, for places that are not Paragraphs (e.g. canvas strings)."""
    t = theme()
    return clean_text(value, t.covered, t.replacement)


def heading(text: str) -> Flowable:
    return safe_paragraph(text, theme().heading)


def subheading(text: object) -> Flowable:
    return safe_paragraph(text, theme().subheading)


def minor_heading(text: object) -> Flowable:
    return safe_paragraph(text, theme().minor)


def note(text: object) -> Flowable:
    return safe_paragraph(text, theme().muted)


def field_list(rows: Iterable[tuple[object, object]]) -> list[Flowable]:
    """Label/value rows as tables; long values become free paragraphs that can split across pages.

    An empty value (None or '') is shown as "Not provided" so a reader sees the field was checked.
    """
    t = theme()
    out: list[Flowable] = []
    pending: list[list[object]] = []

    def flush() -> None:
        if pending:
            table = Table(pending[:], colWidths=(LABEL_WIDTH, CONTENT_WIDTH - LABEL_WIDTH), hAlign="LEFT")
            table.setStyle(t.fields)
            out.append(table)
            pending.clear()

    for label, value in rows:
        label_text = safe_text(label)
        value_text = safe_text(value)
        label_cell = _cell(label_text, FONT_BOLD, 8.5, LABEL_WIDTH, t.label)
        if not value_text.strip():
            pending.append([label_cell, Paragraph(NOT_PROVIDED, t.muted)])
            continue
        if _is_long(value_text) or len(label_text) > LONG_LABEL_CHARS:
            flush()
            out += _paragraphs(label_text, t.label)
            out += _paragraphs(value_text, t.block)
            continue
        pending.append([label_cell, _cell(value_text, FONT, 9, CONTENT_WIDTH - LABEL_WIDTH, t.value)])
    flush()
    return out


def grid(header: list[str], rows: list[list[object]], widths: tuple[float, ...]) -> list[Flowable]:
    """A multi-column table (header repeated on each page); falls back to a field list when a cell is long."""
    t = theme()
    texts = [[safe_text(v) for v in row] for row in rows]
    if any(_is_long(cell) for row in texts for cell in row):
        return field_list(
            (f"{header[col]} ({number})", cell)
            for number, row in enumerate(texts, start=1) for col, cell in enumerate(row)
        )
    col_widths = [CONTENT_WIDTH * w for w in widths]
    data: list[list[object]] = [
        [_cell(safe_text(h), FONT_BOLD, 8.5, width, t.label) for h, width in zip(header, col_widths, strict=True)]
    ]
    data += [
        [_cell(cell, FONT, 8.5, width, t.value) if cell else "" for cell, width in zip(row, col_widths, strict=True)]
        for row in texts
    ]
    table = Table(data, colWidths=col_widths, hAlign="LEFT", repeatRows=1)
    table.setStyle(t.grid)
    return [table]


def _is_long(text: str) -> bool:
    return len(text) > LONG_VALUE_CHARS or text.count("\n") > LONG_VALUE_LINES


def _cell(text: str, font: str, size: float, width: float, style: ParagraphStyle) -> str | Paragraph:
    """A plain string when the text fits on one line (much cheaper to lay out), else a wrapping Paragraph."""
    if "\n" not in text and pdfmetrics.stringWidth(text, font, size) <= width - CELL_PADDING:
        return text
    return Paragraph(markup_of_clean(text), style)


def spacer(height: float = 4) -> Spacer:
    return Spacer(1, height)


class _FooterCanvas(Canvas):
    """Canvas that defers pages until save() so each footer can say "Page N of M"."""

    def __init__(self, *args: object, footer: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._footer = footer
        self._pages: list[dict] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self._draw_footer(number, total)
            super().showPage()
        super().save()

    def _draw_footer(self, number: int, total: int) -> None:
        width = self._pagesize[0]
        y = MARGIN / 2
        self.saveState()
        self.setStrokeColor(colors.HexColor("#9aa7b8"))
        self.setLineWidth(0.4)
        self.line(MARGIN, y + 10, width - MARGIN, y + 10)
        self.setFont(FONT, 8)
        self.setFillColor(colors.HexColor("#333333"))
        self.drawString(MARGIN, y, self._footer)
        self.drawRightString(width - MARGIN, y, f"Page {number} of {total}")
        self.restoreState()


def render_pdf(story: list[Flowable], *, title: str, subject: str, footer: str) -> bytes:
    """Build `story` into PDF bytes with fixed metadata and the shared footer."""
    theme()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=PAGE_SIZE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=title,
        subject=subject,
        author=AUTHOR,
        creator=CREATOR,
        producer=CREATOR,
        invariant=1,
        pageCompression=1,
    )
    doc.build(story, canvasmaker=functools.partial(_FooterCanvas, footer=footer))
    return buffer.getvalue()
