"""Reading the veteran's uploaded evidence: ``form_attachments`` rows and vets-api's upload bucket.

vets-api's backup path (``Processor#get_uploads``, vets-api-facts.md section 1) finds each
``form526_uploads`` item's ``form_attachments`` row by ``guid = confirmationCode`` (type
``SupportingEvidenceAttachment``) and fetches the ORIGINAL file, named by ``file_data.filename``, from
``disability_compensation_supporting_form/<guid>/<filename>`` in the evidence bucket. This module does the
same, read-only, and streams each object into a spooled temporary file (memory up to a threshold, then an
unlinked temporary file that disappears on close).

Outcomes per upload are a file to convert, or a reason code (``include.form526.package.evidence.Reason``)
saying why it is not included. Only trouble reaching the store at all (connection errors, throttling,
403 — which an IAM policy with ``s3:ListBucket`` on the prefix never answers for a missing key) raises,
so the batch task retries. Nothing here logs or raises a file name, a guid's content or file content.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import IO, Any

from include.form526.package.evidence import Reason

EVIDENCE_PREFIX = "disability_compensation_supporting_form"
ATTACHMENT_TYPE = "SupportingEvidenceAttachment"
COPY_CHUNK = 1024 * 1024

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

ATTACHMENTS_SQL = """
SELECT CAST(a.guid AS text), a.type, a.file_data
FROM form_attachments AS a
WHERE CAST(a.guid AS text) = ANY(%(guids)s)
ORDER BY a.id
"""

ATTACHMENTS_ENCRYPTED_SQL = """
SELECT CAST(a.guid AS text), a.type, a.file_data_ciphertext, a.encrypted_kms_key, a.id
FROM form_attachments AS a
WHERE CAST(a.guid AS text) = ANY(%(guids)s)
ORDER BY a.id
"""


@dataclass(frozen=True)
class AttachmentRow:
    """One ``form_attachments`` row, with its decrypted ``file_data`` JSON text (or None)."""

    guid: str
    type: str
    file_data: str | None


@dataclass(frozen=True)
class Located:
    """Where an upload's file is, or why it cannot be fetched."""

    key: str | None
    filename: str | None
    reason: Reason | None


def valid_guid(value: object) -> bool:
    return isinstance(value, str) and _GUID.fullmatch(value) is not None


def read_attachment_rows(conn, guids: Iterable[str],
                         decrypt: Callable[[Any], str | None] | None = None) -> dict[str, list[AttachmentRow]]:
    """The ``form_attachments`` rows of these guids (all types), grouped by guid.

    Runs in the caller's transaction (the batch reads inside its READ ONLY snapshot). With ``decrypt``
    (encrypted source mode) the ciphertext columns are read and ``decrypt(row)`` returns the plaintext
    ``file_data`` of ``(guid, type, file_data_ciphertext, encrypted_kms_key, id)``.
    """
    wanted = sorted({g.lower() for g in guids if valid_guid(g)})
    out: dict[str, list[AttachmentRow]] = {}
    if not wanted:
        return out
    sql = ATTACHMENTS_ENCRYPTED_SQL if decrypt else ATTACHMENTS_SQL
    for row in conn.execute(sql, {"guids": wanted}).fetchall():
        file_data = decrypt(row) if decrypt else row[2]
        out.setdefault(row[0].lower(), []).append(AttachmentRow(row[0].lower(), row[1], file_data))
    return out


def _safe_name(name: object) -> str | None:
    if not isinstance(name, str) or not name or len(name) > 255:
        return None
    # S3 keys are flat, so without separators a name cannot leave its folder; refuse the rest outright
    if "/" in name or "\\" in name or "\x00" in name or name.strip(".") == "":
        return None
    return name


def locate(guid: object, rows: Mapping[str, list[AttachmentRow]]) -> Located:
    """The object key of an upload (``confirmationCode`` = guid), or the reason it has none."""
    if not valid_guid(guid):
        return Located(None, None, Reason.INVALID_UPLOAD)
    candidates = [r for r in rows.get(str(guid).lower(), []) if r.type == ATTACHMENT_TYPE]
    if not candidates:  # no row, or only a row of another type (another form's attachment)
        return Located(None, None, Reason.NOT_FOUND)
    try:
        data = json.loads(candidates[0].file_data or "")
    except ValueError:
        return Located(None, None, Reason.NOT_FOUND)
    if not isinstance(data, dict) or not data.get("filename"):
        return Located(None, None, Reason.NOT_FOUND)
    name = _safe_name(data.get("filename"))
    if name is None:
        return Located(None, None, Reason.INVALID_NAME)
    return Located(f"{EVIDENCE_PREFIX}/{str(guid).lower()}/{name}", name, None)


def _error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", "")) or None
    return None


_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


class EvidenceStore:
    """vets-api's upload bucket, read through a boto3 S3 client (from Airflow's ``form526_evidence``)."""

    def __init__(self, client: Any, bucket: str, *, spool_bytes: int = 4 * 1024 * 1024) -> None:
        self.client = client
        self.bucket = bucket
        self.spool_bytes = spool_bytes
        self.fetched = 0
        self.bytes_fetched = 0

    def open(self, key: str, max_bytes: int) -> tuple[IO[bytes] | None, Reason | None]:
        """The object spooled to a temporary file (caller closes it), or the reason it is not included.

        The size is checked from the response header before the body is read; a body longer than it
        claimed is cut off at ``max_bytes`` and refused.
        """
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if _error_code(exc) in _MISSING:
                return None, Reason.NOT_FOUND
            raise
        body = response["Body"]
        try:
            size = int(response.get("ContentLength") or 0)
            if size > max_bytes:
                return None, Reason.TOO_LARGE
            spool = tempfile.SpooledTemporaryFile(max_size=self.spool_bytes)  # noqa: SIM115 (returned)
            total = 0
            try:
                while chunk := body.read(COPY_CHUNK):
                    total += len(chunk)
                    if total > max_bytes:
                        spool.close()
                        return None, Reason.TOO_LARGE
                    spool.write(chunk)
            except BaseException:
                spool.close()
                raise
        finally:
            body.close()
        if total == 0:
            spool.close()
            return None, Reason.EMPTY
        spool.seek(0)
        self.fetched += 1
        self.bytes_fetched += total
        return spool, None
