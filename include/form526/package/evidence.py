"""Turn one uploaded supporting-evidence file into a PDF for the package.

VA.gov accepted these upload types for the 526 (pdf gif png tiff tif jpeg jpg bmp txt). Each file is
written to a caller-supplied binary stream ``out`` (a SpooledTemporaryFile, an S3 multipart
writer, ...), and the outcome is an :class:`EvidenceResult`. A file that cannot go into the package
gets ``included=False`` with a reason *code*; :data:`REASON_TEXT` gives the plain words for the
evidence list. Nothing here puts a file name or file content into a reason or an exception.

Decisions:

* **Type from magic bytes.** The extension is used only to recognise plain text, which has no
  signature. A file whose content does not match its extension (a ``.pdf`` that is really a PNG)
  is converted as what it really is. vets-api's own uploader does the same (ConvertFileType
  re-types such a file from its magic bytes), and the veteran meant to submit that content.
  A ``%PDF-`` header after leading junk (readers allow up to 1 KiB) counts only when the file is
  not named ``.txt``, so a note that quotes a PDF header stays text.
* **PDF** passes through byte for byte, copied in :data:`COPY_CHUNK_BYTES` chunks, after pypdf
  (non-strict) opens it and walks its page tree. An encrypted PDF is excluded, even one with only an
  owner password: removing the encryption would mean rewriting the file, which rules out the
  byte-for-byte pass-through. A PDF with no pages counts as empty.
* **Images** (JPEG, PNG, GIF, BMP, TIFF) are converted with **img2pdf**, not Pillow's PDF writer.
  Pillow re-encodes RGB, grey and CMYK images as JPEG, and RGBA as JPEG 2000. That is lossy, and a
  JPEG would be decoded and compressed a second time. img2pdf is lossless. It embeds JPEG data
  unchanged, copies a plain PNG's IDAT stream, and keeps single-strip CCITT G4 TIFF data as it is.
  Everything else becomes Flate (PNG) data. Its pure-Python writer is deterministic when no date is
  written, and it writes straight to a stream. Each image is scaled to fit a US Letter page with a
  quarter-inch border. The page turns landscape for a landscape image. This is only a PDF transform,
  so no pixel is resampled. Limits are checked from the headers *before* any pixel is decoded (GIF
  frame extents come from walking the GIF blocks). Every frame is then decoded once, and JPEG at
  1/8 scale, so a damaged file is reported as corrupt instead of being embedded. TIFF and GIF keep
  every frame, one per page. JPEG (including MPO) and PNG (including APNG) give their primary image
  only. An image img2pdf refuses even though Pillow decodes it (16-bit TIFF, 16-bit PNG with alpha)
  is reduced to 8 bits per channel and converted again, so the file is still included.
* **Plain text** is decoded as UTF-8 (a UTF-8 or UTF-16 BOM is honoured). When it is not valid
  UTF-8, it is read as Windows-1252, and as Latin-1 only if that fails too. Windows-1252 is the
  superset of Latin-1 that Notepad writes. In Latin-1, its curly quotes and dashes would be C1
  control characters and would be dropped. Text holding NUL characters is binary and is not
  treated as text. Rendering uses the project's font and page frame. The text is split into
  paragraphs of at most :data:`_CHUNK_LINES` lines and :data:`_CHUNK_CHARS` characters, so layout
  time is linear. Every character is escaped, and reportlab runs with ``invariant=1``.

Memory: at most one source file is held in memory (images and text), plus what decoding one frame
needs. A PDF is never read whole. A non-seekable source is spooled to a temporary file
(:data:`_SPOOL_MEMORY_BYTES` in memory, then disk) and refused as soon as it passes ``max_bytes``.

An I/O error on the source or on ``out`` is not an evidence problem and propagates; ``out`` may then
hold partial data. When a file is excluded, nothing is written to ``out``.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import os
import re
import struct
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import IO, Any, TypeAlias

Source: TypeAlias = "IO[bytes] | str | os.PathLike[str]"

COPY_CHUNK_BYTES = 1024 * 1024
_SPOOL_MEMORY_BYTES = 16 * 1024 * 1024
_HEAD_BYTES = 1024

# Plain-text layout: bounded paragraphs keep reportlab's line breaking and page splitting linear.
_CHUNK_LINES = 10
_CHUNK_CHARS = 1500
_PIECE_CHARS = 2000
_TAB_SIZE = 4

# Image pages: US Letter, a quarter-inch border.
_LETTER_PT = (612.0, 792.0)
_BORDER_PT = 18.0


class Reason(StrEnum):
    """Why a file was not included (the code is the value)."""

    NOT_FOUND = "evidence_not_found"
    CORRUPT = "evidence_corrupt"
    ENCRYPTED = "evidence_encrypted"
    TOO_LARGE = "evidence_too_large"
    UNSUPPORTED_TYPE = "evidence_unsupported_type"
    EMPTY = "evidence_empty"
    INVALID_UPLOAD = "evidence_invalid_upload"
    INVALID_NAME = "evidence_invalid_name"
    NOT_CONFIGURED = "evidence_not_configured"


REASON_TEXT: dict[str, str] = {
    Reason.NOT_FOUND: "file could not be found in VA.gov's upload store",
    Reason.CORRUPT: "file is damaged and could not be opened",
    Reason.ENCRYPTED: "file is an encrypted (password-protected) PDF, which cannot be added to the package",
    Reason.TOO_LARGE: "file is larger than the package allows (file size, image size or number of pages)",
    Reason.UNSUPPORTED_TYPE: "file is not a PDF, JPEG, PNG, GIF, BMP, TIFF or plain-text file",
    Reason.EMPTY: "file is empty",
    Reason.INVALID_UPLOAD: "the upload entry in the submission is incomplete (no upload confirmation code)",
    Reason.INVALID_NAME: "the stored file name is not a plain file name, so the file was not fetched",
    Reason.NOT_CONFIGURED: "evidence retrieval is not configured for this deployment",
}


class SourceType(StrEnum):
    """What the content really is (from its magic bytes)."""

    PDF = "pdf"
    JPEG = "jpeg"
    PNG = "png"
    GIF = "gif"
    BMP = "bmp"
    TIFF = "tiff"
    TXT = "txt"


_PIL_FORMAT = {
    SourceType.JPEG: "JPEG",
    SourceType.PNG: "PNG",
    SourceType.GIF: "GIF",
    SourceType.BMP: "BMP",
    SourceType.TIFF: "TIFF",
}
_MULTI_FRAME = frozenset({SourceType.GIF, SourceType.TIFF})


@dataclass(frozen=True)
class EvidenceLimits:
    """Per-file limits; anything over them is excluded as ``evidence_too_large``.

    Defaults: 100 MiB per file. 64 Mpx per image frame, which covers every 48/50 Mpx phone camera
    mode and a 600 dpi scan of a legal page and stays under Pillow's own 89 Mpx bomb warning; an
    8-bit RGBA frame is then at most 256 MB decoded. 500 frames per TIFF/GIF. 2,000 pages per
    output PDF. 8 MiB of plain text, about 1,500 pages.
    """

    max_bytes: int = 100 * 1024 * 1024
    max_image_pixels: int = 64_000_000
    max_frames: int = 500
    max_pages: int = 2000
    max_text_bytes: int = 8 * 1024 * 1024

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_image_pixels", "max_frames", "max_pages", "max_text_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"EvidenceLimits.{name} must be a positive integer")


DEFAULT_LIMITS = EvidenceLimits()


@dataclass(frozen=True)
class EvidenceResult:
    """Outcome of one conversion. ``reason`` is a :class:`Reason` code when ``included`` is false."""

    included: bool
    reason: Reason | None = None
    pages: int = 0
    bytes_written: int = 0
    source_type: SourceType | None = None

    @classmethod
    def excluded(cls, reason: Reason | str, source_type: SourceType | None = None) -> EvidenceResult:
        """A result for a file left out of the package (also for callers, e.g. a missing S3 object)."""
        return cls(included=False, reason=Reason(reason), source_type=source_type)

    @property
    def reason_text(self) -> str | None:
        """Plain words for the evidence list, or None when included."""
        return None if self.reason is None else REASON_TEXT[self.reason]


class _Excluded(Exception):
    """Raised inside the converters; carries only the reason code."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(str(reason))
        self.reason = reason


