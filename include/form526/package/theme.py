"""Fonts, shared styles and the page frame used by every generated PDF.

Everything expensive (TTF parsing, styles, table styles, font subsets and their widths and
ToUnicode maps) is built once per process, in bounded caches, and reused: the backlog is
~150k packages, so per-document set-up matters. The pages are mostly label/value tables and
one-line headings, so those take shorter paths than reportlab's general ones (each says what
it replaces and falls back to it): string cells wrapped here and drawn in one text object per
table (_Table), one-line paragraphs without the markup parser (_Line), printable ASCII written
straight into the text object (_put_ascii), keep-with-next groups measured without copying
the frame (_KeepTogether). The font is DejaVu Sans from matplotlib's wheel: unlike reportlab's Type 1 fonts
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
from typing import Any

import matplotlib
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.geomutils import normalizeTRBL
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.rl_accel import escapePDF, fp_str
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.pdfbase import pdfdoc, pdfmetrics, ttfonts
from reportlab.pdfbase.ttfonts import TTFont, TTFontFace
from reportlab.pdfgen.canvas import Canvas
from reportlab.pdfgen.textobject import PDFTextObject
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.tables import CellStyle
from reportlab.rl_config import _FUZZ

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
CELL_PADDING = 6  # a cell's LEFTPADDING + RIGHTPADDING in Theme.fields and Theme.grid

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


def _subset_descriptor(face: TTFontFace, doc: pdfdoc.PDFDocument, fontname: str, subset: list[int]) -> Any:
    """reportlab's ``TTFontFace.addSubsetObjects``, with the embedded subset built and deflated once per process,
    not once per document: the same objects and bytes (the font file deflated with zlib's default level, as
    ``PDFZCompress`` does); only the work is shared. This and ``_Font.addObjects`` are the only places that rely
    on reportlab's font internals; tests/unit/test_package_render.py compares their bytes with reportlab's own."""
    length, deflated = _font_subset(face, tuple(subset))
    font_file = pdfdoc.PDFStream()
    font_file.dictionary["Length1"] = length
    if doc.compression:
        font_file.content = deflated
        font_file.dictionary["Filter"] = pdfdoc.PDFArray([pdfdoc.PDFName(pdfdoc.PDFZCompress.pdfname)])
    else:
        font_file.content = zlib.decompress(deflated)
    font_file_ref = doc.Reference(font_file, f"fontFile:{face.filename}({fontname})")
    descriptor = pdfdoc.PDFDictionary({
        "Type": "/FontDescriptor",
        "Ascent": face.ascent,
        "CapHeight": face.capHeight,
        "Descent": face.descent,
        "Flags": (face.flags & ~ttfonts.FF_NONSYMBOLIC) | ttfonts.FF_SYMBOLIC,
        "FontBBox": pdfdoc.PDFArray(face.bbox),
        "FontName": pdfdoc.PDFName(fontname),
        "ItalicAngle": face.italicAngle,
        "StemV": face.stemV,
        "FontFile2": font_file_ref,
        "MissingWidth": face.defaultWidth,
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
    there, i.e. a surrogate pair (``<D83DDE00>``); such entries are rewritten when the font objects are
    made. Only this font class is changed, not reportlab.
    """

    def splitString(self, text: str, doc: pdfdoc.PDFDocument, encoding: str = "utf-8") -> list[tuple[int, bytes]]:
        """reportlab's (subset, bytes) runs of `text`, without its per-character loop for printable ASCII.

        With ``asciiReadable`` (reportlab's default) a document's subset 0 maps printable ASCII to
        itself from the start, so such text is always the one run ``(0, text)``: the same answer the
        loop gives. Anything else, or a document's first string (which creates its state), takes it.
        """
        if (
            self._asciiReadable and text.isascii() and text.isprintable() and text
            and doc in self.state and _ascii_drawable(self.face)
        ):
            return [(0, text.encode("ascii"))]
        return super().splitString(text, doc, encoding)

    def addObjects(self, doc: pdfdoc.PDFDocument) -> None:
        """reportlab's ``TTFont.addObjects``: the same objects and bytes, with the ToUnicode fix above,
        and what depends only on a subset's characters (its formatted widths, its deflated ToUnicode
        map) made once per process: formatting them was a fifth of a typical document's time."""
        try:
            state = self.state[doc]
        except KeyError:
            state = self.state[doc] = TTFont.State(self._asciiReadable)
        state.frozen = 1
        fonts = doc.idToObject["BasicFonts"].dict
        for number, subset in enumerate(state.subsets):
            internal_name = self.getSubsetInternalName(number, doc)[1:]
            face = self.face
            base_name = b"".join((ttfonts.SUBSETN(number), b"+", face.name, face.subfontNameX)).decode("pdfdoc")
            widths, cmap = _subset_parts(self, base_name, tuple(subset))
            font = pdfdoc.PDFTrueTypeFont()
            font.__Comment__ = f"Font {self.fontName} subset {number}"
            font.Name = internal_name
            font.BaseFont = base_name
            font.FirstChar = 0
            font.LastChar = len(subset) - 1
            font.Widths = _Formatted(widths)
            stream = pdfdoc.PDFStream()
            if doc.compression:
                stream.content = cmap
                stream.dictionary["Filter"] = pdfdoc.PDFArray([pdfdoc.PDFName(pdfdoc.PDFZCompress.pdfname)])
            else:
                stream.content = zlib.decompress(cmap)
            font.ToUnicode = doc.Reference(stream, "toUnicodeCMap:" + base_name)
            font.FontDescriptor = _subset_descriptor(self.face, doc, base_name, subset)
            doc.Reference(font, internal_name)
            fonts[internal_name] = font
        del self.state[doc]


