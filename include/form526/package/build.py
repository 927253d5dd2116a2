"""Build the package VBA receives for one failed 21-526EZ submission.

The zip (named `<submission_id>.zip` by the caller) holds, in this order: `21-526EZ.pdf`,
any ancillary form PDFs (`21-4142.pdf`, `21-0781.pdf`, `21-0781a.pdf`, `21-0781V2.pdf`,
`21-8940.pdf`), the included evidence (`attachment1.pdf`, ...), `metadata.json` and
`mappings.json`. Entries have fixed timestamps, order and compression, so the same submission
with the same evidence always gives the same bytes (and the same sha256).

The zip is written in one forward pass, through a writer that hashes as it goes: into memory
(`Package.data`), or into a caller's file object `out` (then `Package.data` is empty). Evidence
PDFs are copied in chunks, never read whole. Because the writer does not seek, every entry
carries a data descriptor (sizes and CRC after the data), which every zip reader handles that
reads the central directory.

Errors are `PackageError(code, detail)` (see `include.form526.package.errors`); `detail` never
holds input data.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from include.form526.package.ancillary import render_ancillary
from include.form526.package.attachments import AttachedEvidence, EvidenceEntry, plan_evidence
from include.form526.package.errors import (
    ERROR_CODES,
    PACKAGE_UNEXPECTED,
    RENDER_FAILED,
    PackageError,
)
from include.form526.package.evidence import COPY_CHUNK_BYTES
from include.form526.package.form526ez import render_form526ez
from include.form526.package.metadata import build_mappings, build_metadata
from include.form526.package.submission import SourceSubmission, Submission, parse_submission

__all__ = [
    "ERROR_CODES", "PACKAGE_UNEXPECTED", "RENDER_FAILED", "AttachedEvidence", "Package", "PackageError",
    "SourceSubmission", "build_package",
]

MAIN_PDF = "21-526EZ.pdf"
METADATA_FILE = "metadata.json"
MAPPINGS_FILE = "mappings.json"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Package:
    submission_id: int
    data: bytes  # the zip, named <submission_id>.zip by the caller; b"" when written to `out`
    sha256: str  # hex digest of the zip
    files: tuple[str, ...]  # names inside the zip
    size: int  # bytes in the zip


def build_package(
    sub: SourceSubmission, evidence: Sequence[AttachedEvidence] = (), out: BinaryIO | None = None,
    parsed: Submission | None = None,
) -> Package:
    """Render and zip one submission's package; raises PackageError for bad data.

    `evidence` holds one outcome per upload (none: uploads are listed but not included). `out`,
    when given, receives the zip (a seekable file the caller owns, e.g. a SpooledTemporaryFile; it is
    left positioned at the end). `parsed` is `parse_submission(sub)` when the caller already has it.

    The zip is written to a seekable target so every entry has its sizes in its local header (no data
    descriptors, which Java's streaming ZipInputStream refuses for stored entries); its SHA-256 is then
    computed in one read.
    """
    if parsed is not None:
        submission = parsed
    else:
        try:
            submission = parse_submission(sub)
        except PackageError:
            raise
        except Exception as exc:  # the message may quote input, so only the class is kept
            raise PackageError(RENDER_FAILED, f"reading the submission failed with {type(exc).__name__}") from None
    entries = plan_evidence(submission.uploads, evidence)
    documents, metadata, mappings = _render(submission, entries)

    target: BinaryIO = io.BytesIO() if out is None else out
    start = target.tell()
    names = [name for name, _ in documents]
    with zipfile.ZipFile(target, "w") as archive:
        for name, payload in documents:
            _write_bytes(archive, name, payload)
        for entry in entries:
            if entry.file_name and entry.evidence is not None and entry.evidence.pdf is not None:
                with archive.open(_info(entry.file_name), "w") as member:
                    shutil.copyfileobj(entry.evidence.pdf, member, COPY_CHUNK_BYTES)
                names.append(entry.file_name)
        for name, value in ((METADATA_FILE, metadata), (MAPPINGS_FILE, mappings)):
            _write_bytes(archive, name, _json_bytes(value))
            names.append(name)
    end = target.tell()
    target.seek(start)
    digest, size = hashlib.sha256(), 0
    while size < end - start and (chunk := target.read(min(COPY_CHUNK_BYTES, end - start - size))):
        digest.update(chunk)
        size += len(chunk)
    target.seek(end)
    return Package(
        submission_id=sub.id,
        data=target.getvalue() if out is None else b"",  # type: ignore[attr-defined]
        sha256=digest.hexdigest(),
        files=tuple(names),
        size=size,
    )


def _render(
    submission: Submission, entries: Sequence[EvidenceEntry]
) -> tuple[list[tuple[str, bytes]], dict[str, str], dict[str, str]]:
    """The form PDFs in package order, metadata and mappings."""
    try:
        metadata = build_metadata(submission)
        documents = [(MAIN_PDF, render_form526ez(submission, entries))]
        for form in submission.ancillary:
            documents.append((form.file_name, render_ancillary(form, submission)))
        attachments = {e.file_name: e.evidence.attachment_id for e in entries if e.file_name and e.evidence}
        mappings = build_mappings([name for name, _ in documents], attachments)
    except PackageError:
        raise
    except Exception as exc:  # the message may quote input, so only the class is kept
        raise PackageError(RENDER_FAILED, f"rendering failed with {type(exc).__name__}") from None
    return documents, metadata, mappings


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    # PDFs' streams are deflated already: storing them saves time for a few percent of size.
    info.compress_type = zipfile.ZIP_STORED if name.endswith(".pdf") else zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _write_bytes(archive: zipfile.ZipFile, name: str, payload: bytes) -> None:
    archive.writestr(_info(name), payload, compresslevel=1)


def _json_bytes(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=True).encode("ascii") + b"\n"
