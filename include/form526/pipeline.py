"""The steps of the backlog resubmission run, as plain functions over open connections.

The DAG's tasks get connections from Airflow (by connection id) and call these; everything a step
hands to the next goes through the ledger database, so XCom carries only ids, counts and keys.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from itertools import islice
from typing import Any

from include.form526 import config
from include.form526.delivery import ledger
from include.form526.delivery.batching import batch_label, batch_size_for
from include.form526.delivery.object_store import ObjectStore
from include.form526.delivery.report import (
    HANDOFF_HEADER,
    RECONCILIATION_HEADER,
    REMAINING_HEADER,
    CsvOut,
    Tally,
    final_row,
    summary_json,
    summary_table,
    unconfirmed,
)
from include.form526.scope import Scope, ScopeError, read_id_csv, run_key, validate_params
from include.form526.source.decryption import RowDecryptor
from include.form526.source.dedup import Member, verdicts
from include.form526.source.extraction import (
    ExtractStats,
    ScopeFilter,
    check_requested,
    count_dangling_accounts,
    sorted_failed_ids,
    stream_candidates,
)

log = logging.getLogger(__name__)

CHUNK_SIZE = 5000
"""Rows per fetch, per write and per ledger query in the whole-run steps: memory is bounded by it, not by N."""


def scope_filter(scope: Scope, as_of: datetime, requested: list[int] | None,
                 pending_window_days: int = config.PENDING_WINDOW_DAYS) -> ScopeFilter:
    return ScopeFilter(as_of=as_of, pending_window_days=pending_window_days,
                       ids=requested if scope.explicit else None,
                       created_after=scope.created_after, created_before=scope.created_before,
                       include_email_notified=scope.include_email_notified)


def begin_run(ledger_conn, *, run_id: str, dag_id: str, as_of: datetime, params: Mapping[str, Any],
              known_params: Iterable[str], open_csv: Callable[[str, str], Iterable[bytes]]) -> dict[str, Any]:
    """Validate the scope, migrate the ledger, register the run and the ids a person asked for."""
    scope = validate_params(params, known_params, allowed_buckets=config.ALLOWED_BUCKETS,
                            allowed_input_buckets=config.ALLOWED_INPUT_BUCKETS)
    applied = ledger.migrate(ledger_conn)
    if applied:
        log.info("ledger migrated: %s", ", ".join(applied))
    requested: set[int] = set(scope.submission_ids)
    if scope.submission_ids_s3_uri:
        uri = scope.submission_ids_s3_uri
        try:
            lines = open_csv(uri.bucket, uri.key)
        except Exception as exc:
            raise ScopeError(f"cannot read {uri}: {type(exc).__name__}") from None
        requested.update(read_id_csv(lines, str(uri)))
    # the key a run was registered with stays its key (a retry, or a run recorded before keys gained a hash)
    key = ledger.start_run(ledger_conn, run_id=run_id, dag_id=dag_id, run_key=run_key(run_id), as_of=as_of,
                           params={k: params[k] for k in sorted(params)})
    n = ledger.add_requested(ledger_conn, run_id, sorted(requested))
    log.info("run %s: as_of=%s, %d ids requested explicitly, window=[%s, %s), batch_size=%d, dry_run=%s, "
             "redeliver=%s", run_id, as_of.isoformat(), n, scope.created_after, scope.created_before,
             scope.batch_size, scope.dry_run, scope.redeliver)
    return {"run_id": run_id, "run_key": key, "as_of": as_of.isoformat(), "requested": n}


def extract(source_conn, ledger_conn, *, run_id: str, scope: Scope, as_of: datetime,
            pending_window_days: int = config.PENDING_WINDOW_DAYS,
            decryptor: RowDecryptor | None = None) -> dict[str, int]:
    """Stream the failed submissions in scope (and their veterans' other ones) into the ledger.

    With ``decryptor`` (source mode ``encrypted``) each form is decrypted in memory to hash it; rows that
    cannot be decrypted are counted by code and never deduplicated.
    """
    requested = ledger.requested_ids(ledger_conn, run_id) if scope.explicit else None
    flt = scope_filter(scope, as_of, requested, pending_window_days)
    outcome = check_requested(source_conn, flt)
    ledger.set_item_status(ledger_conn, run_id, [(i, "not_found", "no such submission") for i in outcome.not_found]
                           + [(i, "not_eligible", why) for i, why in outcome.not_eligible])
    stats = ExtractStats()
    n = ledger.write_candidates(ledger_conn, run_id, stream_candidates(source_conn, flt, decryptor, stats))
    in_scope = ledger.count_in_scope(ledger_conn, run_id)
    counts = {"failed_in_scope": in_scope, "dupe_context_rows": n - in_scope,
              "not_found": len(outcome.not_found), "not_eligible": len(outcome.not_eligible),
              "dangling_user_accounts": count_dangling_accounts(source_conn, flt),
              **{f"unreadable_{code}": k for code, k in sorted(stats.unreadable.items())}}
    if decryptor is not None:
        counts["kms_calls"] = decryptor.kms_calls
    log.info("extracted: %s", counts)
    return counts


def _decide(candidates: Iterator[ledger.Candidate]) -> Iterator[tuple[Member, int | None]]:
    return verdicts(Member(c.submission_id, c.veteran_key, c.created_at, c.source_state, c.content_hash, c.in_scope)
                    for c in candidates)


def dedupe(ledger_conn, *, run_id: str, chunk_size: int = CHUNK_SIZE) -> dict[str, int]:
    """Apply the per-veteran dupe-set rule to the extracted candidates, streamed one dupe set at a time."""
    kept, skipped = ledger.apply_dedup(ledger_conn, run_id, _decide, chunk_size=chunk_size)
    counts = {"kept": kept, "skipped_duplicate": skipped}
    log.info("deduplicated: %s", counts)
    return counts


def plan(ledger_conn, *, run_id: str, run_key_: str, scope: Scope,
         max_batches: int = config.MAX_MAPPED_BATCHES) -> list[dict[str, Any]]:
    """Exclude delivered ids, cap the run (oldest first), cut batches — in the ledger, set-based; returns one
    small dict per batch (at most ``max_batches``)."""
    def size_for(count: int) -> tuple[int, bool]:
        return batch_size_for(count, scope.batch_size, max_batches=max_batches, max_batch_size=config.MAX_BATCH_SIZE)

    p = ledger.plan_run(ledger_conn, run_id, redeliver=scope.redeliver, max_submissions=scope.max_submissions,
                        dry_run=scope.dry_run, size_for=size_for)
    if p.grown:
        log.warning("batch size raised from %d to %d to stay within %d mapped tasks",
                    scope.batch_size, p.batch_size, max_batches)
    log.info("planned %d submissions in %d batches of up to %d; %d already delivered, %d deferred%s",
             p.planned, len(p.batch_counts), p.batch_size, p.already_delivered, p.deferred,
             " (dry run: nothing will be written)" if scope.dry_run else "")
    if scope.dry_run:
        return []
    return [{"run_id": run_id, "run_key": run_key_, "batch_no": no, "batch_id": batch_label(no),
             "count": count, "bucket": scope.bucket, "key_prefix": scope.key_prefix,
             "redeliver": scope.redeliver}
            for no, count in enumerate(p.batch_counts, start=1)]


def _chunks(items: Iterable[int], size: int) -> Iterator[list[int]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def verify(ledger_conn, store: ObjectStore, *, run_id: str, chunk_size: int = CHUNK_SIZE) -> int:
    """Check this run's uploads against S3 (listings merge-joined with the ledger, both in key order; HEAD
    where a listing cannot vouch) and mark those S3 does not confirm failed, a chunk at a time."""
    missing = 0
    with contextlib.closing(ledger.uploaded_items(ledger_conn, run_id, chunk_size=chunk_size)) as items:
        for chunk in _chunks(unconfirmed((final_row(item, run_id) for item in items), store), chunk_size):
            ledger.mark_not_confirmed(ledger_conn, chunk)
            missing += len(chunk)
    if missing:
        log.error("%d submissions recorded as uploaded are not in S3 as recorded; marked them failed", missing)
    return missing


def write_remaining(source_conn, ledger_conn, out: CsvOut, *, as_of: datetime, pending_window_days: int,
                    include_email_notified: bool, chunk_size: int = CHUNK_SIZE) -> int:
    """The failed submissions not delivered yet (sorted; one ledger query per chunk of ids); returns how many."""
    with contextlib.closing(sorted_failed_ids(source_conn, as_of, pending_window_days, include_email_notified,
                                              chunk_size=chunk_size)) as failed:
        for chunk in _chunks(failed, chunk_size):
            for sid, state, code in ledger.not_done(ledger_conn, chunk):
                out.row((sid, state or "not_planned", code or ""))
    return out.rows


def reconcile(source_conn, ledger_conn, store: ObjectStore, *, run_id: str, run_key_: str, scope: Scope,
              as_of: datetime, pending_window_days: int = config.PENDING_WINDOW_DAYS,
              handoff_expiry_hours: int | None = None, chunk_size: int = CHUNK_SIZE) -> dict[str, Any]:
    """Write reconciliation.csv, summary.json and remaining.csv from the ledger, checked against S3;
    with ``handoff_expiry_hours``, also vba_handoff.csv of presigned URLs for VBA.

    Streamed, so memory does not grow with the run: first the uploads are verified (marking the ledger),
    then the report rows are read in id order and written straight into S3 uploads while a tally counts.
    """
    verify(ledger_conn, store, run_id=run_id, chunk_size=chunk_size)
    prefix = f"{scope.key_prefix}/reports/{run_key_}/"
    keys = {"reconciliation": prefix + "reconciliation.csv", "summary": prefix + "summary.json",
            "remaining": prefix + "remaining.csv"}
    handoff = bool(handoff_expiry_hours) and not scope.dry_run
    if handoff:
        # presigned URLs download every package: a secret, kept apart from the PII-free reports
        keys["vba_handoff"] = f"{scope.key_prefix}/handoff/{run_key_}/vba_handoff.csv"
    tally = Tally()
    with contextlib.ExitStack() as stack:
        report = CsvOut(stack.enter_context(store.writer(scope.bucket, keys["reconciliation"],
                                                         content_type="text/csv")), RECONCILIATION_HEADER)
        urls = CsvOut(stack.enter_context(store.writer(scope.bucket, keys["vba_handoff"], content_type="text/csv")),
                      HANDOFF_HEADER) if handoff else None
        items = stack.enter_context(contextlib.closing(ledger.report_items(ledger_conn, run_id,
                                                                          chunk_size=chunk_size)))
        for item in items:
            row = final_row(item, run_id)
            tally.add(row)
            report.row(row.csv_row())
            if urls is not None and row.status == "uploaded":
                urls.row((row.submission_id, store.presign(row.s3_bucket, row.s3_key, handoff_expiry_hours * 3600)))
    if urls is not None:
        log.info("vba_handoff.csv: %d presigned URLs valid for %d h", urls.rows, handoff_expiry_hours)
    with store.writer(scope.bucket, keys["remaining"], content_type="text/csv") as sink:
        remaining = write_remaining(source_conn, ledger_conn, CsvOut(sink, REMAINING_HEADER), as_of=as_of,
                                    pending_window_days=pending_window_days,
                                    include_email_notified=scope.include_email_notified, chunk_size=chunk_size)
    summary = tally.summary(run_id, dry_run=scope.dry_run, remaining=remaining)
    summary.report_keys = {k: f"s3://{scope.bucket}/{v}" for k, v in keys.items()}
    store.put(scope.bucket, keys["summary"], summary_json(summary), content_type="application/json")
    outcome = "dry_run" if scope.dry_run else (
        "failed_over_tolerance" if summary.failure_percent > scope.tolerated_failure_percent else "success")
    ledger.finish_run(ledger_conn, run_id, summary.as_dict(), outcome)
    log.info("reconciliation report\n%s\nreport: %s", summary_table(summary), summary.report_keys["reconciliation"])
    return summary.as_dict()
