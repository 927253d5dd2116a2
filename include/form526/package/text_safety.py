"""Make arbitrary submission values safe to place in a reportlab Paragraph.

User text can hold anything JSON can: control characters, markup, lone surrogates,
emoji or scripts the PDF font has no glyph for. Nothing here raises, and nothing
visible is dropped silently: characters the font cannot draw become a visible
replacement character.
"""

from __future__ import annotations

import functools
import math
import unicodedata
from collections.abc import Collection
from xml.sax.saxutils import escape

REPLACEMENT = "\ufffd"
FALLBACK_REPLACEMENT = "?"

# Invisible formatting characters (zero-width joiners, bidi overrides, BOM, ...) are
# removed like control characters: they draw nothing, and bidi overrides can make a
# value read differently from what it holds.
_REMOVED_CATEGORIES = frozenset({"Cc", "Cf"})
_PRINTABLE_ASCII = frozenset(range(0x20, 0x7F))


def to_text(value: object) -> str:
    """Coerce a JSON value to display text: None -> '', bools -> Yes/No, lists joined."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(t for t in (to_text(v) for v in value) if t)
    if isinstance(value, dict):
        return "; ".join(f"{to_text(k)}: {to_text(v)}" for k, v in value.items() if to_text(v))
    try:
        return str(value)
    except Exception:  # a hostile __str__ must not stop a package
        return FALLBACK_REPLACEMENT


def clean_text(value: object, covered: Collection[int] | None = None, replacement: str = REPLACEMENT) -> str:
    """Return plain text with control characters removed and undrawable characters replaced.

    Newlines are kept (CR LF and CR become LF), tabs become a space. `covered` is the set of
    code points the font can draw; when given, anything else becomes `replacement`.
    """
    text = to_text(value)
    if text.isascii() and text.isprintable() and (covered is None or _covers_printable_ascii(covered)):
        return text  # the common case, and by far the cheapest
    text = unicodedata.normalize("NFC", _no_surrogates(text))
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    out: list[str] = []
    for ch in text:
        if ch == "\n":
            out.append(ch)
            continue
        category = unicodedata.category(ch)
        if category in _REMOVED_CATEGORIES:
            continue
        if category in ("Zl", "Zp"):
            out.append("\n")
            continue
        if category == "Zs":
            out.append(" ")
            continue
        if covered is not None and ord(ch) not in covered:
            out.append(replacement)
            continue
        out.append(ch)
    return "".join(out)


def paragraph_markup(value: object, covered: Collection[int] | None = None, replacement: str = REPLACEMENT) -> str:
    """Return `value` as Paragraph markup that renders literally, newlines as line breaks."""
    return markup_of_clean(clean_text(value, covered, replacement))


def markup_of_clean(text: str) -> str:
    """Paragraph markup for text that already went through clean_text."""
    return escape(text).replace("\n", "<br/>")


CHUNK_CHARS = 1500
"""Longest run of text (about) one layout paragraph holds; see `markup_chunks`."""
CHUNK_LINES = 10
"""Most lines one layout paragraph holds."""
_NBSP = "\u00a0"


def markup_chunks(text: str, max_chars: int = CHUNK_CHARS, max_lines: int = CHUNK_LINES) -> list[str]:
    """Paragraph markup for clean text, cut into chunks of at most `max_lines` lines and `max_chars` characters.

    Laying out one paragraph costs time quadratic in its length; bounded chunks keep the whole text
    linear. A line longer than `max_chars` is cut at its last space in the second half of the window
    (the space is kept as the joint), else mid-word (rejoined without a space when both parts share a
    chunk). Every character of `text` appears, escaped, in order. An empty line is a no-break space,
    so that a blank line keeps its height at either end of a chunk.
    """
    chunks: list[str] = []
    parts: list[str] = []
    size = lines = 0
    for line in text.split("\n"):
        for joint, piece in _pieces(line, max_chars):
            if parts and (size + len(piece) > max_chars or (joint == "\n" and lines >= max_lines)):
                chunks.append("".join(parts))
                parts, size, lines = [], 0, 0
            if parts:
                parts.append("<br/>" if joint == "\n" else joint)
            parts.append(escape(piece) if piece else _NBSP)
            size += len(piece)
            lines += joint == "\n"
    if parts:
        chunks.append("".join(parts))
    return chunks


def _pieces(line: str, max_chars: int) -> list[tuple[str, str]]:
    """(joint to the previous piece, piece): the first piece's joint is a newline, then ' ' or ''."""
    pieces: list[tuple[str, str]] = []
    joint, start = "\n", 0
    while len(line) - start > max_chars:
        end = start + max_chars
        cut = line.rfind(" ", start + max_chars // 2, end)
        if cut < 0:
            pieces.append((joint, line[start:end]))
            joint, start = "", end
        else:
            pieces.append((joint, line[start:cut]))
            joint, start = " ", cut + 1
    pieces.append((joint, line[start:]))
    return pieces


def _covers_printable_ascii(covered: Collection[int]) -> bool:
    if isinstance(covered, frozenset):
        return _frozen_covers_printable_ascii(covered)
    return all(code in covered for code in _PRINTABLE_ASCII)


@functools.lru_cache(maxsize=8)
def _frozen_covers_printable_ascii(covered: frozenset[int]) -> bool:
    return covered.issuperset(_PRINTABLE_ASCII)


def _no_surrogates(text: str) -> str:
    """Replace lone surrogates (json.loads accepts "\\ud800"), which cannot be encoded."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return "".join(REPLACEMENT if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)