def _theme() -> Any:
    """The shared fonts/styles/page frame module: the one place it is imported (lazily: it loads fonts)."""
    from include.form526.package import theme

    return theme


# --------------------------------------------------------------------------------------------- API


def convert_to_pdf(
    source: Source,
    filename: str,
    *,
    out: IO[bytes],
    limits: EvidenceLimits = DEFAULT_LIMITS,
) -> EvidenceResult:
    """Write `source` to `out` as PDF and say whether it was included.

    `source` is a path, or a binary stream read from its current position to its end (seekable or
    not; it is not closed). `filename` is the uploaded name, used only to recognise plain text.
    `out` receives the PDF at its current position, and nothing at all when the file is excluded.
    """
    writer = _CountingWriter(out)
    source_type: SourceType | None = None
    try:
        with _opened(source, limits) as (stream, size):
            if size == 0:
                raise _Excluded(Reason.EMPTY)
            if size > limits.max_bytes:
                raise _Excluded(Reason.TOO_LARGE)
            head = stream.read(_HEAD_BYTES)
            stream.seek(0)
            source_type = detect_type(head, filename)
            if source_type is None:
                raise _Excluded(Reason.UNSUPPORTED_TYPE)
            if source_type is SourceType.PDF:
                pages = _pass_through_pdf(stream, limits, writer)
            elif source_type is SourceType.TXT:
                if size > limits.max_text_bytes:
                    raise _Excluded(Reason.TOO_LARGE)
                pages = _text_to_pdf(stream.read(), limits, writer)
            else:
                pages = _image_to_pdf(stream.read(), source_type, limits, writer)
    except _Excluded as excluded:
        return EvidenceResult.excluded(excluded.reason, source_type)
    return EvidenceResult(
        included=True, pages=pages, bytes_written=writer.count, source_type=source_type
    )