class _Formatted(pdfdoc.PDFObject):
    """A PDF value formatted once (bytes), written as is."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def format(self, document: pdfdoc.PDFDocument) -> bytes:
        return self.data


@functools.lru_cache(maxsize=256)
def _subset_parts(font: TTFont, base_name: str, subset: tuple[int, ...]) -> tuple[bytes, bytes]:
    """(the /Widths array as PDF bytes, the deflated ToUnicode CMap) of one font subset. Like
    _font_subset, nearly always a hit: the backlog's documents share a few subsets."""
    widths = pdfdoc.PDFArray([font.face.getCharWidth(code) for code in subset]).format(pdfdoc.DummyDoc())
    cmap = _ASTRAL_CMAP_ENTRY.sub(_utf16_hex, ttfonts.makeToUnicodeCMap(base_name, list(subset)))
    return widths, zlib.compress(cmap.encode("utf8"))


@functools.lru_cache(maxsize=4)
def _ascii_drawable(face: TTFontFace) -> bool:
    """True when the face has a glyph for every printable ASCII character (DejaVu Sans has)."""
    return all(code in face.charToGlyph for code in range(0x20, 0x7F))


def _ttf(name: str, file_name: str) -> TTFont:
    return _Font(name, os.path.join(FONT_DIR, file_name))


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


