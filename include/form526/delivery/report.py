"""The reconciliation report of a run, built from the ledger and checked against S3.

``reconciliation.csv`` has one row per submission the run considered; ``summary.json`` the counts;
``remaining.csv`` the failed submissions still not delivered. None of them holds PII: ids, keys,
checksums, error codes and PII-free details only. The run streams them (``unconfirmed``, ``CsvOut``,
``Tally``): no list of a run's rows is ever held.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from include.form526.csv_safety import safe_row
from include.form526.delivery import ledger
from include.form526.delivery.object_store import Listed

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
    """Every final row of a run in memory: for small runs and tests; the run itself streams them."""
    return [final_row(item, run_id) for item in ledger.report_items(ledger_conn, run_id)]


def _listing_prefix(key: str) -> str:
    """The run's deliveries folder of a package key: ``p/deliveries/<run>/``."""
    head, sep, _ = key.partition("/batch-")
    return head + "/" if sep else key.rsplit("/", 1)[0] + "/"


def unconfirmed(rows: Iterable[Row], store, *, threads: int = 8, window: int = 64) -> Iterator[int]:
    """Check ``uploaded`` rows against S3, yielding the ids S3 does not confirm; holds no listing.

    ``rows`` come sorted by bucket, then key in UTF-8 binary order (S3's listing order; Python compares
    str by code point, which is the same order). Each run folder's listing is read page by page and
    merge-joined with the rows: it confirms existence, size and — where the ETag is the MD5 of the bytes,
    as for single-part SSE-S3 uploads — the content. Objects the listing cannot vouch for (SSE-KMS ETags,
    rows without an MD5) get a HEAD with their SHA-256 on ``threads`` threads, at most ``window`` at a time.
    A key missing from its folder's listing, or listed with another size, is not confirmed.
    """
    where: tuple[str, str] | None = None
    listing: Iterator[Listed] = iter(())
    entry: Listed | None = None
    previous: tuple[str, str] | None = None
    pending: deque[tuple[int, Future[bool]]] = deque()

    def check(r: Row) -> bool:
        return store.matches(r.s3_bucket, r.s3_key, r.bytes or 0, r.sha256, r.checksum or None)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for r in rows:
            if r.status != "uploaded":
                continue
            here = (r.s3_bucket, r.s3_key)
            if previous is not None and here <= previous:
                raise ValueError("uploaded rows are not sorted by bucket and key")
            folder = (r.s3_bucket, _listing_prefix(r.s3_key))
            if folder != where:
                # rows before this one are all smaller: list the folder from the last of them on
                after = previous[1] if previous is not None and previous[0] == r.s3_bucket else None
                where, listing = folder, iter(store.iter_listing(folder[0], folder[1], after))
                entry = next(listing, None)
            previous = here
            while entry is not None and entry.key < r.s3_key:
                entry = next(listing, None)
            if entry is None or entry.key != r.s3_key or entry.size != r.bytes:
                yield r.submission_id
            elif not (r.md5 and entry.etag == r.md5):
                pending.append((r.submission_id, pool.submit(check, r)))
                while len(pending) >= window:
                    sid, ok = pending.popleft()
                    if not ok.result():
                        yield sid
        while pending:
            sid, ok = pending.popleft()
            if not ok.result():
                yield sid


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


class Tally:
    """The summary's counts, accumulated row by row (no row is kept)."""

    def __init__(self) -> None:
        self.considered = 0
        self.by_status: Counter[str] = Counter()
        self.by_code: Counter[str] = Counter()
        self.batch_ids: set[str] = set()  # at most one per mapped batch
        self.attachments = 0
        self.missing: Counter[str] = Counter()

    def add(self, r: Row) -> None:
        self.considered += 1
        self.by_status[r.status] += 1
        if r.error_code:
            self.by_code[r.error_code] += 1
        if r.batch_id and r.status in ("uploaded", "failed", "planned"):
            self.batch_ids.add(r.batch_id)
        if r.status == "uploaded":
            self.attachments += r.attachments or 0
            if r.missing_evidence:
                self.missing.update(r.missing_evidence)

    def summary(self, run_id: str, *, dry_run: bool, remaining: int) -> Summary:
        attempted = self.by_status["uploaded"] + self.by_status["failed"]
        pct = round(100.0 * self.by_status["failed"] / attempted, 2) if attempted else 0.0
        return Summary(run_id=run_id, dry_run=dry_run, considered=self.considered,
                       by_status={s: self.by_status[s] for s in STATUSES if self.by_status[s]},
                       by_error_code=dict(sorted(self.by_code.items())), batches=len(self.batch_ids),
                       failure_percent=pct, remaining_backlog=remaining, attachments=self.attachments,
                       missing_evidence=dict(sorted(self.missing.items())))


def summarize(run_id: str, rows: Iterable[Row], *, dry_run: bool, remaining: int) -> Summary:
    tally = Tally()
    for r in rows:
        tally.add(r)
    return tally.summary(run_id, dry_run=dry_run, remaining=remaining)


class Sink(Protocol):
    """Where a report's bytes go: a BytesIO, or an ObjectStore writer."""

    def write(self, data: bytes, /) -> int: ...


class _Utf8:
    """The text side of a binary sink, for ``csv.writer`` (which writes one row per call)."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    def write(self, text: str) -> int:
        return self.sink.write(text.encode())


class CsvOut:
    """CSV rows, neutralised against spreadsheet formulas, written as UTF-8 to any ``write(bytes)`` sink."""

    def __init__(self, sink: Sink, header: Sequence[str]) -> None:
        self._w = csv.writer(_Utf8(sink), lineterminator="\n")
        self._w.writerow(header)
        self.rows = 0

    def row(self, values: Sequence[Any]) -> None:
        self._w.writerow(safe_row(values))
        self.rows += 1


RECONCILIATION_HEADER = REPORT_COLUMNS
REMAINING_HEADER = ("submission_id", "ledger_state", "last_error_code")
HANDOFF_HEADER = ("submission_id", "url")


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buf = io.BytesIO()
    out = CsvOut(buf, header)
    for r in rows:
        out.row(r)
    return buf.getvalue()


def reconciliation_csv(rows: Iterable[Row]) -> bytes:
    return _csv(RECONCILIATION_HEADER, (r.csv_row() for r in rows))


def remaining_csv(remaining: Iterable[tuple[int, str, str]]) -> bytes:
    """``submission_id, ledger_state, last_error_code`` for each failed submission not yet delivered."""
    return _csv(REMAINING_HEADER, remaining)


def handoff_csv(urls: Iterable[tuple[int, str]]) -> bytes:
    """``submission_id,url``: what VBA was sent by hand before, now written by the run."""
    return _csv(HANDOFF_HEADER, urls)


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
