"""Build and deliver one batch: claim, render, upload, confirm, record — exactly once per submission.

The order of effects is what makes a crash at any point recoverable:

1. claim the batch's submissions in the ledger (the claim records the S3 key to write);
2. per submission: read it (decrypted in memory in source mode ``encrypted``), fetch and convert the
   veteran's uploaded evidence one file at a time, and render the package into a spooled temporary file
   (memory up to ``spool_bytes``, then an unlinked file that disappears on close); a bad submission is
   recorded ``failed`` with an error code and the batch goes on; evidence that cannot be included never
   blocks the claim: the package lists it as not included, with the reason;
3. on a retry, if the key already holds these exact bytes (an earlier attempt uploaded but died
   before recording), confirm it; else upload with the package's SHA-256 (multipart above a threshold,
   each part's SHA-256 verified by S3);
4. record ``uploaded`` only after S3 confirmed, in groups of ``flush_every``.

Uploads run on one background thread, up to ``upload_ahead`` packages behind the rendering: while S3
receives package *k*, the task renders *k+1* (the PUT is mostly waiting, and the socket wait releases the
GIL), so a slot's wall per package is its CPU rather than CPU plus the round trip. Outcomes are still
recorded in order and only once S3 confirmed; an upload that fails fails the batch as before.

While it works, the batch extends its claims every third of the claim TTL (a heartbeat), so a long batch
never loses its submissions to another run; a dead worker's claims still expire after the TTL. The task's
``execution_timeout`` bounds the whole batch: on timeout the claims are released and the next run goes on.

Transient trouble (S3, the evidence bucket, KMS or Postgres unreachable, an unconfirmed upload) raises,
so Airflow retries the task; the retry re-claims its own rows and redoes only what is not confirmed. A failing
batch waits for its running upload before it releases its claims, so no late PUT lands under another run.
A submission's converted evidence is closed once its package is built; the package's own file once S3
confirmed it (at most ``upload_ahead`` of them are open at a time), success or failure.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import io
import json
import logging
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import IO, Protocol

from include.form526.csv_safety import neutralise
from include.form526.delivery import ledger
from include.form526.delivery.object_store import ObjectStore, Stored, md5_hex, part_digests
from include.form526.package.attachments import AttachedEvidence
from include.form526.package.build import Package, PackageError, SourceSubmission, build_package
from include.form526.package.evidence import DEFAULT_LIMITS, EvidenceLimits, Reason, convert_to_pdf
from include.form526.package.submission import Submission, Upload, parse_submission
from include.form526.source.attachments import AttachmentRow, EvidenceStore, locate, read_attachment_rows
from include.form526.source.decryption import RowDecryptor
from include.form526.source.extraction import SourceRow, stream_submissions

log = logging.getLogger(__name__)

MANIFEST_PII_COLUMNS = ("veteran_first_name", "veteran_last_name", "birth_date", "file_number", "ssn",
                        "participant_id")
MANIFEST_COLUMNS = ("submission_id", "s3_key", "sha256", "bytes", *MANIFEST_PII_COLUMNS)
"""The batch manifest VBA asked for. The last six columns are PII: the manifest is encrypted like
the packages and lives only in the delivery bucket."""


@dataclass
class BatchResult:
    batch_id: str
    batch_no: int
    planned: int = 0
    claimed: int = 0
    uploaded: int = 0
    already_in_s3: int = 0
    failed: int = 0
    held_elsewhere: int = 0
    error_codes: dict[str, int] = field(default_factory=dict)
    manifest_key: str | None = None
    attachments: int = 0
    missing_evidence: dict[str, int] = field(default_factory=dict)
    evidence_bytes_fetched: int = 0
    kms_calls: int = 0

    def as_xcom(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class BatchSpec:
    run_id: str
    run_key: str
    batch_no: int
    bucket: str
    key_prefix: str
    redeliver: bool = False
    claim_ttl_minutes: int = 30

    @property
    def batch_id(self) -> str:
        return f"{self.batch_no:04d}"

    @property
    def batch_prefix(self) -> str:
        return f"{self.key_prefix}/deliveries/{self.run_key}/batch-{self.batch_id}/"

    @property
    def worker(self) -> str:
        return f"{self.run_id}/batch-{self.batch_id}"


def _identity(auth_headers_json: str | None) -> dict[str, str]:
    try:
        h = json.loads(auth_headers_json or "{}")
    except ValueError:
        return {}
    if not isinstance(h, dict):
        return {}

    def g(k: str) -> str:
        v = h.get(k)
        return str(v) if v not in (None, "") else ""

    return {"veteran_first_name": g("va_eauth_firstName"), "veteran_last_name": g("va_eauth_lastName"),
            "birth_date": g("va_eauth_birthdate"), "file_number": g("va_eauth_birlsfilenumber"),
            "ssn": g("va_eauth_pnid"), "participant_id": g("va_eauth_pid")}


@dataclass(frozen=True)
class EvidenceSettings:
    """Where the veteran's evidence is read from, and how much of it a package may take."""

    store: EvidenceStore | None = None  # None: retrieval not configured (every upload listed as not included)
    limits: EvidenceLimits = DEFAULT_LIMITS
    spool_bytes: int = 8 * 1024 * 1024


