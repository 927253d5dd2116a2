"""Every PDF built from hostile input is structurally valid: qpdf's check, pypdf strict, sound ToUnicode maps."""

from __future__ import annotations

import io
import logging
import re
import zipfile
from functools import cache

import pikepdf
import pytest
from pypdf import PdfReader

from include.form526.package.build import build_package
from tools import samples

_HEX_STRING = re.compile(rb"<([0-9A-Fa-f\s]*)>")


def _tounicode_problems(pdf: pikepdf.Pdf) -> list[str]:
    """Hex strings of odd length (or destinations that are not whole UTF-16 units) in any ToUnicode map."""
    problems = []
    seen: set[tuple[int, int]] = set()
    for page in pdf.pages:
        fonts = page.obj.get("/Resources", {}).get("/Font", {})
        for font in fonts.values():
            cmap = font.get("/ToUnicode")
            if cmap is None or cmap.objgen in seen:
                continue
            seen.add(cmap.objgen)
            in_bfchar = False
            for raw in cmap.read_bytes().splitlines():
                line = raw.strip()
                if line.endswith(b"beginbfchar") or line == b"endbfchar":
                    in_bfchar = line != b"endbfchar"
                    continue
                tokens = [re.sub(rb"\s", b"", t) for t in _HEX_STRING.findall(line)]
                if in_bfchar and len(tokens) == 2 and len(tokens[1]) % 4:
                    problems.append(f"{font.get('/BaseFont')}: destination {tokens[1]!r}")
                problems += [f"{font.get('/BaseFont')}: odd hex {t!r}" for t in tokens if len(t) % 2]
    return problems


def pdf_problems(data: bytes, caplog: pytest.LogCaptureFixture) -> list[str]:
    """What a strict reader finds wrong with one PDF (empty when it is valid)."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        problems = list(pdf.check_pdf_syntax()) + _tounicode_problems(pdf)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pypdf"):
        reader = PdfReader(io.BytesIO(data), strict=True)
        for page in reader.pages:
            page.extract_text()
    problems += [f"pypdf: {r.getMessage()}" for r in caplog.records]
    return problems


@cache
def _package(name: str) -> dict[str, bytes]:
    form, auth = samples.HOSTILE[name]()
    package = build_package(samples.submission(form, auth, sub_id=7070))
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        return {n: archive.read(n) for n in archive.namelist() if n.endswith(".pdf")}


@pytest.mark.parametrize("name", sorted(samples.HOSTILE))
def test_every_pdf_of_a_hostile_sample_is_structurally_valid(name: str, caplog: pytest.LogCaptureFixture) -> None:
    pdfs = _package(name)
    assert "21-526EZ.pdf" in pdfs and len(pdfs) >= 3  # the 526EZ and the ancillary forms
    for file_name, data in pdfs.items():
        assert pdf_problems(data, caplog) == [], file_name


def text_of(data: bytes) -> str:
    return " ".join(" ".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(data)).pages)


def test_emoji_the_font_draws_are_kept_and_extract_as_themselves() -> None:
    # DejaVu Sans has U+1F600; a malformed ToUnicode entry made readers drop it
    text = text_of(_package("hostile-characters")["21-526EZ.pdf"])
    assert "Knee 😀 Emoji 😀😂🙀" in text
    assert samples.HOSTILE_END in text


def test_the_full_text_of_a_one_megabyte_field_is_in_the_pdf() -> None:
    pdfs = _package("hostile-sizes")
    text = text_of(pdfs["21-526EZ.pdf"])
    for end in (samples.HOSTILE_END, "END-OF-WORD", "END-OF-CELL"):
        assert end in text, end
    # the last words of the remark, just before its end marker, are there as written
    assert "Pain after the fall Emoji" in text.split(samples.HOSTILE_END)[0][-2000:]
    assert "END-OF-LINES" in text_of(pdfs["21-0781.pdf"])


def test_a_valid_pdf_passes_the_checker(caplog: pytest.LogCaptureFixture) -> None:
    # the checker itself must not reject what it is meant to accept
    data = build_package(samples.submission(*samples.ancillary_forms())).data
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert pdf_problems(archive.read("21-526EZ.pdf"), caplog) == []


def test_the_checker_finds_an_odd_length_tounicode_entry(caplog: pytest.LogCaptureFixture) -> None:
    pdf = pikepdf.new()
    page = pdf.add_blank_page()
    cmap = pdf.make_stream(b"1 beginbfchar\n<05> <1F600>\nendbfchar\n")
    font = pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.TrueType, ToUnicode=cmap,
                              BaseFont=pikepdf.Name("/X"))
    page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
    out = io.BytesIO()
    pdf.save(out)
    assert any("odd hex" in p for p in pdf_problems(out.getvalue(), caplog))
