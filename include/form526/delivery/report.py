"""The reconciliation report of a run, built from the ledger and checked against S3.

``reconciliation.csv`` has one row per submission the run considered; ``summary.json`` the counts;
``remaining.csv`` the failed submissions still not delivered. None of them holds PII: ids, keys,
checksums, error codes and PII-free details only.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from include.form526.csv_safety import safe_row
from include.form526.delivery import ledger

REPORT_COLUMNS = ("submission_id", "status", "batch_id", "s3_key", "sha256", "bytes", "error_code", "error_detail",
                  "duplicate_of", "attachments", "attachments_missing")
STATUSES = ("uploaded", "failed", "skipped_duplicate", "skipped_already_delivered", "skipped_in_progress",
            "not_eligible", "not_found", "deferred", "planned")

@dataclass(frozen=True)
class Row:
    submission_id: int
    status: str
    batch_id: str = ""
    s3_bucket: str = ""
    s3_key: str = ""
    sha256: str = ""
    bytes: int | None = None
    error_code: str = ""
    error_detail: str = ""
    duplicate_of: int | None = None
    md5: str = ""  # not reported; lets the verification use one listing instead of a HEAD per object
    checksum: str = ""  # not reported; S3's checksum of the object (composite for multipart uploads)
    attachments: int | None = None  # evidence files included in the package
    missing_evidence: Mapping[str, int] | None = None  # evidence not included, by reason code

    @property
    def attachments_missing(self) -> int | None:
        return None if self.missing_evidence is None else sum(self.missing_evidence.values())

    def csv_row(self) -> list[Any]:
        return [self.submission_id, self.status, self.batch_id, self.s3_key, self.sha256,
                "" if self.bytes is None else self.bytes, self.error_code, self.error_detail,
                "" if self.duplicate_of is None else self.duplicate_of,
                "" if self.attachments is None else self.attachments,
                "" if self.attachments_missing is None else self.attachments_missing]


def final_row(item: Mapping[str, Any], run_id: str) -> Row:
    """Decide a submission's reported status from its plan row and its delivery ledger row."""
    sid, status = item["submission_id"], item["status"]
    batch = f"{item['batch_no']:04d}" if item.get("batch_no") else ""
    if status in ("skipped_duplicate",):
        return Row(sid, status, duplicate_of=item.get("duplicate_of"))
    if status in ("not_eligible", "not_found", "deferred", "planned", "requested"):
        st = "not_found" if status == "requested" else status
        return Row(sid, st, batch_id=batch, error_detail=item.get("detail") or "")
    state = item.get("state")
    if status == "skipped_already_delivered" or (state == "uploaded" and item.get("last_run_id") != run_id):
        return Row(sid, "skipped_already_delivered", batch_id=item.get("batch_id") or "",
                   s3_bucket=item.get("s3_bucket") or "", s3_key=item.get("s3_key") or "",
                   sha256=item.get("sha256") or "", bytes=item.get("bytes"))
    if state == "uploaded":
        return Row(sid, "uploaded", batch_id=batch, s3_bucket=item["s3_bucket"], s3_key=item["s3_key"],
                   sha256=item["sha256"], bytes=item["bytes"], md5=item.get("md5") or "",
                   checksum=item.get("s3_checksum") or "", attachments=item.get("attachments"),
                   missing_evidence=item.get("missing_evidence")
                   if item.get("attachments_missing") is not None else None)
    if state == "failed" and item.get("last_run_id") == run_id:
        return Row(sid, "failed", batch_id=batch, error_code=item.get("last_error_code") or "",
                   error_detail=item.get("last_error_detail") or "")
    if state == "claimed" and item.get("claim_live") and item.get("last_run_id") != run_id:
        return Row(sid, "skipped_in_progress", batch_id=batch, error_detail="claimed by another run")
    return Row(sid, "failed", batch_id=batch, error_code="batch_incomplete",
               error_detail="its batch ended before delivering it; the next run takes it again")


def load_rows(ledger_conn, run_id: str) -> list[Row]:
    return [final_row(item, run_id) for item in ledger.report_items(ledger_conn, run_id)]


def _listing_prefix(key: str) -> str:
    """The run's deliveries folder of a package key: ``p/deliveries/<run>/``."""
    head, sep, _ = key.partition("/batch-")
    return head + "/" if sep else key.rsplit("/", 1)[0] + "/"