def detect_type(head: bytes, filename: str) -> SourceType | None:
    """Content type from the first bytes (up to 1 KiB); the extension only decides plain text."""
    is_txt_name = os.path.splitext(filename)[1].lower() == ".txt"
    if head.startswith(b"%PDF-"):
        return SourceType.PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return SourceType.PNG
    if head.startswith(b"\xff\xd8\xff"):
        return SourceType.JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return SourceType.GIF
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return SourceType.TIFF
    if _is_bmp(head):
        return SourceType.BMP
    if b"%PDF-" in head[:_HEAD_BYTES] and not is_txt_name:
        return SourceType.PDF
    if is_txt_name:
        return SourceType.TXT
    return None


# ---------------------------------------------------------------------------------------- plumbing

_BMP_HEADER_SIZES = frozenset({12, 16, 40, 52, 56, 64, 108, 124})


def _is_bmp(head: bytes) -> bool:
    # "BM" alone is too weak (text can start with it): the DIB header size must be a real one.
    return len(head) >= 18 and head.startswith(b"BM") and struct.unpack_from("<I", head, 14)[0] in _BMP_HEADER_SIZES


class _CountingWriter:
    """Forwards writes to `out` and counts the bytes."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self.count = 0

    def write(self, data: bytes) -> int:
        self._out.write(data)
        self.count += len(data)
        return len(data)


@contextlib.contextmanager
def _opened(source: Source, limits: EvidenceLimits) -> Iterator[tuple[IO[bytes], int]]:
    """A seekable stream positioned at 0 holding exactly the source bytes, and its size."""
    if isinstance(source, (str, os.PathLike)):
        try:
            handle = open(source, "rb")  # noqa: SIM115 - closed by the with below
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise _Excluded(Reason.NOT_FOUND) from None
        with handle:
            yield handle, os.fstat(handle.fileno()).st_size
        return
    if _seekable_at_start(source):
        size = source.seek(0, io.SEEK_END)
        source.seek(0)
        yield source, size
        return
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_MEMORY_BYTES) as spool:
        size = _copy(source, spool, stop_after=limits.max_bytes + 1)
        if size > limits.max_bytes:
            raise _Excluded(Reason.TOO_LARGE)
        spool.seek(0)
        yield spool, size


def _seekable_at_start(stream: IO[bytes]) -> bool:
    try:
        return bool(stream.seekable()) and stream.tell() == 0
    except (AttributeError, OSError, ValueError):
        return False


def _copy(src: IO[bytes], dst: Any, stop_after: int | None = None) -> int:
    """Copy in COPY_CHUNK_BYTES chunks; with `stop_after`, stop once that many bytes were copied."""
    total = 0
    while stop_after is None or total < stop_after:
        want = COPY_CHUNK_BYTES if stop_after is None else min(COPY_CHUNK_BYTES, stop_after - total)
        chunk = src.read(want)
        if not chunk:
            break
        dst.write(chunk)
        total += len(chunk)
    return total


# --------------------------------------------------------------------------------------------- PDF


def _pass_through_pdf(stream: IO[bytes], limits: EvidenceLimits, writer: _CountingWriter) -> int:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, WrongPasswordError

    try:
        reader = PdfReader(stream, strict=False)
        encrypted = reader.is_encrypted
    except (DependencyError, FileNotDecryptedError, WrongPasswordError):
        raise _Excluded(Reason.ENCRYPTED) from None
    except Exception:
        raise _Excluded(Reason.CORRUPT) from None
    if encrypted:
        raise _Excluded(Reason.ENCRYPTED)
    try:
        pages = len(reader.pages)  # walks the page tree; /Count alone could lie
    except Exception:
        raise _Excluded(Reason.CORRUPT) from None
    if pages == 0:
        raise _Excluded(Reason.EMPTY)
    if pages > limits.max_pages:
        raise _Excluded(Reason.TOO_LARGE)
    stream.seek(0)
    _copy(stream, writer)
    return pages


# ------------------------------------------------------------------------------------------ images


def _image_to_pdf(data: bytes, kind: SourceType, limits: EvidenceLimits, writer: _CountingWriter) -> int:
    import img2pdf

    frames = _check_image(data, kind, limits)
    options: dict[str, Any] = {
        "engine": img2pdf.Engine.internal,  # deterministic, streams to `out`; pikepdf is not used
        "nodate": True,
        "creator": _theme().CREATOR,
        "producer": _theme().CREATOR,
        "layout_fun": img2pdf.get_layout_fun(
            _LETTER_PT, border=(_BORDER_PT, _BORDER_PT), fit=img2pdf.FitMode.into, auto_orient=True
        ),
        "rotation": img2pdf.Rotation.ifvalid,  # EXIF rotation honoured; mirrored values ignored
        "first_frame_only": kind not in _MULTI_FRAME,
    }
    try:
        document = img2pdf.convert_to_docobject(io.BytesIO(data), **options)
    except Exception:
        # Pillow decoded every frame above, so this is a layout img2pdf refuses (e.g. >8-bit samples).
        try:
            document = img2pdf.convert_to_docobject(*_eight_bit_pngs(data, kind, frames), **options)
        except Exception:
            raise _Excluded(Reason.CORRUPT) from None
    pages = len(document.writer.pagearray)
    if pages > limits.max_pages:
        raise _Excluded(Reason.TOO_LARGE)
    document.tostream(writer)
    return pages


def _check_image(data: bytes, kind: SourceType, limits: EvidenceLimits) -> int:
    """Check sizes and frame count from headers, then decode each frame once; returns the frame count."""
    from PIL import Image

    if kind is SourceType.GIF:
        frames, width, height = _gif_layout(data, limits.max_frames)
        if frames == 0:
            raise _Excluded(Reason.CORRUPT)
        if frames > limits.max_frames or width * height > limits.max_image_pixels:
            raise _Excluded(Reason.TOO_LARGE)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[_PIL_FORMAT[kind]])
        with image:
            frames = _frame_count(image, kind, limits) if kind in _MULTI_FRAME else 1
            if frames > limits.max_frames:
                raise _Excluded(Reason.TOO_LARGE)
            for index in range(frames):
                if index:
                    image.seek(index)
                _check_pixels(image, limits)
                if kind is SourceType.JPEG:
                    width, height = image.size
                    image.draft(image.mode, (max(1, width // 8), max(1, height // 8)))
                image.load()
    except _Excluded:
        raise
    except Image.DecompressionBombError:
        raise _Excluded(Reason.TOO_LARGE) from None
    except Exception:
        raise _Excluded(Reason.CORRUPT) from None
    return frames


def _check_pixels(image: Any, limits: EvidenceLimits) -> None:
    width, height = image.size
    if width < 1 or height < 1:
        raise _Excluded(Reason.CORRUPT)
    if width * height > limits.max_image_pixels:
        raise _Excluded(Reason.TOO_LARGE)


def _frame_count(image: Any, kind: SourceType, limits: EvidenceLimits) -> int:
    """Frames of a TIFF/GIF, seeking headers only (a TIFF seek reads one IFD; no pixel is decoded)."""
    if kind is SourceType.GIF:
        return image.n_frames  # Pillow's count skips image data; the extents were checked already
    frames = 0
    while True:
        try:
            image.seek(frames)
        except EOFError:
            break
        _check_pixels(image, limits)
        frames += 1
        if frames > limits.max_frames:
            raise _Excluded(Reason.TOO_LARGE)
    image.seek(0)
    return frames


_GIF_BLOCK = re.compile(rb"[!,;]")


def _gif_layout(data: bytes, max_frames: int) -> tuple[int, int, int]:
    """(frames, canvas width, canvas height) from the GIF block structure, without decoding.

    Follows Pillow's parser: bytes between blocks are skipped, and a frame that reaches past the
    logical screen grows the canvas. Stops counting just past `max_frames`.
    """
    if len(data) < 13:
        raise _Excluded(Reason.CORRUPT)
    width, height = struct.unpack_from("<HH", data, 6)
    pos = 13 + _color_table_size(data[10])
    frames = 0
    while frames <= max_frames:
        match = _GIF_BLOCK.search(data, pos)
        if match is None or match.group() == b";":
            break
        pos = match.end()
        if match.group() == b"!":
            pos = _skip_sub_blocks(data, pos + 1)
            continue
        if pos + 9 > len(data):
            break
        left, top, frame_width, frame_height = struct.unpack_from("<HHHH", data, pos)
        pos = _skip_sub_blocks(data, pos + 9 + _color_table_size(data[pos + 8]) + 1)
        frames += 1
        width, height = max(width, left + frame_width), max(height, top + frame_height)
    return frames, width, height


def _color_table_size(flags: int) -> int:
    return 3 << ((flags & 7) + 1) if flags & 0x80 else 0


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    while pos < len(data):
        length = data[pos]
        pos += 1 + length
        if length == 0:
            break
    return pos


def _eight_bit_pngs(data: bytes, kind: SourceType, frames: int) -> list[io.BytesIO]:
    """Each frame as an 8-bit-per-channel PNG, for images img2pdf will not take as they are."""
    from PIL import Image

    pngs: list[io.BytesIO] = []
    with Image.open(io.BytesIO(data), formats=[_PIL_FORMAT[kind]]) as image:
        for index in range(frames if kind in _MULTI_FRAME else 1):
            image.seek(index)
            frame = image
            if frame.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
                frame = frame.convert("I").point(lambda value: value * (1 / 256)).convert("L")
            elif frame.mode not in ("1", "L", "LA", "P", "PA", "RGB", "RGBA"):
                has_alpha = "A" in frame.mode or "transparency" in frame.info
                frame = frame.convert("RGBA" if has_alpha else "RGB")
            buffer = io.BytesIO()
            frame.save(buffer, format="PNG")
            buffer.seek(0)
            pngs.append(buffer)
    return pngs


# -------------------------------------------------------------------------------------- plain text

_SPACE_RUN = re.compile(r" {2,}")
_LEADING_SPACES = re.compile(r"^ +")
_NBSP = "\u00a0"


def _text_to_pdf(data: bytes, limits: EvidenceLimits, writer: _CountingWriter) -> int:
    from reportlab.platypus import Paragraph
    from reportlab.platypus.flowables import CallerMacro

    text, encoding = _decode_text(data)
    if "\x00" in text:
        raise _Excluded(Reason.UNSUPPORTED_TYPE)  # binary content under a .txt name
    fonts = _theme()
    text = fonts.safe_text(text.expandtabs(_TAB_SIZE))  # cleans controls, replaces undrawable chars
    if not text.strip():
        raise _Excluded(Reason.EMPTY)
    lines = text.split("\n")
    style = fonts.theme().value
    frame_height = fonts.PAGE_SIZE[1] - 2 * fonts.MARGIN - 2 * fonts.FRAME_PADDING
    if len(lines) > limits.max_pages * int(frame_height // style.leading):
        raise _Excluded(Reason.TOO_LARGE)  # cheap lower bound: each line takes at least one leading

    counter = _PageCounter(limits.max_pages)
    story: list[Any] = [fonts.note(f"Converted to PDF from a plain-text file (text read as {encoding})."),
                        fonts.spacer(6)]
    for chunk in _chunks(lines):
        story.append(Paragraph(chunk, style))
        story.append(CallerMacro(drawCallable=counter.on_draw))
    pdf = fonts.render_pdf(
        story,
        title="Supporting evidence",
        subject="Plain-text evidence file converted to PDF",
        footer="Supporting evidence (plain-text file converted to PDF)",
    )
    writer.write(pdf)
    return counter.pages


def _decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding name): UTF-8 (or UTF-16 with a BOM), else Windows-1252, else Latin-1."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        with contextlib.suppress(UnicodeDecodeError):
            return data.decode("utf-16"), "UTF-16"
    with contextlib.suppress(UnicodeDecodeError):
        return data.decode("utf-8-sig"), "UTF-8"
    with contextlib.suppress(UnicodeDecodeError):
        return data.decode("cp1252"), "Windows-1252"
    return data.decode("latin-1"), "Latin-1"


def _chunks(lines: list[str]) -> Iterator[str]:
    """Paragraph markup for runs of at most _CHUNK_LINES pieces / about _CHUNK_CHARS characters."""
    parts: list[str] = []
    pieces = size = 0
    for line in lines:
        for index, piece in enumerate(_pieces(line)):
            if parts:
                # A long line's pieces rejoin with the space they were cut at; lines with a break.
                parts.append(" " if index else "<br/>")
            parts.append(_line_markup(piece, keep_leading=index == 0))
            pieces += 1
            size += len(piece)
            if pieces >= _CHUNK_LINES or size >= _CHUNK_CHARS:
                yield "".join(parts)
                parts, pieces, size = [], 0, 0
    if parts:
        yield "".join(parts)


def _pieces(line: str) -> Iterator[str]:
    """A line cut into pieces of at most _PIECE_CHARS, at a space when there is one in the second half."""
    while len(line) > _PIECE_CHARS:
        cut = line.rfind(" ", _PIECE_CHARS // 2, _PIECE_CHARS)
        if cut < 0:
            yield line[:_PIECE_CHARS]
            line = line[_PIECE_CHARS:]
        else:
            yield line[:cut]
            line = line[cut + 1 :]
    yield line


def _line_markup(line: str, *, keep_leading: bool) -> str:
    """Escaped markup; leading spaces and runs of spaces survive as no-break spaces."""
    if not line:
        return _NBSP  # an empty line still takes its line
    from xml.sax.saxutils import escape

    markup = escape(line)
    if keep_leading:
        markup = _LEADING_SPACES.sub(lambda m: _NBSP * len(m.group()), markup)
    return _SPACE_RUN.sub(lambda m: _NBSP * (len(m.group()) - 1) + " ", markup)


class _PageCounter:
    """Drawn after each paragraph: records the page reached and stops the build past the limit."""

    def __init__(self, max_pages: int) -> None:
        self.max_pages = max_pages
        self.pages = 0

    def on_draw(self, flowable: Any) -> None:
        page = flowable.canv.getPageNumber()
        if page > self.max_pages:
            raise _Excluded(Reason.TOO_LARGE)
        self.pages = page
