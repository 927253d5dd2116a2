"""Render the built-in sample submissions into a folder, to eyeball the PDFs.

    python -m tools.gallery --out DIR [--png]

Writes `<name>-<id>.zip` per sample, the PDFs extracted beside it, and with `--png`
page previews made by `pdftoppm` (Debian package poppler-utils).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from include.form526.package.build import build_package
from tools.samples import gallery_submissions


def render_gallery(out: Path, png: bool = False) -> list[Path]:
    """Write every sample's zip and PDFs (and PNG previews) into `out`; return the PDFs written."""
    out.mkdir(parents=True, exist_ok=True)
    pdfs: list[Path] = []
    for name, sub in gallery_submissions().items():
        package = build_package(sub)
        stem = f"{name}-{sub.id}"
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
