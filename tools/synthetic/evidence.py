"""Supporting evidence: ``form_attachments`` rows for form526_uploads, and the uploaded objects.

vets-api-facts.md §1: each upload item's ``confirmationCode`` is a ``form_attachments.guid``
(type ``SupportingEvidenceAttachment``), whose file_data JSON holds ``filename`` (CarrierWave's
sanitised name) plus ``converted_filename`` when a converted version exists (a TIFF, or a file whose
extension does not match its content). The files live at
``disability_compensation_supporting_form/<guid>/<filename>`` in the evidence bucket.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg

EVIDENCE_TYPE = "SupportingEvidenceAttachment"
OTHER_TYPE = "Form1010cg::Attachment"  # another STI class sharing the table
STORE_DIR = "disability_compensation_supporting_form"
NO_ROW_SHARE, OTHER_TYPE_SHARE = 0.006, 0.003
MISSING_EVERY = 40  # about one object in 40 is deliberately not uploaded
_EXT_KIND = {"pdf": "pdf", "jpg": "jpg", "jpeg": "jpg", "png": "png", "tif": "tiff", "tiff": "tiff",
             "txt": "txt"}
_CONTENT_TYPES = {"pdf": "application/pdf", "jpg": "image/jpeg", "png": "image/png", "tiff": "image/tiff",
                  "txt": "text/plain"}

AttachmentRow = tuple[Any, ...]  # (id, guid, type, file_data, created_at, updated_at)


def sanitize_filename(name: str) -> str:
    """CarrierWave::SanitizedFile: characters other than word characters, ``.``, ``-``, ``+`` become ``_``."""
    return re.sub(r"[^\w.\-+]", "_", name)


def file_data_for(name: str, kind: str) -> dict[str, str]:
    """The attachment's file_data: ``filename`` and, for a converted version, ``converted_filename``."""
    filename = sanitize_filename(name)
    data = {"filename": filename}
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if kind == "tiff":
        data["converted_filename"] = f"converted_{filename}"
    elif _EXT_KIND.get(ext) != kind:  # misnamed: converted_<name with dots -> _>.<true ext>
        data["converted_filename"] = f"converted_{filename.replace('.', '_')}.{kind}"
    return data


def attachment_rows(rng: random.Random, uploads: Sequence[dict[str, Any]], kinds: Sequence[str],
                    created_at: datetime, awkward: bool = False) -> list[tuple[Any, ...]]:
    """``(guid, type, file_data, created_at, updated_at)`` for the uploads; a few get no row or another type.

    ``awkward``: the first upload has no row and the second a row of another type.
    """
    rows: list[tuple[Any, ...]] = []
    for i, (item, kind) in enumerate(zip(uploads, kinds, strict=True)):
        r = rng.random()
        if (awkward and i == 0) or (not awkward and r < NO_ROW_SHARE):
            continue
        atype = OTHER_TYPE if (awkward and i == 1) or (
            not awkward and r < NO_ROW_SHARE + OTHER_TYPE_SHARE) else EVIDENCE_TYPE
        at = created_at - timedelta(minutes=rng.uniform(2, 600))
        rows.append((item["confirmationCode"], atype, json.dumps(file_data_for(item["name"], kind)), at, at))
    return rows


# ---------------------------------------------------------------------------------------------- objects


def _image(rng: random.Random, fmt: str) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (240, 180), tuple(rng.randrange(180, 256) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        x, y = rng.randrange(200), rng.randrange(140)
        draw.rectangle((x, y, x + rng.randrange(10, 60), y + rng.randrange(10, 40)),
                       fill=tuple(rng.randrange(0, 200) for _ in range(3)))
    draw.text((10, 10), f"synthetic evidence {rng.randrange(1000)}", fill=(0, 0, 0))
    buf = io.BytesIO()
    img.save(buf, format=fmt, **({"quality": 80} if fmt == "JPEG" else {}))
    return buf.getvalue()


def _pdf(rng: random.Random, index: int) -> bytes:
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=letter, invariant=1)
    for page in range(1 + index % 2):
        pdf.drawString(72, 720, f"Synthetic supporting evidence, document {index}, page {page + 1}")
        for line in range(rng.randrange(3, 9)):
            weeks = rng.randrange(2, 12)
            pdf.drawString(72, 690 - 16 * line, f"Treatment note line {line + 1}: follow-up in {weeks} weeks.")
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


def _txt(rng: random.Random, index: int) -> bytes:
    lines = [f"Statement in support of claim (synthetic) #{index}"]
    for i in range(rng.randrange(3, 8)):
        lines.append(f"Line {i + 1}: symptoms reported {rng.randrange(1, 30)} times a month.")
    return ("\n".join(lines) + "\n").encode()