class _Line(Paragraph):
    """A Paragraph of one line of plain text, laid out and drawn without reportlab's markup parser.

    Headings, notes and "Not provided" are single short lines; parsing, line-breaking and drawing
    them through Paragraph's general machinery costs several times more than the line itself. When
    the text fits the width it is given, this draws what Paragraph draws for one line (background
    and border, colour, alignment, baseline at ``height - fontSize``); when it does not, it becomes
    an ordinary Paragraph (parsed then) and wraps and splits as one. ``text`` holds the markup, as
    Paragraph's.
    """

    def __init__(self, text: str | None, style: ParagraphStyle, **paragraph: Any) -> None:
        if text is None or paragraph:  # Paragraph.split making the parts of a wrapped one: a Paragraph's
            self._full = True
            Paragraph.__init__(self, text, style, **paragraph)
            return
        self.text = markup_of_clean(text)
        self.style = style
        self.bulletText = None
        self.caseSensitive, self.encoding, self.debug = 1, "utf8", 0  # as Paragraph.__init__ sets them
        self._plain = text
        self._text_width = pdfmetrics.stringWidth(text, style.fontName, style.fontSize)
        self._full = False
        if not _plain_style(style):
            self._parse()

    @property
    def frags(self) -> list[object]:
        """Paragraph's parsed fragments, parsed when first asked for."""
        if "_frags" not in self.__dict__:
            self._parse()
        return self._frags

    @frags.setter
    def frags(self, value: list[object]) -> None:
        self._frags = value

    def _parse(self) -> None:
        self._full = True
        Paragraph.__init__(self, self.text, self.style)

    def _fits(self, avail_width: float) -> bool:
        s = self.style
        return self._text_width <= avail_width - s.leftIndent - s.firstLineIndent - s.rightIndent - 1e-6

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        if not self._full and not self._fits(availWidth):
            self._parse()
        if self._full:
            return Paragraph.wrap(self, availWidth, availHeight)
        self.width, self.height = availWidth, self.style.leading
        return self.width, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        if not self._full and not self._fits(availWidth):
            self._parse()
        if self._full:
            return Paragraph.split(self, availWidth, availHeight)
        return [self] if self.style.leading <= availHeight + 1e-8 else []

    def draw(self) -> None:
        if self._full:
            Paragraph.draw(self)
            return
        canvas, s = self.canv, self.style
        left = s.leftIndent
        canvas.saveState()  # one graphics state for box and text (Paragraph uses two)
        if s.backColor or (s.borderColor and s.borderWidth):
            stroke = bool(s.borderColor and s.borderWidth)
            if stroke:
                canvas.setStrokeColor(s.borderColor)
                canvas.setLineWidth(s.borderWidth)
            if s.backColor:
                canvas.setFillColor(s.backColor)
            top, right, bottom, left_pad = normalizeTRBL(s.borderPadding)
            box = (left - left_pad, -bottom, self.width - (left + s.rightIndent) + left_pad + right,
                   self.height + top + bottom)
            if stroke and s.borderRadius:
                canvas.roundRect(*box, radius=s.borderRadius, stroke=1, fill=int(bool(s.backColor)))
            else:
                canvas.rect(*box, stroke=int(stroke), fill=int(bool(s.backColor)))
        spare = self.width - left - s.firstLineIndent - s.rightIndent - self._text_width
        offset = s.firstLineIndent + (
            spare / 2 if s.alignment == TA_CENTER else spare if s.alignment == TA_RIGHT else 0
        )
        canvas.setFillColor(s.textColor)
        x, y = left + offset, self.height - s.fontSize
        text = canvas.beginText(x, y)
        text.setFont(s.fontName, s.fontSize, s.leading)
        select = _ascii_select(canvas, s.fontName, s.fontSize, s.leading)
        if select and self._plain.isascii() and self._plain.isprintable():
            _put_ascii(text, select, x, y, self._plain, move=False)  # beginText put the origin
        else:
            text._textOut(self._plain)
        canvas.drawText(text)
        canvas.restoreState()


@functools.lru_cache(maxsize=64)
def _plain_style(style: ParagraphStyle) -> bool:
    """True when `style` sets nothing _Line does not draw (the theme's styles set none of these)."""
    get = functools.partial(getattr, style)
    return (
        not any(get(name, None) for name in ("bulletText", "textTransform", "underline", "strike", "endDots"))
        and get("wordWrap", None) in (None, "", "LTR") and get("autoLeading", "") in ("", "off", None)
    )


def _is_one_line(text: str) -> bool:
    """True for clean text that Paragraph would show unchanged on one line: no line breaks, and no
    spaces it would collapse (clean_text has already made every other whitespace a space)."""
    return bool(text) and "\n" not in text and "  " not in text and text[0] != " " and text[-1] != " "


def _paragraphs(text: str, style: ParagraphStyle) -> list[Flowable]:
    """Paragraphs for text that already went through clean_text."""
    if len(text) <= CHUNK_CHARS and text.count("\n") < CHUNK_LINES:
        return [_Line(text, style) if _is_one_line(text) else Paragraph(markup_of_clean(text), style)]
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
            out.append(_table(pending[:], (LABEL_WIDTH, CONTENT_WIDTH - LABEL_WIDTH), t.fields))
            pending.clear()

    for label, value in rows:
        label_text = safe_text(label)
        value_text = safe_text(value)
        label_cell = _cell(label_text, FONT_BOLD, 8.5, LABEL_WIDTH, t.label)
        if not value_text.strip():
            pending.append([label_cell, _Line(NOT_PROVIDED, t.muted)])
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
    return [_table(data, tuple(col_widths), t.grid, repeat_rows=1)]