def verify_uploaded(rows: Sequence[Row], store, threads: int = 8) -> tuple[list[Row], list[int]]:
    """Check every ``uploaded`` row against S3; a mismatch becomes ``failed``.

    One listing per run folder confirms existence, size and — where the ETag is the MD5 of the bytes,
    as for single-part SSE-S3 uploads — the content. Objects the listing cannot vouch for (SSE-KMS
    ETags, rows without an MD5, keys outside the listed folders) get a HEAD with their SHA-256.
    """
    targets = [r for r in rows if r.status == "uploaded"]
    listed: dict[tuple[str, str], tuple[int, str]] = {}
    for bucket, prefix in {(r.s3_bucket, _listing_prefix(r.s3_key)) for r in targets}:
        listed.update({(bucket, k): v for k, v in store.list_etags(bucket, prefix).items()})
    ok: dict[int, bool] = {}
    need_head: list[Row] = []
    for r in targets:
        entry = listed.get((r.s3_bucket, r.s3_key))
        if entry is None or entry[0] != r.bytes:
            ok[r.submission_id] = False
        elif r.md5 and entry[1] == r.md5:
            ok[r.submission_id] = True
        else:
            need_head.append(r)

    def check(r: Row) -> bool:
        return store.matches(r.s3_bucket, r.s3_key, r.bytes or 0, r.sha256, r.checksum or None)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        ok.update(zip((r.submission_id for r in need_head), pool.map(check, need_head), strict=True))
    bad = sorted(sid for sid, good in ok.items() if not good)
    out = []
    for r in rows:
        if r.status == "uploaded" and not ok[r.submission_id]:
            r = Row(r.submission_id, "failed", batch_id=r.batch_id, error_code="not_confirmed_in_s3",
                    error_detail="the ledger said uploaded but S3 does not hold the same bytes")
        out.append(r)
    return out, bad


@dataclass
class Summary:
    run_id: str
    dry_run: bool
    considered: int
    by_status: dict[str, int]
    by_error_code: dict[str, int]
    batches: int
    failure_percent: float
    remaining_backlog: int
    report_keys: dict[str, str] = field(default_factory=dict)
    attachments: int = 0
    missing_evidence: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "dry_run": self.dry_run, "considered": self.considered,
                "by_status": self.by_status, "by_error_code": self.by_error_code, "batches": self.batches,
                "failure_percent": self.failure_percent, "remaining_backlog": self.remaining_backlog,
                "attachments": self.attachments, "missing_evidence": self.missing_evidence,
                "report_keys": self.report_keys}


def summarize(run_id: str, rows: Sequence[Row], *, dry_run: bool, remaining: int) -> Summary:
    by_status = Counter(r.status for r in rows)
    by_code = Counter(r.error_code for r in rows if r.error_code)
    attempted = by_status["uploaded"] + by_status["failed"]
    missing: Counter[str] = Counter()
    for r in rows:
        if r.status == "uploaded" and r.missing_evidence:
            missing.update(r.missing_evidence)
    pct = round(100.0 * by_status["failed"] / attempted, 2) if attempted else 0.0
    return Summary(run_id=run_id, dry_run=dry_run, considered=len(rows),
                   by_status={s: by_status[s] for s in STATUSES if by_status[s]},
                   by_error_code=dict(sorted(by_code.items())),
                   batches=len({r.batch_id for r in rows if r.batch_id and r.status in ("uploaded", "failed",
                                                                                        "planned")}),
                   failure_percent=pct, remaining_backlog=remaining,
                   attachments=sum(r.attachments or 0 for r in rows if r.status == "uploaded"),
                   missing_evidence=dict(sorted(missing.items())))


def reconciliation_csv(rows: Iterable[Row]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(REPORT_COLUMNS)
    for r in rows:
        w.writerow(safe_row(r.csv_row()))
    return buf.getvalue().encode()


def remaining_csv(remaining: Sequence[tuple[int, str, str]]) -> bytes:
    """``submission_id, ledger_state, last_error_code`` for each failed submission not yet delivered."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("submission_id", "ledger_state", "last_error_code"))
    w.writerows(safe_row(r) for r in remaining)
    return buf.getvalue().encode()


def handoff_csv(urls: Sequence[tuple[int, str]]) -> bytes:
    """``submission_id,url``: what VBA was sent by hand before, now written by the run."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("submission_id", "url"))
    w.writerows(safe_row(r) for r in urls)
    return buf.getvalue().encode()


def summary_json(summary: Summary) -> bytes:
    return json.dumps(summary.as_dict(), indent=2, sort_keys=True).encode()


def summary_table(summary: Summary) -> str:
    """A short fixed-width table for the task log."""
    lines = [f"Run {summary.run_id}{' (dry run)' if summary.dry_run else ''}",
             f"{'status':<28}{'count':>10}", "-" * 38]
    lines += [f"{k:<28}{v:>10}" for k, v in summary.by_status.items()]
    lines.append("-" * 38)
    lines.append(f"{'considered':<28}{summary.considered:>10}")
    if summary.by_error_code:
        lines += ["", f"{'error code':<28}{'count':>10}", "-" * 38]
        lines += [f"{k:<28}{v:>10}" for k, v in summary.by_error_code.items()]
    if summary.missing_evidence:
        lines += ["", f"{'evidence not included':<28}{'count':>10}", "-" * 38]
        lines += [f"{k:<28}{v:>10}" for k, v in summary.missing_evidence.items()]
    lines += ["", f"evidence files included: {summary.attachments}"]
    lines += ["", f"batches: {summary.batches}   failure share: {summary.failure_percent}%   "
                  f"remaining backlog after this run: {summary.remaining_backlog}"]
    return "\n".join(lines)
