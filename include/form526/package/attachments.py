"""Which uploaded evidence goes into the package, under which name, and why the rest does not.

The caller (the delivery code) fetches and converts each upload (`evidence.convert_to_pdf`) and
passes one `AttachedEvidence` per upload. Included files become `attachment1.pdf`,
`attachment2.pdf`, ... numbered over the included uploads in upload order, as vets-api's backup
path names them; each is mapped to its own upload's `attachmentId`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

from include.form526.package.evidence import REASON_TEXT, Reason
from include.form526.package.submission import Upload

INVALID_UPLOAD = Reason.INVALID_UPLOAD.value
NOT_RETRIEVED = "evidence_not_retrieved"

_EXTRA_REASON_TEXT = {
    NOT_RETRIEVED: "no outcome was recorded for this file when the package was built",
}


@dataclass(frozen=True)
class AttachedEvidence:
    """The outcome for one upload."""

    upload_index: int  # 0-based position in form526_uploads
    attachment_id: str  # the upload's attachmentId (document type code)
    reason: str | None  # None = included; else a reason code (evidence.Reason values, or 'evidence_invalid_upload')
    pdf: BinaryIO | None  # the converted PDF, seekable, positioned at 0, when included


@dataclass(frozen=True)
class EvidenceEntry:
    """One upload as the package shows it."""

    upload: Upload
    file_name: str | None  # `attachmentN.pdf` when included
    reason: str | None  # a reason code when not included; None when included or not retrieved at all
    evidence: AttachedEvidence | None


def reason_text(code: str) -> str:
    """Plain words for a reason code (the code itself when unknown: codes hold no PII)."""
    return REASON_TEXT.get(code) or _EXTRA_REASON_TEXT.get(code) or f"not included ({code})"


def plan_evidence(uploads: Sequence[Upload], evidence: Sequence[AttachedEvidence]) -> tuple[EvidenceEntry, ...]:
    """One entry per upload in upload order. With no evidence outcomes at all, nothing is included.

    Raises ValueError for outcomes that contradict the uploads (a caller bug, not bad data); the
    message names only indexes.
    """
    by_index: dict[int, AttachedEvidence] = {}
    for item in evidence:
        if not 0 <= item.upload_index < len(uploads):
            raise ValueError(f"evidence for upload index {item.upload_index}, but the submission has "
                             f"{len(uploads)} uploads")
        if item.upload_index in by_index:
            raise ValueError(f"two evidence outcomes for upload index {item.upload_index}")
        if item.reason is None and item.pdf is None:
            raise ValueError(f"evidence for upload index {item.upload_index} is included but has no PDF")
        by_index[item.upload_index] = item
    entries: list[EvidenceEntry] = []
    number = 0
    for upload in uploads:
        item = by_index.get(upload.index)
        if item is None:
            entries.append(EvidenceEntry(upload, None, NOT_RETRIEVED if evidence else None, None))
        elif item.reason is None:
            number += 1
            entries.append(EvidenceEntry(upload, f"attachment{number}.pdf", None, item))
        else:
            entries.append(EvidenceEntry(upload, None, item.reason, item))
    return tuple(entries)