def _is_long(text: str) -> bool:
    return len(text) > LONG_VALUE_CHARS or text.count("\n") > LONG_VALUE_LINES


def _cell(text: str, font: str, size: float, width: float, style: ParagraphStyle) -> str | Paragraph:
    """The text as a plain string cell, wrapped at spaces to the column (much cheaper to lay out and draw
    than a Paragraph); a wrapping Paragraph when a line cannot be wrapped that way (a word wider than
    the column, or spacing a Paragraph would collapse)."""
    lines = _wrapped_lines(text, font, size, width - CELL_PADDING)
    return Paragraph(markup_of_clean(text), style) if lines is None else "\n".join(lines)


def _wrapped_lines(text: str, font: str, size: float, width: float) -> list[str] | None:
    """`text`'s lines broken greedily at single spaces to fit `width` (as Paragraph breaks them), or None."""
    out: list[str] = []
    space = pdfmetrics.stringWidth(" ", font, size)
    for line in text.split("\n"):
        if pdfmetrics.stringWidth(line, font, size) <= width:
            out.append(line)
            continue
        words = line.split(" ")
        if "" in words:
            return None
        current, used = words[0], pdfmetrics.stringWidth(words[0], font, size)
        if used > width:
            return None
        for word in words[1:]:
            extra = pdfmetrics.stringWidth(word, font, size)
            if extra > width:
                return None
            if used + space + extra <= width:
                current, used = f"{current} {word}", used + space + extra
            else:
                out.append(current)
                current, used = word, extra
        out.append(current)
    return out


class _Table(Table):
    """A Table that draws its plain-string cells in one PDF text object, and measures itself once.

    reportlab's Table draws each string cell with its own ``drawString`` (a save/restore of the
    font state and a text object each): most of a table-heavy page's drawing time. Same positions,
    fonts and colours as ``Table._drawCell`` for left-aligned, top-aligned cells (the only kind
    ``_table`` makes); flowable cells still go through ``_drawCell`` (between text objects, so the
    content stays in reading order).
    """

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        # A table after a keep-with-next heading is measured twice at the same width: first inside the
        # KeepTogether, then in the frame. A complete earlier measure (not cut short by reportlab's
        # long-table shortcut, i.e. it fitted its height) is still right; split() measures afresh.
        done = getattr(self, "_measured", None)
        if done is None or done[0] != availWidth or self._height > done[1]:
            self._calc(availWidth, availHeight)
            self._measured = (availWidth, availHeight)
        self.availWidth = availWidth
        return self._width, self._height

    def draw(self) -> None:
        if self._spanCmds or self._renderCB or getattr(self, "_cornerRadii", None) or self._shadow:
            super().draw()  # not made by _table: reportlab's general path
            return
        canvas = self.canv
        canvas.saveState()
        self._curweight = self._curcolor = self._curcellstyle = None
        self._roundingRectDef = None
        self._drawBkgrnd()
        text = None
        font = color = None
        selects: dict[tuple[str, float, float], str] = {}
        rows = zip(self._cellvalues, self._cellStyles, self._rowpositions[1:], self._rowHeights, strict=True)
        for row, styles, y, height in rows:
            for value, style, x, width in zip(row, styles, self._colpositions[:-1], self._colWidths, strict=True):
                if not isinstance(value, str):
                    if text is not None:  # keep the content in reading order (text extraction follows it)
                        canvas.drawText(text)
                        text = font = color = None
                    self._drawCell(value, style, (x, y), (width, height))
                    continue
                if not value:
                    continue
                if text is None:
                    text = canvas.beginText()
                if style.color != color:
                    color = style.color
                    text.setFillColor(color)
                if (style.fontname, style.fontsize, style.leading) != font:
                    font = (style.fontname, style.fontsize, style.leading)
                    text.setFont(*font)
                    select = selects.get(font)
                    if select is None:
                        select = selects[font] = _ascii_select(canvas, *font)
                top = y + height - style.topPadding - style.fontsize
                for number, line in enumerate(value.split("\n")):
                    if select and line and line.isascii() and line.isprintable():
                        _put_ascii(text, select, x + style.leftPadding, top - number * style.leading, line)
                    else:
                        text.setTextOrigin(x + style.leftPadding, top - number * style.leading)
                        text._textOut(line)
        if text is not None:
            canvas.drawText(text)
        self._drawLines()
        canvas.restoreState()