def deliver_batch(spec: BatchSpec, *, source_conn, ledger_conn, store: ObjectStore, flush_every: int = 50,
                  evidence: EvidenceSettings | None = None, decryptor: RowDecryptor | None = None,
                  upload_ahead: int = 2) -> BatchResult:
    """Deliver every claimable submission of batch ``spec.batch_no``; see the module doc for the order.
    ``upload_ahead``: packages uploading in the background while the next ones render (0: one at a time)."""
    return _Batch(spec, source_conn, ledger_conn, store, flush_every, evidence or EvidenceSettings(),
                  decryptor, upload_ahead).run()


@dataclass
class _InFlight:
    """A rendered package on its way to S3, and what to record once S3 confirmed it."""

    future: Future[Stored] | None
    out: IO[bytes]
    record: Callable[[Stored], None]


class _Batch:
    def __init__(self, spec: BatchSpec, source_conn, ledger_conn, store: ObjectStore, flush_every: int,
                 evidence: EvidenceSettings, decryptor: RowDecryptor | None, upload_ahead: int = 2) -> None:
        self.spec, self.source, self.ledger, self.store = spec, source_conn, ledger_conn, store
        self.evidence, self.decryptor = evidence, decryptor
        self.upload_ahead = max(0, upload_ahead)
        self.in_flight: deque[_InFlight] = deque()
        self.uploader: ThreadPoolExecutor | None = None
        self.missing: Counter[str] = Counter()
        self.flush_every = flush_every
        self.heartbeat_seconds = max(10.0, spec.claim_ttl_minutes * 60 / 3)
        self.last_heartbeat = time.monotonic()
        self.result = BatchResult(batch_id=spec.batch_id, batch_no=spec.batch_no)
        self.codes: Counter[str] = Counter()
        self.manifest: list[dict[str, object]] = []
        self.uploaded: list[ledger.Uploaded] = []
        self.failed: list[ledger.Failed] = []

    def run(self) -> BatchResult:
        spec, res = self.spec, self.result
        ids = ledger.batch_ids(self.ledger, spec.run_id, spec.batch_no)
        res.planned = len(ids)
        claims = ledger.claim(self.ledger, ids=ids, worker=spec.worker, run_id=spec.run_id, batch_id=spec.batch_id,
                              bucket=spec.bucket, key_prefix=spec.batch_prefix, ttl_minutes=spec.claim_ttl_minutes,
                              redeliver=spec.redeliver)
        res.claimed = len(claims)
        # Delivered by an earlier attempt of this same batch: not claimed again, but still in its manifest.
        earlier = {sid: d for sid, d in ledger.delivery_rows(self.ledger, [i for i in ids if i not in claims]).items()
                   if d["state"] == "uploaded" and d["last_run_id"] == spec.run_id
                   and d["batch_id"] == spec.batch_id}
        log.info("batch %s: %d planned, %d claimed, %d delivered by an earlier attempt, %d held elsewhere",
                 spec.batch_id, len(ids), len(claims), len(earlier), len(ids) - len(claims) - len(earlier))
        # the per-submission lines fold in the Airflow log viewer; the batch's summary line stays in view below
        log.info("::group::Submissions of batch %s (per-submission failures)", spec.batch_id)
        self.uploader = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"form526-upload-{spec.batch_id}")
        try:
            self._deliver(ids, claims, earlier)
        except BaseException:
            log.info("::endgroup::")
            self._abandon_uploads()  # before the release: a PUT still running must not land after it
            with contextlib.suppress(Exception):  # the ledger may be what failed; then the claims expire instead
                ledger.release(self.ledger, spec.worker)
            raise
        finally:
            self.uploader.shutdown(wait=True, cancel_futures=True)
        log.info("::endgroup::")
        res.failed = sum(self.codes.values())
        res.error_codes = dict(sorted(self.codes.items()))
        res.held_elsewhere = len(ids) - len(claims) - len(earlier)
        res.missing_evidence = dict(sorted(self.missing.items()))
        if self.evidence.store is not None:
            res.evidence_bytes_fetched = self.evidence.store.bytes_fetched
        if self.decryptor is not None:
            res.kms_calls = self.decryptor.kms_calls
        if self.manifest:
            res.manifest_key = f"{spec.batch_prefix}manifest.csv"
            self.store.put(spec.bucket, res.manifest_key, manifest_csv(self.manifest), content_type="text/csv")
        log.info("batch %s summary: uploaded=%d (already in S3: %d) failed=%d held_elsewhere=%d errors=%s "
                 "evidence included=%d not included=%s", spec.batch_id, res.uploaded, res.already_in_s3, res.failed,
                 res.held_elsewhere, res.error_codes or "{}", res.attachments, res.missing_evidence or "{}")
        return res

    def _await_uploads(self, keep: int) -> None:
        """Record the oldest uploads once S3 confirmed them, until at most ``keep`` are in flight; an upload
        that failed raises here (the batch fails and is retried)."""
        while len(self.in_flight) > keep:
            job = self.in_flight[0]  # stays tracked until recorded: an interrupted wait leaves it to be abandoned
            if job.future is None:  # never submitted (only an interrupted ``_deliver_one`` leaves one so)
                raise RuntimeError("an upload was tracked but never submitted")
            stored = job.future.result()
            self.in_flight.popleft()
            job.record(stored)

    def _abandon_uploads(self) -> None:
        """On the way out of a failed batch: cancel what has not started, wait for the upload that has, then
        close the files. An upload that did land is not recorded; the next attempt finds it in S3 (its claim
        says it may exist)."""
        for job in self.in_flight:
            if job.future is not None:
                job.future.cancel()
        if self.uploader is not None:
            self.uploader.shutdown(wait=True, cancel_futures=True)
        for job in self.in_flight:
            job.out.close()
        self.in_flight.clear()

    def _upload(self, c: ledger.Claim, out: IO[bytes], pkg: Package) -> Stored:
        try:
            return self.store.put_file_confirmed(c.bucket, c.key, out, size=pkg.size, sha256_hex=pkg.sha256,
                                                 content_type="application/zip")
        finally:
            out.close()

    def _flush(self) -> None:
        ledger.record_outcomes(self.ledger, self.spec.worker, self.uploaded, self.failed)
        self.uploaded.clear()
        self.failed.clear()

    def _fail(self, sid: int, code: str, detail: str) -> None:
        self.failed.append(ledger.Failed(sid, code, detail))
        self.codes[code] += 1
        log.warning("submission %d failed: %s", sid, code)

    def _deliver(self, ids: list[int], claims: dict[int, ledger.Claim], earlier: dict[int, dict]) -> None:
        seen: set[int] = set()
        for row in stream_submissions(self.source, ids, self.decryptor):
            if row.id in earlier:
                d = earlier[row.id]
                self.manifest.append({"submission_id": row.id, "s3_key": d["s3_key"], "sha256": d["sha256"],
                                      "bytes": d["bytes"], **_identity(row.auth_headers_json)})
                continue
            if row.id not in claims:
                continue
            seen.add(row.id)
            if row.error:
                self._fail(row.id, row.error, "the submission's encrypted columns could not be decrypted")
            else:
                self._deliver_one(row, claims[row.id])
            self._await_uploads(keep=self.upload_ahead)
            if len(self.uploaded) + len(self.failed) >= self.flush_every:
                self._flush()
            if time.monotonic() - self.last_heartbeat >= self.heartbeat_seconds:
                ledger.extend_claims(self.ledger, self.spec.worker, self.spec.claim_ttl_minutes)
                self.last_heartbeat = time.monotonic()
        self._await_uploads(keep=0)
        for sid in sorted(set(claims) - seen):
            self._fail(sid, "source_row_missing", "the submission is no longer in the source table")
        self._flush()

    def _deliver_one(self, row: SourceRow, c: ledger.Claim) -> None:
        sub = SourceSubmission(id=row.id, created_at=row.created_at, form_json=row.form_json,
                               auth_headers_json=row.auth_headers_json)
        out = tempfile.SpooledTemporaryFile(max_size=self.evidence.spool_bytes)  # noqa: SIM115 (closed below)
        try:
            with contextlib.ExitStack() as files:  # the converted evidence: closed once the package is built
                parsed = parse_submission(sub)
                evidence = self._gather(parsed.uploads, files)
                pkg = _build(sub, evidence, out, parsed)
        except PackageError as err:
            out.close()
            self._fail(row.id, err.code, err.detail)
            return
        except BaseException:
            out.close()
            raise
        included = sum(1 for e in evidence if e.reason is None)
        missing = Counter(e.reason for e in evidence if e.reason is not None)

        def record(stored: Stored) -> None:
            self._record(row, c, pkg, stored, included, missing)

        if c.may_exist:  # a retry: the bytes may already be there (checked now, in order, not in the background)
            with out:
                self._await_uploads(keep=0)
                if self.store.matches_file(c.bucket, c.key, out, size=pkg.size, sha256_hex=pkg.sha256):
                    self.result.already_in_s3 += 1
                    record(_describe(out, pkg.size, pkg.sha256, self.store))
                    return
                record(self.store.put_file_confirmed(c.bucket, c.key, out, size=pkg.size, sha256_hex=pkg.sha256,
                                                     content_type="application/zip"))
            return
        if self.uploader is None or self.upload_ahead == 0:
            record(self._upload(c, out, pkg))
            return
        job = _InFlight(None, out, record)  # tracked before it is submitted: a timeout in between leaks nothing
        self.in_flight.append(job)
        job.future = self.uploader.submit(self._upload, c, out, pkg)

    def _record(self, row: SourceRow, c: ledger.Claim, pkg: Package, stored: Stored, included: int,
                missing: Counter[str]) -> None:
        self.uploaded.append(ledger.Uploaded(row.id, pkg.sha256, pkg.size, stored.etag, stored.checksum_sha256,
                                             attachments=included, missing=dict(missing)))
        self.result.attachments += included
        self.missing.update(missing)
        self.manifest.append({"submission_id": row.id, "s3_key": c.key, "sha256": pkg.sha256,
                              "bytes": pkg.size, **_identity(row.auth_headers_json)})
        self.result.uploaded += 1

    def _gather(self, uploads: Sequence[Upload], files: contextlib.ExitStack) -> list[AttachedEvidence]:
        """One outcome per upload (see ``gather_evidence``), the ``form_attachments`` rows read in this batch's
        snapshot (decrypted in memory in source mode ``encrypted``)."""
        valid = [u.confirmation_code for u in uploads if u.is_valid]
        rows = read_attachment_rows(self.source, valid,
                                    self.decryptor.attachment_file_data if self.decryptor else None) \
            if self.evidence.store is not None and valid else {}
        return gather_evidence(uploads, rows, self.evidence, files)


