"""Build and deliver one batch: claim, render, upload, confirm, record — exactly once per submission.

The order of effects is what makes a crash at any point recoverable:

1. claim the batch's submissions in the ledger (the claim records the S3 key to write);
2. per submission: render the package in memory; a bad submission is recorded ``failed`` with an
   error code and the batch goes on;
3. on a retry, if the key already holds these exact bytes (an earlier attempt uploaded but died
   before recording), confirm it; else upload with the package's SHA-256, which S3 verifies and answers;
4. record ``uploaded`` only after S3 confirmed, in groups of ``flush_every``.

Transient trouble (S3 or Postgres unreachable, an unconfirmed upload) raises, so Airflow retries
the task; the retry re-claims its own rows and redoes only what is not confirmed.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from include.form526.delivery import ledger
from include.form526.delivery.object_store import ObjectStore
from include.form526.package.build import Package, PackageError, SourceSubmission, build_package
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


def _render(row: SourceRow) -> Package:
    sub = SourceSubmission(id=row.id, created_at=row.created_at, form_json=row.form_json,
                           auth_headers_json=row.auth_headers_json)
    try:
        return build_package(sub)
    except PackageError:
        raise
    except Exception as exc:
        raise PackageError("package_unexpected", f"unexpected {type(exc).__name__} while packaging") from None


def deliver_batch(spec: BatchSpec, *, source_conn, ledger_conn, store: ObjectStore,
                  flush_every: int = 50) -> BatchResult:
    """Deliver every claimable submission of batch ``spec.batch_no``; see the module doc for the order."""
    return _Batch(spec, source_conn, ledger_conn, store, flush_every).run()


class _Batch:
    def __init__(self, spec: BatchSpec, source_conn, ledger_conn, store: ObjectStore, flush_every: int) -> None:
        self.spec, self.source, self.ledger, self.store = spec, source_conn, ledger_conn, store
        self.flush_every = flush_every
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
        try:
            self._deliver(ids, claims, earlier)
        except BaseException:
            with contextlib.suppress(Exception):  # the ledger may be what failed; then the claims expire instead
                ledger.release(self.ledger, spec.worker)
            raise
        res.failed = sum(self.codes.values())
        res.error_codes = dict(sorted(self.codes.items()))
        res.held_elsewhere = len(ids) - len(claims) - len(earlier)
        if self.manifest:
            res.manifest_key = f"{spec.batch_prefix}manifest.csv"
            self.store.put(spec.bucket, res.manifest_key, manifest_csv(self.manifest), content_type="text/csv")
        log.info("batch %s summary: uploaded=%d (already in S3: %d) failed=%d held_elsewhere=%d errors=%s",
                 spec.batch_id, res.uploaded, res.already_in_s3, res.failed, res.held_elsewhere,
                 res.error_codes or "{}")
        return res

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
        for row in stream_submissions(self.source, ids):
            if row.id in earlier:
                d = earlier[row.id]
                self.manifest.append({"submission_id": row.id, "s3_key": d["s3_key"], "sha256": d["sha256"],
                                      "bytes": d["bytes"], **_identity(row.auth_headers_json)})
                continue
            if row.id not in claims:
                continue
            seen.add(row.id)
            c = claims[row.id]
            try:
                pkg = _render(row)
            except PackageError as err:
                self._fail(row.id, err.code, err.detail)
            else:
                if c.may_exist and self.store.matches(c.bucket, c.key, len(pkg.data), pkg.sha256):
                    self.result.already_in_s3 += 1
                else:
                    self.store.put_confirmed(c.bucket, c.key, pkg.data, content_type="application/zip",
                                             sha256_hex=pkg.sha256)
                md5 = hashlib.md5(pkg.data).hexdigest()
                self.uploaded.append(ledger.Uploaded(row.id, pkg.sha256, len(pkg.data), md5))
                self.manifest.append({"submission_id": row.id, "s3_key": c.key, "sha256": pkg.sha256,
                                      "bytes": len(pkg.data), **_identity(row.auth_headers_json)})
                self.result.uploaded += 1
            if len(self.uploaded) + len(self.failed) >= self.flush_every:
                self._flush()
        for sid in sorted(set(claims) - seen):
            self._fail(sid, "source_row_missing", "the submission is no longer in the source table")
        self._flush()


def manifest_csv(rows: Sequence[dict[str, object]]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=MANIFEST_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode()