def _ascii_select(canvas: Canvas, name: str, size: float, leading: float) -> str:
    """The operators selecting subset 0 of font `name` in `canvas`'s document, as reportlab writes them;
    "" when _put_ascii may not write for the font (it is not one of ours)."""
    font = pdfmetrics.getFont(name)
    if not (isinstance(font, _Font) and font._asciiReadable and _ascii_drawable(font.face)):
        return ""
    return f"{font.getSubsetInternalName(0, canvas._doc)} {fp_str(size)} Tf {fp_str(leading)} TL "


def _put_ascii(text: PDFTextObject, select: str, x: float, y: float, line: str, move: bool = True) -> None:
    """What ``text.setTextOrigin(x, y); text._textOut(line)`` writes for printable ASCII in one of our
    fonts (always subset 0, see _Font.splitString; `select` is _ascii_select of the text's current
    font), without reportlab's general per-string path. `move=False`: the text is at (x, y) already."""
    if text._curSubset == 0:
        select = ""
    text._curSubset = 0
    if move:
        text._code.append(f"1 0 0 1 {fp_str(x, y)} Tm")
    text._code.append(f"{select}({escapePDF(line)}) Tj")
    text._x0 = text._x = x
    text._y0 = text._y = y


@functools.lru_cache(maxsize=16)
def _table_parts(
    style: TableStyle, columns: int
) -> tuple[list[CellStyle], list[CellStyle], list[tuple[object, ...]], list[tuple[object, ...]]]:
    """(first row's cell styles, other rows' cell styles, background commands, line commands) of `style`.

    Resolved once from a two-row table instead of per table and per cell: `style`'s cell commands
    must address row 0, row 1 or the last row only (true of Theme.fields and Theme.grid). The cell
    styles are shared by every table made from them, so nothing may change them afterwards.
    """
    probe = Table([[""] * columns, [""] * columns], colWidths=[1] * columns)
    probe.setStyle(style)
    return probe._cellStyles[0], probe._cellStyles[1], probe._bkgrndcmds, probe._linecmds


class _KeepTogether(KeepTogether):
    """reportlab's KeepTogether (what keepWithNext builds), measuring its content without first
    deep-copying the document's frame: reportlab copies it so flowables that generate content
    (footnotes, indexes) can add to it while measured; these documents have none, and the copy
    cost more than the measuring. Same sizes, same splits."""

    def wrap(self, aW: float, aH: float) -> tuple[float, int]:
        if any(hasattr(f, "frameAction") or getattr(f, "_SPACETRANSFER", False) for f in self._content):
            return super().wrap(aW, aH)  # not made by this module: reportlab's general path
        width = height = space = 0.0
        heights: list[float] = []
        for flowable in self._content:
            w, h = flowable.wrapOn(self.canv, aW, 0xFFFFFFF)
            heights.append(h)
            if h <= _FUZZ:
                continue
            width = max(width, min(w, aW) if rl_config.listWrapOnFakeWidth else w)
            if height:  # spaces between flowables merge: the larger of after and before counts
                height += max(flowable.getSpaceBefore() - space, 0)
            height += h
            space = flowable.getSpaceAfter()
            height += space
        self._H = height - space
        self._H0 = heights[0] if heights else 0
        self._wrapInfo = aW, aH
        return width, 0xFFFFFF  # force a split, as KeepTogether does


def _table(data: list[list[object]], widths: tuple[float, ...], style: TableStyle, repeat_rows: int = 0) -> Table:
    """A left-aligned table of `data` styled by `style`, without re-applying the style cell by cell."""
    first, rest, backgrounds, lines = _table_parts(style, len(widths))
    table = _Table(
        data, colWidths=widths, hAlign="LEFT", repeatRows=repeat_rows, normalizedData=1,  # str or flowable cells
        cellStyles=[first] + [rest] * (len(data) - 1),
    )
    table._bkgrndcmds = list(backgrounds)
    table._linecmds = list(lines)
    return table


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
        keepTogetherClass=_KeepTogether,
        initialFontName=FONT,  # else every document carries an unused Helvetica
    )
    doc.build(story, canvasmaker=functools.partial(_FooterCanvas, footer=footer))
    return buffer.getvalue()