def evidence_pool(seed: int, pool_size: int = 3) -> dict[str, list[bytes]]:
    """A few distinct files per content kind, deterministic by ``seed``."""
    if pool_size < 1:
        raise ValueError("pool_size must be at least 1")
    pool: dict[str, list[bytes]] = {}
    for kind in _CONTENT_TYPES:
        files = []
        for i in range(pool_size):
            rng = random.Random(f"{seed}:evidence:{kind}:{i}")
            if kind == "pdf":
                files.append(_pdf(rng, i))
            elif kind == "txt":
                files.append(_txt(rng, i))
            else:
                files.append(_image(rng, {"jpg": "JPEG", "png": "PNG", "tiff": "TIFF"}[kind]))
        pool[kind] = files
    return pool


def _kind_of(file_data: dict[str, Any]) -> tuple[str, str | None]:
    """(content kind of the original file, content kind of the converted version or None)."""
    filename = str(file_data.get("filename", ""))
    converted = file_data.get("converted_filename")
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if not converted:
        return _EXT_KIND.get(ext, "txt"), None
    conv_ext = str(converted).rsplit(".", 1)[-1].lower()
    if _EXT_KIND.get(ext) == "tiff":
        return "tiff", "jpg"
    return _EXT_KIND.get(conv_ext, "jpg"), _EXT_KIND.get(conv_ext, "jpg")


def _corrupt_pdf(good: bytes) -> bytes:
    """A PDF header and a body cut short and overwritten: no parser can read it."""
    return good[: len(good) // 3] + b"\x00\xff garbage \x00" * 8


@dataclass
class EvidenceSummary:
    """What ``put_evidence`` did (keys hold guids and file names only)."""

    uploaded: int = 0
    missing: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    skipped_other_type: int = 0


def _rows_from(source: psycopg.Connection | Iterable[Sequence[Any]]) -> list[tuple[str, str, str]]:
    if isinstance(source, psycopg.Connection):
        return [(str(g), t, fd) for g, t, fd in source.execute(
            "SELECT guid, type, file_data FROM form_attachments ORDER BY id").fetchall()]
    return [(str(r[0]), str(r[1]), r[2]) for r in source]


def put_evidence(s3_client: Any, bucket: str, source: psycopg.Connection | Iterable[Sequence[Any]], *,
                 seed: int = 42, pool_size: int = 3) -> EvidenceSummary:
    """Upload an object for every ``SupportingEvidenceAttachment`` row (and its converted version).

    ``source``: a psycopg connection (rows read from form_attachments; ground truth written to
    ``synthetic.evidence_labels``, committed by the caller) or ``(guid, type, file_data)`` rows.
    About one object in ``MISSING_EVERY`` is left out on purpose and exactly one PDF is corrupt;
    both chosen deterministically from ``seed`` and the guid.
    """
    pool = evidence_pool(seed, pool_size)
    summary = EvidenceSummary()
    plans: list[tuple[str, str, str, bytes, int]] = []  # key, guid, kind, body, rank
    for guid, atype, raw in _rows_from(source):
        if atype != EVIDENCE_TYPE:
            summary.skipped_other_type += 1
            continue
        data = json.loads(raw) if raw else {}
        rank = int.from_bytes(hashlib.sha256(f"{seed}:{guid}".encode()).digest()[:8], "big")
        kind, conv_kind = _kind_of(data)
        plans.append((f"{STORE_DIR}/{guid}/{data.get('filename')}", guid, kind,
                      pool[kind][rank % pool_size], rank))
        if conv_kind and data.get("converted_filename"):
            plans.append((f"{STORE_DIR}/{guid}/{data['converted_filename']}", guid, conv_kind,
                          pool[conv_kind][rank % pool_size], rank + 1))
    pdf_ranks = [p[4] for p in plans if p[2] == "pdf" and p[4] % MISSING_EVERY != 0]
    corrupt_rank = min(pdf_ranks) if pdf_ranks else None
    labels: list[tuple[str, str, str, str]] = []
    for key, guid, kind, body, rank in plans:
        if rank % MISSING_EVERY == 0:
            summary.missing.append(key)
            labels.append((key, guid, kind, "missing"))
            continue
        expected = "present"
        if kind == "pdf" and rank == corrupt_rank:
            body, expected = _corrupt_pdf(body), "corrupt"
            summary.corrupt.append(key)
        s3_client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=_CONTENT_TYPES[kind])
        summary.uploaded += 1
        labels.append((key, guid, kind, expected))
    if isinstance(source, psycopg.Connection):
        with source.cursor() as cur:
            cur.executemany(
                "INSERT INTO synthetic.evidence_labels (s3_key, guid, object_kind, expected)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (s3_key) DO UPDATE"
                " SET object_kind = EXCLUDED.object_kind, expected = EXCLUDED.expected", labels)
    return summary