class EvidenceOpener(Protocol):
    """What ``gather_evidence`` needs of a store: ``EvidenceStore``, or the benchmark's local pool."""

    def open(self, key: str, max_bytes: int) -> tuple[IO[bytes] | None, Reason | None]: ...


def gather_evidence(uploads: Sequence[Upload], rows: Mapping[str, list[AttachmentRow]],
                    evidence: EvidenceSettings, files: contextlib.ExitStack,
                    store: EvidenceOpener | None = None) -> list[AttachedEvidence]:
    """One outcome per upload, fetched and converted one file at a time into spooled files (closed with
    ``files``). ``store`` defaults to ``evidence.store``."""
    store = store if store is not None else evidence.store
    out: list[AttachedEvidence] = []
    for u in uploads:
        if not u.is_valid:
            out.append(AttachedEvidence(u.index, u.attachment_id, Reason.INVALID_UPLOAD.value, None))
            continue
        if store is None:
            out.append(AttachedEvidence(u.index, u.attachment_id, Reason.NOT_CONFIGURED.value, None))
            continue
        where = locate(u.confirmation_code, rows)
        if where.reason is not None:
            out.append(AttachedEvidence(u.index, u.attachment_id, str(where.reason), None))
            continue
        source, reason = store.open(where.key, evidence.limits.max_bytes)
        if source is None:
            out.append(AttachedEvidence(u.index, u.attachment_id, str(reason), None))
            continue
        with source:
            pdf = files.enter_context(tempfile.SpooledTemporaryFile(max_size=evidence.spool_bytes))  # noqa: SIM115
            result = convert_to_pdf(source, where.filename or "", out=pdf, limits=evidence.limits)
        if not result.included:
            out.append(AttachedEvidence(u.index, u.attachment_id, str(result.reason), None))
            continue
        pdf.seek(0)
        out.append(AttachedEvidence(u.index, u.attachment_id, None, pdf))
    return out


def _build(sub: SourceSubmission, evidence: Sequence[AttachedEvidence], out: IO[bytes], parsed: Submission) -> Package:
    try:
        return build_package(sub, evidence, out=out, parsed=parsed)
    except PackageError:
        raise
    except Exception as exc:
        raise PackageError("package_unexpected", f"unexpected {type(exc).__name__} while packaging") from None


def _describe(fileobj: IO[bytes], size: int, sha256_hex: str, store: ObjectStore) -> Stored:
    """What S3 shows for a package already there (an earlier attempt uploaded it): ETag and checksum."""
    if size > store.multipart_threshold:
        d = part_digests(fileobj, store.part_size)
        return Stored(d.etag, d.composite_sha256_b64)
    fileobj.seek(0)
    return Stored(md5_hex(fileobj.read()), base64.b64encode(bytes.fromhex(sha256_hex)).decode())


def manifest_csv(rows: Sequence[dict[str, object]]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=MANIFEST_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    # VBA staff open the manifest in a spreadsheet: a name like =HYPERLINK(...) must stay text
    w.writerows({k: neutralise(v) for k, v in row.items()} for row in rows)
    return buf.getvalue().encode()
