"""Build the package VBA receives for one failed 21-526EZ submission, entirely in memory.

The zip (named `<submission_id>.zip` by the caller) holds, in this order: `21-526EZ.pdf`,
any ancillary form PDFs (`21-4142.pdf`, `21-0781.pdf`, `21-0781a.pdf`, `21-8940.pdf`),
`metadata.json` and `mappings.json`. Entries have fixed timestamps, order and compression,
so the same submission always gives the same bytes (and the same sha256).

Error codes raised as `PackageError(code, detail)`; `detail` never holds input data:

=======================  ==================================================================
code                     meaning
=======================  ==================================================================
form_json_invalid        form_json is missing, not JSON, or not a JSON object
form526_missing          form_json has no `form526.form526` object
auth_headers_invalid     auth_headers_json is missing, not JSON, or not a JSON object
identity_missing         auth headers lack the veteran's first or last name (or it has no
                         letters usable in metadata)
file_number_invalid      "file number is invalid. It must be 8 or 9 digits"
render_failed            an unexpected exception while rendering; detail names only its class
=======================  ==================================================================
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from include.form526.package.ancillary import ancillary_documents, render_ancillary
from include.form526.package.form526ez import render_form526ez
from include.form526.package.metadata import FILE_NUMBER_INVALID, IDENTITY_MISSING, build_mappings, build_metadata
from include.form526.package.text_safety import to_text

FORM_JSON_INVALID = "form_json_invalid"
FORM526_MISSING = "form526_missing"
AUTH_HEADERS_INVALID = "auth_headers_invalid"
RENDER_FAILED = "render_failed"
ERROR_CODES = frozenset({
    FORM_JSON_INVALID, FORM526_MISSING, AUTH_HEADERS_INVALID, IDENTITY_MISSING, FILE_NUMBER_INVALID, RENDER_FAILED,
})

MAIN_PDF = "21-526EZ.pdf"
METADATA_FILE = "metadata.json"
MAPPINGS_FILE = "mappings.json"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class SourceSubmission:
    id: int
    created_at: datetime  # naive UTC timestamp from Postgres
    form_json: str | None  # raw text column
    auth_headers_json: str | None  # raw text column


@dataclass(frozen=True)
class Package:
    submission_id: int
    data: bytes  # the zip, named <submission_id>.zip by the caller
    sha256: str  # hex of data
    files: tuple[str, ...]  # names inside the zip


class PackageError(Exception):
    """One submission cannot be packaged. `code` is a stable error code, `detail` a PII-free sentence."""

    def __init__(self, code: str, detail: str):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def build_package(sub: SourceSubmission) -> Package:
    """Render and zip one submission's package; raises only PackageError for bad data."""
    form = _parse_object(sub.form_json, FORM_JSON_INVALID, "form_json")
    form526 = form.get("form526")
    form526 = form526.get("form526") if isinstance(form526, Mapping) else None
    if not isinstance(form526, Mapping):
        raise PackageError(FORM526_MISSING, "form_json has no form526.form526 object")
    auth = _parse_object(sub.auth_headers_json, AUTH_HEADERS_INVALID, "auth_headers_json")
    if not to_text(auth.get("va_eauth_firstName")).strip() or not to_text(auth.get("va_eauth_lastName")).strip():
        raise PackageError(IDENTITY_MISSING, "auth headers have no veteran first and last name")

    try:
        metadata = build_metadata(auth, form526, sub.created_at)
        uploads = form.get("form526_uploads")
        documents = [(MAIN_PDF, render_form526ez(
            submission_id=sub.id, created_at=sub.created_at, form526=form526, auth_headers=auth,
            uploads=uploads, flashes=form.get("flashes"),
        ))]
        for file_name, title, data in ancillary_documents(form):
            documents.append(
                (file_name, render_ancillary(title, data, submission_id=sub.id, created_at=sub.created_at))
            )
        pdf_names = [name for name, _ in documents]
        mappings = build_mappings(pdf_names, uploads)
    except PackageError:
        raise
    except Exception as exc:  # the message may quote input, so only the class is kept
        raise PackageError(RENDER_FAILED, f"rendering failed with {type(exc).__name__}") from None

    entries = [*documents, (METADATA_FILE, _json_bytes(metadata)), (MAPPINGS_FILE, _json_bytes(mappings))]
    data = _zip(entries)
    return Package(
        submission_id=sub.id,
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        files=tuple(name for name, _ in entries),
    )


def _parse_object(raw: str | None, code: str, what: str) -> dict[str, Any]:
    # json errors quote the input around the fault, so their text is never kept.
    if raw is None or not isinstance(raw, (str, bytes, bytearray)):
        raise PackageError(code, f"{what} is empty")
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise PackageError(code, f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise PackageError(code, f"{what} is JSON but not an object")
    return value


def _json_bytes(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=True).encode("ascii") + b"\n"


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, payload in entries:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            # The PDFs' streams are deflated already: storing them saves ~0.5 ms a package for ~6% size.
            info.compress_type = zipfile.ZIP_STORED if name.endswith(".pdf") else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, payload, compresslevel=1)
    return buffer.getvalue()
