"""Render the built-in sample submissions into a folder, to eyeball the PDFs.

    python -m tools.gallery --out DIR [--png]

Writes `<name>-<id>.zip` per sample, the PDFs extracted beside it, and with `--png`
page previews made by `pdftoppm` (Debian package poppler-utils). One sample, `with-evidence`,
is built with evidence the way the delivery code does it: a photo (a PNG made here) converted to
PDF, a PDF passed through, one upload missing from the store and one unusable upload entry.
"""

from __future__ import annotations

import argparse
import copy
import io
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from include.form526.package.attachments import INVALID_UPLOAD, AttachedEvidence
from include.form526.package.build import Package, build_package
from include.form526.package.evidence import Reason, convert_to_pdf
from tools import samples
from tools.samples import gallery_submissions

EVIDENCE_SAMPLE = "with-evidence"


def sample_png() -> bytes:
    """A small, obviously fake 'photo of a document' made with Pillow."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (900, 600), "#f4efe1")
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 40, 860, 560), outline="#1f3a5f", width=6)
    draw.text((80, 90), "SAMPLE X-RAY REPORT (fake, for the gallery)", fill="#1f3a5f")
    for row in range(8):
        draw.line((80, 160 + row * 45, 820, 160 + row * 45), fill="#9aa7b8", width=3)
    return _png_bytes(image)


def _png_bytes(image: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")  # type: ignore[attr-defined]
    return buffer.getvalue()


def sample_pdf() -> bytes:
    """A one-page, obviously fake medical record made with reportlab."""
    from reportlab.lib.pagesizes import LETTER
    from reportlab.pdfgen.canvas import Canvas

    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=LETTER, invariant=1)
    canvas.setFont("Helvetica-Bold", 16)
    canvas.drawString(72, 700, "Example Orthopedic Clinic — visit note (fake)")
    canvas.setFont("Helvetica", 11)
    for n, line in enumerate(("Patient: Sample Veteran", "Finding: left knee strain, stable.",
                              "This document is a made-up sample for the package gallery.")):
        canvas.drawString(72, 660 - 18 * n, line)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def evidence_package(sub_id: int = 1999) -> Package:
    """The `with-uploads` sample built with evidence outcomes for each of its uploads."""
    form, auth = samples.with_uploads()
    sub = samples.submission(copy.deepcopy(form), auth, sub_id=sub_id)
    uploads = form["form526_uploads"]
    evidence: list[AttachedEvidence] = []
    for index, (name, content) in enumerate(((uploads[0]["name"], sample_png()), (uploads[1]["name"], sample_pdf()))):
        pdf = io.BytesIO()
        result = convert_to_pdf(io.BytesIO(content), name, out=pdf)
        pdf.seek(0)
        evidence.append(AttachedEvidence(index, uploads[index]["attachmentId"], result.reason, pdf))
    evidence.append(AttachedEvidence(2, uploads[2]["attachmentId"], Reason.NOT_FOUND.value, None))
    evidence.append(AttachedEvidence(3, uploads[3]["attachmentId"], INVALID_UPLOAD, None))
    return build_package(sub, evidence)


def render_gallery(out: Path, png: bool = False) -> list[Path]:
    """Write every sample's zip and PDFs (and PNG previews) into `out`; return the PDFs written."""
    out.mkdir(parents=True, exist_ok=True)
    pdfs: list[Path] = []
    packages = [(name, build_package(sub)) for name, sub in gallery_submissions().items()]
    packages.append((EVIDENCE_SAMPLE, evidence_package()))
    for name, package in packages:
        stem = f"{name}-{package.submission_id}"
        (out / f"{stem}.zip").write_bytes(package.data)
        with zipfile.ZipFile(out / f"{stem}.zip") as archive:
            for member in package.files:
                if member.endswith(".pdf"):
                    target = out / f"{stem}-{member}"
                    target.write_bytes(archive.read(member))
                    pdfs.append(target)
    if png:
        if shutil.which("pdftoppm") is None:
            raise SystemExit("pdftoppm not found: apt-get install -y poppler-utils")
        for pdf in pdfs:
            subprocess.run(["pdftoppm", "-png", "-r", "100", str(pdf), str(pdf.with_suffix(""))], check=True)
    return pdfs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write into")
    parser.add_argument("--png", action="store_true", help="also write PNG page previews (needs pdftoppm)")
    args = parser.parse_args(argv)
    for pdf in render_gallery(args.out, args.png):
        print(pdf)
    return 0


if __name__ == "__main__":
    sys.exit(main())
