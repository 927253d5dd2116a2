"""Evidence files -> PDF: type detection, pass-through, lossless images, plain text, limits, determinism."""

from __future__ import annotations

import io
import random
import struct
import tempfile
import zlib

import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter
from reportlab.pdfgen.canvas import Canvas

from include.form526.package.evidence import (
    COPY_CHUNK_BYTES,
    REASON_TEXT,
    EvidenceLimits,
    EvidenceResult,
    Reason,
    SourceType,
    convert_to_pdf,
    detect_type,
)

# A name that must never show up in a result or an exception.
SECRET_NAME = "Doe John SSN 123-45-6789"


# ------------------------------------------------------------------------------------------ inputs


def _picture(size: tuple[int, int] = (120, 80), mode: str = "RGB") -> Image.Image:
    """A deterministic image with some structure (gradients), in `mode`."""
    width, height = size
    red = Image.linear_gradient("L").resize(size)
    green = Image.linear_gradient("L").rotate(90).resize(size)
    blue = Image.radial_gradient("L").resize(size)
    rgb = Image.merge("RGB", (red, green, blue))
    rgb.putpixel((width // 2, height // 2), (255, 0, 0))
    if mode == "RGBA":
        return Image.merge("RGBA", (red, green, blue, Image.linear_gradient("L").resize(size)))
    return rgb.convert(mode)


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _png(size: tuple[int, int] = (120, 80), mode: str = "RGB") -> bytes:
    return _encode(_picture(size, mode), "PNG")


def _jpeg(size: tuple[int, int] = (120, 80), mode: str = "RGB", **options: object) -> bytes:
    return _encode(_picture(size, mode), "JPEG", quality=90, **options)


def _frames(count: int, size: tuple[int, int] = (40, 30), mode: str = "RGB") -> list[Image.Image]:
    return [Image.new(mode, size, (i * 37 % 256, i * 91 % 256, i * 53 % 256)).convert(mode) if mode != "1"
            else Image.new("1", size, i % 2) for i in range(count)]


def _multi(fmt: str, frames: list[Image.Image], **options: object) -> bytes:
    return _encode(frames[0], fmt, save_all=True, append_images=frames[1:], **options)


def _tiff(count: int, size: tuple[int, int] = (40, 30), **options: object) -> bytes:
    return _multi("TIFF", _frames(count, size), compression="tiff_lzw", **options)


def _gif(count: int) -> bytes:
    return _multi("GIF", _frames(count), duration=100, loop=0, disposal=1)


def _pdf(pages: int = 2, padding: bytes = b"") -> bytes:
    """A reportlab PDF with `pages` pages; `padding` goes in an uncompressed comment-free image stream."""
    from reportlab import rl_config

    buffer = io.BytesIO()
    saved = rl_config.useA85
    rl_config.useA85 = 1  # inline images need it; the project's theme turns it off process-wide when first used
    try:
        canvas = Canvas(buffer, invariant=1)
        for number in range(1, pages + 1):
            canvas.drawString(72, 720, f"Private medical record, page {number}")
            if padding and number == 1:
                canvas.drawInlineImage(Image.frombytes("L", (1024, len(padding) // 1024), padding), 72, 72, 100, 100)
            canvas.showPage()
        canvas.save()
    finally:
        rl_config.useA85 = saved
    return buffer.getvalue()


def _png_with_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims `width` x `height` (valid CRCs), followed by a tiny IDAT."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(
        b"IEND", b""
    )


def _bmp_with_header(width: int, height: int) -> bytes:
    """A BITMAPINFOHEADER BMP claiming `width` x `height` with almost no pixel data."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(info) + 16, 0, 0, 14 + len(info)) + info + b"\x00" * 16


def _gif_with_frame(screen: tuple[int, int], frame_at: tuple[int, int], frame: tuple[int, int]) -> bytes:
    """A GIF with one 1-colour frame placed at `frame_at` on a `screen`-sized canvas."""
    head = b"GIF89a" + struct.pack("<HHBBB", *screen, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    descriptor = b"," + struct.pack("<HHHHB", *frame_at, *frame, 0)
    return head + descriptor + b"\x02\x02\x44\x01\x00;"


def _convert(
    data: bytes, name: str, limits: EvidenceLimits | None = None
) -> tuple[EvidenceResult, bytes]:
    out = io.BytesIO()
    kwargs = {} if limits is None else {"limits": limits}
    result = convert_to_pdf(io.BytesIO(data), name, out=out, **kwargs)
    assert result.bytes_written == len(out.getvalue())
    return result, out.getvalue()


def _reader(pdf: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(pdf), strict=True)


def _assert_included(result: EvidenceResult, pdf: bytes, source_type: SourceType, pages: int) -> PdfReader:
    assert result.included, result
    assert result.reason is None and result.reason_text is None
    assert result.source_type == source_type
    assert result.pages == pages
    assert pdf.startswith(b"%PDF-")
    reader = _reader(pdf)
    assert len(reader.pages) == pages
    return reader


def _assert_excluded(result: EvidenceResult, pdf: bytes, reason: Reason) -> None:
    assert not result.included
    assert result.reason == reason
    assert result.reason_text == REASON_TEXT[reason]
    assert pdf == b"" and result.bytes_written == 0 and result.pages == 0
    assert SECRET_NAME not in repr(result)


# --------------------------------------------------------------------------------------------- PDF


def test_pdf_passes_through_byte_for_byte_into_a_spooled_file():
    source = _pdf(pages=3)
    with tempfile.SpooledTemporaryFile(max_size=1024) as out:
        result = convert_to_pdf(io.BytesIO(source), "record.pdf", out=out)
        out.seek(0)
        written = out.read()
    assert written == source
    _assert_included(result, written, SourceType.PDF, 3)
    assert result.bytes_written == len(source)


def test_large_pdf_is_copied_in_chunks():
    padding = random.Random(7).randbytes(3 * COPY_CHUNK_BYTES)  # incompressible: the PDF stays > 3 chunks
    source = _pdf(pages=1, padding=padding)
    assert len(source) > 3 * COPY_CHUNK_BYTES

    sizes: list[int] = []

    class Recorder(io.BytesIO):
        def write(self, data):  # type: ignore[override]
            sizes.append(len(data))
            return super().write(data)

    out = Recorder()
    result = convert_to_pdf(io.BytesIO(source), "big.pdf", out=out)
    assert result.included and out.getvalue() == source
    assert len(sizes) >= 4 and max(sizes) <= COPY_CHUNK_BYTES


def test_pdf_from_a_path_and_from_a_non_seekable_stream(tmp_path):
    source = _pdf(pages=2)
    path = tmp_path / "upload.bin"
    path.write_bytes(source)
    for src in (path, str(path)):
        out = io.BytesIO()
        result = convert_to_pdf(src, "upload.pdf", out=out)
        assert result.included and result.pages == 2 and out.getvalue() == source

    class Pipe(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:  # type: ignore[override]
            chunk = self._data.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    out = io.BytesIO()
    result = convert_to_pdf(Pipe(source), "upload.pdf", out=out)
    assert result.included and out.getvalue() == source


def test_stream_is_read_from_its_current_position():
    source = _pdf(pages=1)
    stream = io.BytesIO(b"prefix-not-part-of-the-file" + source)
    stream.seek(len(b"prefix-not-part-of-the-file"))
    out = io.BytesIO()
    result = convert_to_pdf(stream, "a.pdf", out=out)
    assert result.included and out.getvalue() == source


def test_encrypted_pdfs_are_excluded():
    for user_password in ("secret", ""):  # an owner-password-only PDF is encrypted too
        writer = PdfWriter(clone_from=_reader(_pdf(pages=2)))
        writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-128")
        buffer = io.BytesIO()
        writer.write(buffer)
        result, pdf = _convert(buffer.getvalue(), f"{SECRET_NAME}.pdf")
        _assert_excluded(result, pdf, Reason.ENCRYPTED)
        assert result.source_type == SourceType.PDF


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n" + random.Random(1).randbytes(5000),
        b"%PDF-1.4\n%%EOF\n",
        b"%PDF-",
    ],
    ids=["garbage-body", "no-objects", "header-only"],
)
def test_unparseable_pdf_is_corrupt(data):
    result, pdf = _convert(data, f"{SECRET_NAME}.pdf")
    _assert_excluded(result, pdf, Reason.CORRUPT)


def test_pdf_without_pages_is_empty():
    buffer = io.BytesIO()
    PdfWriter().write(buffer)
    result, pdf = _convert(buffer.getvalue(), "empty.pdf")
    _assert_excluded(result, pdf, Reason.EMPTY)


def test_pdf_over_the_page_limit_is_too_large():
    result, pdf = _convert(_pdf(pages=5), "long.pdf", EvidenceLimits(max_pages=4))
    _assert_excluded(result, pdf, Reason.TOO_LARGE)
    result, pdf = _convert(_pdf(pages=4), "long.pdf", EvidenceLimits(max_pages=4))
    assert result.included and result.pages == 4


# ------------------------------------------------------------------------------------------ images


@pytest.mark.parametrize(
    ("make", "name", "source_type", "pages"),
    [
        (lambda: _jpeg(), "photo.jpg", SourceType.JPEG, 1),
        (lambda: _jpeg(mode="CMYK"), "scan.jpeg", SourceType.JPEG, 1),
        (lambda: _jpeg(mode="L"), "grey.jpg", SourceType.JPEG, 1),
        (lambda: _png(), "screenshot.png", SourceType.PNG, 1),
        (lambda: _png(mode="RGBA"), "transparent.png", SourceType.PNG, 1),
        (lambda: _png(mode="P"), "palette.png", SourceType.PNG, 1),
        (lambda: _encode(_picture(), "PNG", interlace=1), "interlaced.png", SourceType.PNG, 1),
        (lambda: _gif(1), "still.gif", SourceType.GIF, 1),
        (lambda: _gif(4), "animated.gif", SourceType.GIF, 4),
        (lambda: _encode(_picture(), "BMP"), "paint.bmp", SourceType.BMP, 1),
        (lambda: _tiff(1), "single.tif", SourceType.TIFF, 1),
        (lambda: _tiff(3), "multi.tiff", SourceType.TIFF, 3),
        (lambda: _multi("TIFF", _frames(3, (200, 100), "1"), compression="group4"), "fax.tif", SourceType.TIFF, 3),
        (lambda: _encode(Image.new("I;16", (50, 40), 40000), "TIFF"), "xray16.tif", SourceType.TIFF, 1),
    ],
    ids=["jpeg", "jpeg-cmyk", "jpeg-grey", "png", "png-rgba", "png-palette", "png-interlaced", "gif",
         "gif-animated", "bmp", "tiff", "tiff-multi", "tiff-g4", "tiff-16bit"],
)
def test_images_become_one_page_per_frame(make, name, source_type, pages):
    result, pdf = _convert(make(), name)
    reader = _assert_included(result, pdf, source_type, pages)
    for page in reader.pages:
        assert len(page.images) == 1
        # The image is fitted on a US Letter page (either orientation).
        assert sorted((round(float(page.mediabox.width)), round(float(page.mediabox.height)))) == [612, 792]


def test_jpeg_is_embedded_unchanged():
    data = _jpeg(size=(300, 200))
    result, pdf = _convert(data, "photo.jpg")
    assert result.included
    assert data in pdf  # the DCT stream is the original file, not a re-encoding


def test_png_pixels_survive_exactly():
    original = _picture((97, 61))
    result, pdf = _convert(_encode(original, "PNG"), "screenshot.png")
    assert result.included
    embedded = _reader(pdf).pages[0].images[0].image
    assert embedded.size == original.size
    assert embedded.convert("RGB").tobytes() == original.tobytes()


def test_landscape_image_gets_a_landscape_page_and_exif_rotation_is_kept():
    result, pdf = _convert(_png((300, 100)), "wide.png")
    page = _reader(pdf).pages[0]
    assert float(page.mediabox.width) > float(page.mediabox.height)

    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    result, pdf = _convert(_jpeg(exif=exif.tobytes()), "phone.jpg")
    assert result.included
    assert _reader(pdf).pages[0].rotation == 90


def test_file_named_pdf_that_is_a_png_is_converted_as_the_png_it_is():
    result, pdf = _convert(_png(), f"{SECRET_NAME}.pdf")
    _assert_included(result, pdf, SourceType.PNG, 1)


def test_file_named_png_that_is_a_pdf_passes_through_as_a_pdf():
    source = _pdf(pages=2)
    result, pdf = _convert(source, "scan.png")
    _assert_included(result, pdf, SourceType.PDF, 2)
    assert pdf == source


def _broken_png() -> bytes:
    data = bytearray(_png((64, 64)))
    start = data.index(b"IDAT") + 8
    for offset in range(start, start + 20):
        data[offset] ^= 0x5A
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (_broken_png(), "broken.png"),
        (_png((64, 64))[:60], "truncated.png"),
        (_jpeg((400, 300))[:400], "truncated.jpg"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 100, "garbage.jpg"),
        (b"GIF89a" + b"\x00" * 7, "no-frames.gif"),
        (_tiff(2)[:120], "truncated.tif"),
        (_encode(_picture(), "BMP")[:80], "truncated.bmp"),
    ],
    ids=["png-bad-crc", "png-truncated", "jpeg-truncated", "jpeg-garbage", "gif-no-frames", "tiff-truncated",
         "bmp-truncated"],
)
@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_undecodable_image_is_corrupt(data, name):
    result, pdf = _convert(data, name)
    _assert_excluded(result, pdf, Reason.CORRUPT)


@pytest.mark.parametrize(
    "data",
    [
        _png_with_header(100_000, 100_000),  # 10 Gpx: Pillow refuses it outright
        _png_with_header(9_000, 9_000),  # 81 Mpx: under Pillow's bomb warning, over our limit
        _bmp_with_header(30_000, 30_000),
        _gif_with_frame((65_535, 65_535), (0, 0), (1, 1)),
        _gif_with_frame((1, 1), (60_000, 60_000), (1, 1)),  # a frame placed far outside grows the canvas
    ],
    ids=["png-10gpx", "png-81mpx", "bmp-900mpx", "gif-huge-screen", "gif-frame-outside-screen"],
)
def test_header_claiming_huge_dimensions_is_too_large_without_decoding(data):
    result, pdf = _convert(data, f"{SECRET_NAME}.png")
    _assert_excluded(result, pdf, Reason.TOO_LARGE)


def test_pixel_limit_applies_to_every_tiff_frame():
    frames = [Image.new("RGB", (10, 10)), Image.new("RGB", (100, 100))]
    data = _multi("TIFF", frames)
    result, pdf = _convert(data, "scan.tif", EvidenceLimits(max_image_pixels=5_000))
    _assert_excluded(result, pdf, Reason.TOO_LARGE)
    result, pdf = _convert(data, "scan.tif", EvidenceLimits(max_image_pixels=10_000))
    _assert_included(result, pdf, SourceType.TIFF, 2)


def test_tiff_with_200_frames_over_a_lowered_frame_limit_is_too_large():
    data = _tiff(200, size=(8, 8))
    result, pdf = _convert(data, f"{SECRET_NAME}.tiff", EvidenceLimits(max_frames=150))
    _assert_excluded(result, pdf, Reason.TOO_LARGE)
    result, pdf = _convert(data, "fax.tiff")
    _assert_included(result, pdf, SourceType.TIFF, 200)


def test_gif_frame_limit():
    result, pdf = _convert(_gif(6), "animated.gif", EvidenceLimits(max_frames=5))
    _assert_excluded(result, pdf, Reason.TOO_LARGE)


# -------------------------------------------------------------------------------------- plain text

_NON_ASCII = "Grüße aus Köln — “naïve” façade, Łódź, Ő, ñ, € 5 – résumé\nПривет\n"


def _text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in _reader(pdf).pages)


def test_utf8_text_with_non_ascii_and_markup_renders_literally():
    source = (_NON_ASCII + "<b>not bold</b> & <font size=40>x</font> &amp;\n\n    indented line\n").encode()
    result, pdf = _convert(source, "statement.txt")
    _assert_included(result, pdf, SourceType.TXT, 1)
    text = _text_of(pdf)
    for expected in ("Grüße", "“naïve”", "Łódź", "Привет", "€", "<b>not bold</b> &", "&amp;", "indented line"):
        assert expected in text
    assert "read as UTF-8" in text


def test_text_that_is_not_utf8_is_read_as_windows_1252_then_latin_1():
    result, pdf = _convert("“quoted” café – done".encode("cp1252"), "letter.TXT")
    assert result.included
    text = _text_of(pdf)
    assert "“quoted” café – done" in text and "Windows-1252" in text

    result, pdf = _convert(b"caf\xe9 \x81 end", "letter.txt")  # 0x81 is undefined in Windows-1252
    assert result.included
    assert "café" in _text_of(pdf) and "Latin-1" in _text_of(pdf)


def test_utf16_text_with_a_bom():
    result, pdf = _convert(_NON_ASCII.encode("utf-16"), "notepad.txt")
    assert result.included
    assert "Łódź" in _text_of(pdf)


def test_one_megabyte_of_text_renders_every_line():
    line = "{:06d} The veteran reports knee pain, “worse on stairs” — Grüße, ñ, ł, ő. <tag> & more words\n"
    lines = [line.format(i) for i in range(1, 20_000)]
    source = "".join(lines).encode()
    while len(source) < 1024 * 1024:
        lines.append(line.format(len(lines) + 1))
        source = "".join(lines).encode()
    result, pdf = _convert(source, "journal.txt")
    assert result.included and result.source_type == SourceType.TXT
    reader = _reader(pdf)
    assert len(reader.pages) == result.pages > 150
    last_page = reader.pages[-1].extract_text()
    assert f"{len(lines):06d} The veteran" in last_page


def test_very_long_single_line_is_wrapped_not_dropped():
    words = " ".join(f"word{i}" for i in range(40_000))  # ~350 kB, no newline
    result, pdf = _convert(words.encode(), "oneline.txt")
    assert result.included and result.pages > 10
    text = _text_of(pdf)
    assert "word0" in text and "word39999" in text


def test_text_page_limit():
    source = "\n".join(f"line {i}" for i in range(500)).encode()
    result, pdf = _convert(source, "notes.txt", EvidenceLimits(max_pages=3))
    _assert_excluded(result, pdf, Reason.TOO_LARGE)
    # Long wrapped lines: the line-count bound passes, the page counter stops the build.
    source = "\n".join("lorem ipsum dolor sit amet " * 60 for _ in range(100)).encode()
    result, pdf = _convert(source, "notes.txt", EvidenceLimits(max_pages=3))
    _assert_excluded(result, pdf, Reason.TOO_LARGE)


def test_text_over_the_text_byte_limit_is_too_large():
    result, pdf = _convert(b"a" * 2000, "notes.txt", EvidenceLimits(max_text_bytes=1000))
    _assert_excluded(result, pdf, Reason.TOO_LARGE)


def test_whitespace_only_text_is_empty_and_binary_text_is_unsupported():
    result, pdf = _convert(b" \n\t\r\n  \n", "blank.txt")
    _assert_excluded(result, pdf, Reason.EMPTY)
    result, pdf = _convert(b"MZ\x90\x00\x03\x00\x00\x00binary", f"{SECRET_NAME}.txt")
    _assert_excluded(result, pdf, Reason.UNSUPPORTED_TYPE)


# ------------------------------------------------------------------------------- outcomes and types


def test_zero_byte_file_is_empty():
    for name in ("scan.pdf", "photo.jpg", "notes.txt", "unknown"):
        result, pdf = _convert(b"", name)
        _assert_excluded(result, pdf, Reason.EMPTY)


def test_missing_path_is_not_found(tmp_path):
    for missing in (tmp_path / "gone.pdf", tmp_path, tmp_path / "gone" / "x.pdf"):
        out = io.BytesIO()
        result = convert_to_pdf(missing, f"{SECRET_NAME}.pdf", out=out)
        _assert_excluded(result, out.getvalue(), Reason.NOT_FOUND)
        assert result.source_type is None


def test_unknown_content_is_unsupported():
    for data, name in ((b"PK\x03\x04 a docx", "letter.docx"), (b"plain words", "notes.dat"),
                       (b"plain words", f"{SECRET_NAME}.pdf")):
        result, pdf = _convert(data, name)
        _assert_excluded(result, pdf, Reason.UNSUPPORTED_TYPE)


def test_file_over_the_byte_limit_is_too_large_without_reading_it_all():
    class Endless(io.RawIOBase):
        served = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:  # type: ignore[override]
            buffer[:] = b"%" * len(buffer)
            self.served += len(buffer)
            return len(buffer)

    limits = EvidenceLimits(max_bytes=3 * COPY_CHUNK_BYTES)
    endless = Endless()
    out = io.BytesIO()
    result = convert_to_pdf(endless, "huge.pdf", out=out, limits=limits)
    _assert_excluded(result, out.getvalue(), Reason.TOO_LARGE)
    assert endless.served <= limits.max_bytes + COPY_CHUNK_BYTES

    result, pdf = _convert(_pdf(pages=1), "scan.pdf", EvidenceLimits(max_bytes=100))
    _assert_excluded(result, pdf, Reason.TOO_LARGE)


def test_detect_type_uses_magic_bytes_and_the_extension_only_for_text():
    assert detect_type(_png(), "x.pdf") == SourceType.PNG
    assert detect_type(b"BM is how this note starts", "note.txt") == SourceType.TXT  # not a BMP header
    assert detect_type(b"junk\n%PDF-1.4\n", "scan.pdf") == SourceType.PDF
    assert detect_type(b"a note quoting %PDF-1.4", "note.txt") == SourceType.TXT
    assert detect_type(b"II*\x00....", "x") == SourceType.TIFF
    assert detect_type(b"hello", "x.TXT") == SourceType.TXT
    assert detect_type(b"hello", "x.text") is None


def test_reason_codes_and_texts():
    assert {str(reason) for reason in Reason} == {
        "evidence_not_found", "evidence_corrupt", "evidence_encrypted", "evidence_too_large",
        "evidence_unsupported_type", "evidence_empty", "evidence_invalid_upload", "evidence_invalid_name",
        "evidence_not_configured",
    }
    assert set(REASON_TEXT) == set(Reason)
    assert REASON_TEXT["evidence_not_found"] == "file could not be found in VA.gov's upload store"
    assert all(text and text == text.strip() for text in REASON_TEXT.values())
    assert EvidenceResult.excluded(Reason.CORRUPT).reason_text == REASON_TEXT["evidence_corrupt"]


def test_limits_are_validated():
    with pytest.raises(ValueError, match="max_pages"):
        EvidenceLimits(max_pages=0)
    with pytest.raises(ValueError, match="max_bytes"):
        EvidenceLimits(max_bytes=True)


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (_pdf, "a.pdf"),
        (_jpeg, "a.jpg"),
        (_png, "a.png"),
        (lambda: _png(mode="RGBA"), "a.png"),
        (lambda: _gif(3), "a.gif"),
        (lambda: _encode(_picture(), "BMP"), "a.bmp"),
        (lambda: _tiff(3), "a.tif"),
        (lambda: _encode(Image.new("I;16", (20, 20), 30000), "TIFF"), "a.tif"),
        (lambda: (_NON_ASCII * 300).encode(), "a.txt"),
    ],
    ids=["pdf", "jpeg", "png", "png-rgba", "gif", "bmp", "tiff", "tiff-16bit", "txt"],
)
def test_same_input_gives_the_same_bytes(make, name):
    data = make()
    first_result, first = _convert(data, name)
    second_result, second = _convert(data, name)
    assert first_result.included and first_result == second_result
    assert first == second
    assert b"/CreationDate" not in first or b"D:20000101" in first  # no clock time
