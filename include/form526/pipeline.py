"""The steps of the backlog resubmission run, as plain functions over open connections.

The DAG's tasks get connections from Airflow (by connection id) and call these; everything a step
hands to the next goes through the ledger database, so XCom carries only ids, counts and keys.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from include.form526 import config
from include.form526.delivery import ledger
from include.form526.delivery.batching import batch_label, plan_batches
from include.form526.delivery.object_store import ObjectStore
from include.form526.delivery.report import (
    handoff_csv,
    load_rows,
    reconciliation_csv,
    remaining_csv,
    summarize,
    summary_json,
    summary_table,
    verify_uploaded,
)
from include.form526.scope import Scope, ScopeError, read_id_csv, run_key, validate_params
from include.form526.source.decryption import RowDecryptor
from include.form526.source.dedup import Member, deduplicate
from include.form526.source.extraction import (
    ExtractStats,
    ScopeFilter,
    check_requested,
    count_dangling_accounts,
    failed_ids,
    stream_candidates,
)

log = logging.getLogger(__name__)


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


def dedupe(ledger_conn, *, run_id: str) -> dict[str, int]:
    """Apply the per-veteran dupe-set rule to the extracted candidates."""
    members = [Member(c.submission_id, c.veteran_key, c.created_at, c.source_state, c.content_hash, c.in_scope)
               for c in ledger.read_candidates(ledger_conn, run_id)]
    verdict = deduplicate(members)
    ledger.record_dedup(ledger_conn, run_id, [(m.submission_id, m.created_at) for m in verdict.kept],
                        [(m.submission_id, m.created_at, dup) for m, dup in verdict.skipped])
    counts = {"kept": len(verdict.kept), "skipped_duplicate": len(verdict.skipped)}
    log.info("deduplicated: %s", counts)
    return counts


def plan(ledger_conn, *, run_id: str, run_key_: str, scope: Scope,
         max_batches: int = config.MAX_MAPPED_BATCHES) -> list[dict[str, Any]]:
    """Exclude delivered ids, cap the run (oldest first), cut batches; returns one small dict per batch."""
    ordered = ledger.candidates_in_order(ledger_conn, run_id)
    delivered = [sid for sid, state in ordered if state == "uploaded" and not scope.redeliver]
    todo = [sid for sid, state in ordered if not (state == "uploaded" and not scope.redeliver)]
    deferred: list[int] = []
    if scope.max_submissions is not None and len(todo) > scope.max_submissions:
        todo, deferred = todo[:scope.max_submissions], todo[scope.max_submissions:]
    bp = plan_batches(todo, scope.batch_size, max_batches=max_batches, max_batch_size=config.MAX_BATCH_SIZE)
    if bp.grown:
        log.warning("batch size raised from %d to %d to stay within %d mapped tasks",
                    scope.batch_size, bp.batch_size, max_batches)
    ledger.record_plan(ledger_conn, run_id, batches=bp.batches, already_delivered=delivered, deferred=deferred,
                       dry_run=scope.dry_run)
    log.info("planned %d submissions in %d batches of up to %d; %d already delivered, %d deferred%s",
             len(todo), len(bp.batches), bp.batch_size, len(delivered), len(deferred),
             " (dry run: nothing will be written)" if scope.dry_run else "")
    if scope.dry_run:
        return []
    return [{"run_id": run_id, "run_key": run_key_, "batch_no": no, "batch_id": batch_label(no),
             "count": len(ids), "bucket": scope.bucket, "key_prefix": scope.key_prefix,
             "redeliver": scope.redeliver}
            for no, ids in enumerate(bp.batches, start=1)]


def reconcile(source_conn, ledger_conn, store: ObjectStore, *, run_id: str, run_key_: str, scope: Scope,
              as_of: datetime, pending_window_days: int = config.PENDING_WINDOW_DAYS,
              handoff_expiry_hours: int | None = None) -> dict[str, Any]:
    """Write reconciliation.csv, summary.json and remaining.csv from the ledger, checked against S3;
    with ``handoff_expiry_hours``, also vba_handoff.csv of presigned URLs for VBA."""
    rows = load_rows(ledger_conn, run_id)
    rows, missing = verify_uploaded(rows, store)
    if missing:
        log.error("%d submissions recorded as uploaded are not in S3 as recorded; marking them failed", len(missing))
        ledger.mark_not_confirmed(ledger_conn, missing)
    done = ledger.done_ids(ledger_conn)
    still = sorted(failed_ids(source_conn, as_of, pending_window_days, scope.include_email_notified) - done)
    states = ledger.delivery_rows(ledger_conn, still) if still else {}
    remaining = [(sid, states.get(sid, {}).get("state") or "not_planned",
                  states.get(sid, {}).get("last_error_code") or "") for sid in still]
    summary = summarize(run_id, rows, dry_run=scope.dry_run, remaining=len(remaining))
    prefix = f"{scope.key_prefix}/reports/{run_key_}/"
    keys = {"reconciliation": prefix + "reconciliation.csv", "summary": prefix + "summary.json",
            "remaining": prefix + "remaining.csv"}
    summary.report_keys = {k: f"s3://{scope.bucket}/{v}" for k, v in keys.items()}
    store.put(scope.bucket, keys["reconciliation"], reconciliation_csv(rows), content_type="text/csv")
    store.put(scope.bucket, keys["remaining"], remaining_csv(remaining), content_type="text/csv")
    if handoff_expiry_hours and not scope.dry_run:
        # presigned URLs download every package: a secret, kept apart from the PII-free reports
        keys["vba_handoff"] = f"{scope.key_prefix}/handoff/{run_key_}/vba_handoff.csv"
        summary.report_keys["vba_handoff"] = f"s3://{scope.bucket}/{keys['vba_handoff']}"
        urls = [(r.submission_id, store.presign(r.s3_bucket, r.s3_key, handoff_expiry_hours * 3600))
                for r in rows if r.status == "uploaded"]
        store.put(scope.bucket, keys["vba_handoff"], handoff_csv(urls), content_type="text/csv")
        log.info("vba_handoff.csv: %d presigned URLs valid for %d h", len(urls), handoff_expiry_hours)
    store.put(scope.bucket, keys["summary"], summary_json(summary), content_type="application/json")
    outcome = "dry_run" if scope.dry_run else (
        "failed_over_tolerance" if summary.failure_percent > scope.tolerated_failure_percent else "success")
    ledger.finish_run(ledger_conn, run_id, summary.as_dict(), outcome)
    log.info("reconciliation report\n%s\nreport: %s", summary_table(summary), summary.report_keys["reconciliation"])
    return summary.as_dict()
