"""The delivery ledger in the ``form526_ledger`` database: migrations, plan, claims, outcomes.

States of ``form526_deliveries.state``:

``queued``     planned by a run, not yet taken by a batch;
``claimed``    a batch holds it (``claimed_by``) until ``claim_expires_at``; ``s3_key`` is the key it
               writes to, recorded before the upload so a crash can be recovered without a second object;
``uploaded``   S3 confirmed the object (size and SHA-256) — delivered;
``failed``     the last attempt hit a permanent per-submission error (``last_error_code``); a later run
               tries again;
``duplicate``  skipped as a copy of ``duplicate_of`` (vets-api recorded these as ignored_as_duplicate).

Every function takes an open psycopg 3 connection and commits what it writes, so a crash between
two calls leaves the ledger consistent. SQL uses bind parameters only.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

MIGRATIONS_DIR = Path(__file__).parent / "sql"
_MIGRATION_LOCK = 526_526  # pg_advisory_xact_lock key: two runs starting together migrate once

DONE_STATES = ("uploaded", "duplicate")


def migrate(conn) -> list[str]:
    """Apply the versioned SQL files not applied yet; returns the names applied. Idempotent."""
    applied: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS form526_ledger_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r[0] for r in conn.execute("SELECT version FROM form526_ledger_migrations")}
        for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
            version = int(path.name.split("_", 1)[0])
            if version in done:
                continue
            conn.execute(path.read_text())
            conn.execute("INSERT INTO form526_ledger_migrations (version, name) VALUES (%s, %s)",
                         (version, path.name))
            applied.append(path.name)
    return applied


# --------------------------------------------------------------------------- runs


def start_run(conn, *, run_id: str, dag_id: str, run_key: str, as_of: datetime, params: dict[str, Any]) -> str:
    """Register the run (a retry of the first task keeps the original row and its run key) and forget a
    half-made plan; returns the run's key as recorded."""
    with conn.transaction():
        recorded = conn.execute(
            "INSERT INTO form526_runs (run_id, dag_id, run_key, as_of, params) VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (run_id) DO UPDATE SET params = EXCLUDED.params RETURNING run_key",
            (run_id, dag_id, run_key, as_of, json.dumps(params, default=str)),
        ).fetchone()[0]
        conn.execute("DELETE FROM form526_run_items WHERE run_id = %s", (run_id,))
        conn.execute("DELETE FROM form526_run_candidates WHERE run_id = %s", (run_id,))
    return recorded


def finish_run(conn, run_id: str, counts: dict[str, Any], outcome: str) -> None:
    with conn.transaction():
        conn.execute("UPDATE form526_runs SET finished_at = now(), counts = %s, outcome = %s WHERE run_id = %s",
                     (json.dumps(counts), outcome, run_id))


def add_requested(conn, run_id: str, ids: Iterable[int]) -> int:
    """Record the ids a person asked for; every one of them will get a row in the report."""
    n = 0
    with conn.transaction(), conn.cursor() as cur:
        with cur.copy("COPY form526_run_items (run_id, submission_id, requested, status) FROM STDIN") as cp:
            for sid in ids:
                cp.write_row((run_id, sid, True, "requested"))
                n += 1
    return n


def requested_ids(conn, run_id: str) -> list[int]:
    rows = conn.execute("SELECT submission_id FROM form526_run_items WHERE run_id = %s AND requested"
                        " ORDER BY submission_id", (run_id,)).fetchall()
    return [r[0] for r in rows]


def set_item_status(conn, run_id: str, items: Sequence[tuple[int, str, str | None]]) -> None:
    """Upsert (submission_id, status, detail) rows of this run's plan."""
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO form526_run_items (run_id, submission_id, status, detail) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (run_id, submission_id) DO UPDATE SET status = EXCLUDED.status, detail = EXCLUDED.detail",
            [(run_id, sid, status, detail) for sid, status, detail in items],
        )


# --------------------------------------------------------------------------- candidates / dedup


@dataclass(frozen=True)
class Candidate:
    submission_id: int
    veteran_key: str
    created_at: datetime
    source_state: str  # 'established' | 'failed' (dedup state, see source.extraction)
    content_hash: str
    in_scope: bool


def write_candidates(conn, run_id: str, rows: Iterable[Candidate]) -> int:
    n = 0
    with conn.transaction(), conn.cursor() as cur:
        with cur.copy("COPY form526_run_candidates (run_id, submission_id, veteran_key, created_at, source_state,"
                      " content_hash, in_scope) FROM STDIN") as cp:
            for c in rows:
                cp.write_row((run_id, c.submission_id, c.veteran_key, c.created_at, c.source_state, c.content_hash,
                              c.in_scope))
                n += 1
    return n


def _stream(conn, sql: str, params: Any, *, name: str, chunk_size: int) -> Iterator[tuple]:
    """Rows through a server-side cursor, ``chunk_size`` per fetch. WITH HOLD: in autocommit the cursor
    outlives its statement's transaction, so the caller may commit writes between fetches."""
    with conn.cursor(name=name, withhold=True) as cur:
        cur.itersize = chunk_size
        cur.execute(sql, params)
        yield from cur


def _stream_dicts(conn, sql: str, params: Any, *, name: str, chunk_size: int) -> Iterator[dict[str, Any]]:
    """As ``_stream``, each row a dict by column name."""
    with conn.cursor(name=name, withhold=True) as cur:
        cur.itersize = chunk_size
        cur.execute(sql, params)
        cols = [c.name for c in cur.description]
        for r in cur:
            yield dict(zip(cols, r, strict=True))


def read_candidates(conn, run_id: str, *, chunk_size: int = 5000) -> Iterator[Candidate]:
    """The run's candidates dupe set by dupe set: ordered by (veteran_key, content_hash, created_at, id), streamed."""
    sql = ("SELECT submission_id, veteran_key, created_at, source_state, content_hash, in_scope"
           " FROM form526_run_candidates WHERE run_id = %s"
           ' ORDER BY veteran_key COLLATE "C", content_hash COLLATE "C", created_at, submission_id')
    for r in _stream(conn, sql, (run_id,), name="form526_dedup_candidates", chunk_size=chunk_size):
        yield Candidate(*r)


def apply_dedup(conn, run_id: str, decide: Callable[[Iterator[Candidate]], Iterable[tuple[Any, int | None]]],
                *, chunk_size: int = 5000) -> tuple[int, int]:
    """Stream the run's candidates through ``decide`` (dupe set order, see ``read_candidates``) and record its
    verdicts — ``(member, None)`` kept, ``(member, duplicate_of)`` skipped, a member being anything with the
    candidate's ``submission_id`` and ``created_at`` — ``chunk_size`` at a time, in one transaction: a crash
    records none of them. Returns (kept, skipped)."""
    kept: list[tuple[int, datetime]] = []
    skipped: list[tuple[int, datetime, int]] = []
    n_kept = n_skipped = 0
    with conn.transaction(), contextlib.closing(read_candidates(conn, run_id, chunk_size=chunk_size)) as candidates:
        for c, duplicate_of in decide(candidates):
            if duplicate_of is None:
                kept.append((c.submission_id, c.created_at))
            else:
                skipped.append((c.submission_id, c.created_at, duplicate_of))
            if len(kept) + len(skipped) >= chunk_size:
                record_dedup(conn, run_id, kept, skipped)
                n_kept, n_skipped = n_kept + len(kept), n_skipped + len(skipped)
                kept, skipped = [], []
        record_dedup(conn, run_id, kept, skipped)
    return n_kept + len(kept), n_skipped + len(skipped)


def record_dedup(conn, run_id: str, kept: Sequence[tuple[int, datetime]],
                 skipped: Sequence[tuple[int, datetime, int]]) -> None:
    """Write the dedup verdict: kept ids become ``candidate`` items, skipped ones ``skipped_duplicate``."""
    with conn.transaction(), conn.cursor() as cur:
        if kept:
            cur.execute(
                "INSERT INTO form526_run_items (run_id, submission_id, status, created_at)"
                " SELECT %s, k.id, 'candidate', k.created FROM unnest(%s::int[], %s::timestamp[]) AS k (id, created)"
                " ON CONFLICT (run_id, submission_id) DO UPDATE SET status = 'candidate',"
                " created_at = EXCLUDED.created_at",
                (run_id, [sid for sid, _ in kept], [created for _, created in kept]),
            )
        if skipped:
            ids, created, dups = ([s[0] for s in skipped], [s[1] for s in skipped], [s[2] for s in skipped])
            cur.execute(
                "INSERT INTO form526_run_items (run_id, submission_id, status, created_at, duplicate_of)"
                " SELECT %s, k.id, 'skipped_duplicate', k.created, k.dup"
                " FROM unnest(%s::int[], %s::timestamp[], %s::int[]) AS k (id, created, dup)"
                " ON CONFLICT (run_id, submission_id) DO UPDATE SET status = 'skipped_duplicate',"
                " created_at = EXCLUDED.created_at, duplicate_of = EXCLUDED.duplicate_of",
                (run_id, ids, created, dups),
            )
            cur.execute(
                "INSERT INTO form526_deliveries (submission_id, state, duplicate_of, first_run_id, last_run_id)"
                " SELECT k.id, 'duplicate', k.dup, %s, %s FROM unnest(%s::int[], %s::int[]) AS k (id, dup)"
                " ON CONFLICT (submission_id) DO UPDATE SET state = 'duplicate', duplicate_of = EXCLUDED.duplicate_of,"
                " last_run_id = EXCLUDED.last_run_id, updated_at = now()"
                " WHERE form526_deliveries.state IN ('queued', 'failed', 'duplicate')",
                (run_id, run_id, ids, dups),
            )


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class PlanCounts:
    """What ``plan_run`` recorded: the per-batch sizes (batch_no 1.. in order) and the other outcomes."""

    batch_counts: list[int]
    batch_size: int
    grown: bool
    already_delivered: int
    deferred: int

    @property
    def planned(self) -> int:
        return sum(self.batch_counts)


def plan_run(conn, run_id: str, *, redeliver: bool, max_submissions: int | None, dry_run: bool,
             size_for: Callable[[int], tuple[int, bool]]) -> PlanCounts:
    """Plan the run's kept candidates in the ledger with set-based statements, in one transaction.

    Candidates already uploaded become ``skipped_already_delivered`` (unless ``redeliver``); of the rest, oldest
    first (created_at, id), the first ``max_submissions`` are cut into batches of ``size_for(count)[0]``
    (batch_no 1, 2, ... by position) and queued (``planned`` in a dry run), the others ``deferred``.
    ``size_for`` may raise (a plan beyond the limits): then nothing is recorded.
    """
    status = "planned" if dry_run else "queued"
    with conn.transaction():
        delivered = 0 if redeliver else conn.execute(
            "UPDATE form526_run_items i SET status = 'skipped_already_delivered' FROM form526_deliveries d"
            " WHERE i.run_id = %s AND i.status = 'candidate' AND d.submission_id = i.submission_id"
            " AND d.state = 'uploaded'", (run_id,)).rowcount
        todo = conn.execute("SELECT count(*) FROM form526_run_items WHERE run_id = %s AND status = 'candidate'",
                            (run_id,)).fetchone()[0]
        cap = todo if max_submissions is None else min(todo, max_submissions)
        size, grown = size_for(cap)
        conn.execute(
            "UPDATE form526_run_items i SET"
            " status = CASE WHEN o.pos <= %(cap)s THEN %(status)s ELSE 'deferred' END,"
            " batch_no = CASE WHEN o.pos <= %(cap)s THEN (o.pos - 1) / %(size)s + 1 END,"
            " detail = CASE WHEN o.pos <= %(cap)s THEN i.detail ELSE 'beyond max_submissions for this run' END"
            " FROM (SELECT submission_id, row_number() OVER (ORDER BY created_at, submission_id) AS pos"
            "       FROM form526_run_items WHERE run_id = %(run)s AND status = 'candidate') o"
            " WHERE i.run_id = %(run)s AND i.submission_id = o.submission_id",
            {"cap": cap, "status": status, "size": size, "run": run_id})
        if not dry_run:
            conn.execute(
                "INSERT INTO form526_deliveries (submission_id, state, first_run_id, last_run_id)"
                " SELECT submission_id, 'queued', %s, %s FROM form526_run_items WHERE run_id = %s AND status = 'queued'"
                " ORDER BY submission_id ON CONFLICT (submission_id) DO NOTHING", (run_id, run_id, run_id))
        counts = conn.execute(
            "SELECT batch_no, count(*) FROM form526_run_items WHERE run_id = %s AND batch_no IS NOT NULL"
            " AND status = %s GROUP BY batch_no ORDER BY batch_no", (run_id, status)).fetchall()
    return PlanCounts(batch_counts=[k for _, k in counts], batch_size=size, grown=grown,
                      already_delivered=delivered, deferred=todo - cap)


def record_plan(conn, run_id: str, *, batches: Sequence[Sequence[int]], already_delivered: Sequence[int],
                deferred: Sequence[int], dry_run: bool) -> None:
    """Record an explicit plan: batch numbers (1-based) in order, and queue the batches' submissions."""
    status = "planned" if dry_run else "queued"
    ids = [sid for ids in batches for sid in ids]
    numbers = [no for no, ids in enumerate(batches, start=1) for _ in ids]
    with conn.transaction():
        conn.execute(
            "UPDATE form526_run_items i SET status = %s, batch_no = p.no"
            " FROM unnest(%s::int[], %s::int[]) AS p (id, no) WHERE i.run_id = %s AND i.submission_id = p.id",
            (status, ids, numbers, run_id))
        conn.execute("UPDATE form526_run_items SET status = 'skipped_already_delivered'"
                     " WHERE run_id = %s AND submission_id = ANY(%s)", (run_id, list(already_delivered)))
        conn.execute("UPDATE form526_run_items SET status = 'deferred', detail = 'beyond max_submissions for this run'"
                     " WHERE run_id = %s AND submission_id = ANY(%s)", (run_id, list(deferred)))
        if not dry_run:
            conn.execute("INSERT INTO form526_deliveries (submission_id, state, first_run_id, last_run_id)"
                         " SELECT unnest(%s::int[]), 'queued', %s, %s ON CONFLICT (submission_id) DO NOTHING",
                         (ids, run_id, run_id))


def batch_ids(conn, run_id: str, batch_no: int) -> list[int]:
    rows = conn.execute("SELECT submission_id FROM form526_run_items WHERE run_id = %s AND batch_no = %s"
                        " AND status = 'queued' ORDER BY submission_id", (run_id, batch_no))
    return [r[0] for r in rows]


# --------------------------------------------------------------------------- claims and outcomes

_CLAIM_SQL = """
WITH claimable AS (
    SELECT d.submission_id FROM form526_deliveries d
    WHERE d.submission_id = ANY(%(ids)s)
      AND (d.state IN ('queued', 'failed')
           OR (d.state = 'claimed' AND (d.claimed_by = %(worker)s OR d.claim_expires_at < now()))
           OR (d.state = 'uploaded' AND %(redeliver)s AND d.last_run_id <> %(run_id)s))
    FOR UPDATE SKIP LOCKED
)
UPDATE form526_deliveries d SET
    state = 'claimed',
    claimed_by = %(worker)s,
    claim_expires_at = now() + make_interval(mins => %(ttl_minutes)s),
    attempts = d.attempts + 1,
    last_run_id = %(run_id)s,
    batch_id = %(batch_id)s,
    -- an unconfirmed upload of an earlier attempt keeps its key: one object per submission, ever
    s3_bucket = CASE WHEN d.state <> 'uploaded' AND d.s3_key IS NOT NULL THEN d.s3_bucket ELSE %(bucket)s END,
    s3_key = CASE WHEN d.state <> 'uploaded' AND d.s3_key IS NOT NULL THEN d.s3_key
                  ELSE %(key_prefix)s || d.submission_id || '.zip' END,
    updated_at = now()
FROM claimable c
WHERE d.submission_id = c.submission_id
RETURNING d.submission_id, d.s3_bucket, d.s3_key, d.attempts
"""


@dataclass(frozen=True)
class Claim:
    submission_id: int
    bucket: str
    key: str
    attempts: int = 1

    @property
    def may_exist(self) -> bool:
        """An earlier attempt may have uploaded this key before dying: check S3 before uploading."""
        return self.attempts > 1


def claim(conn, *, ids: Sequence[int], worker: str, run_id: str, batch_id: str, bucket: str, key_prefix: str,
          ttl_minutes: int, redeliver: bool) -> dict[int, Claim]:
    """Take the submissions no live worker holds; rows locked by another claimer are skipped, not waited for."""
    with conn.transaction():
        rows = conn.execute(_CLAIM_SQL, {"ids": list(ids), "worker": worker, "run_id": run_id,
                                         "batch_id": batch_id, "bucket": bucket, "key_prefix": key_prefix,
                                         "ttl_minutes": ttl_minutes, "redeliver": redeliver}).fetchall()
    return {r[0]: Claim(r[0], r[1], r[2], r[3]) for r in rows}


def extend_claims(conn, worker: str, ttl_minutes: int) -> int:
    """Heartbeat: push this worker's live claims ``ttl_minutes`` into the future while it is still working.

    The claim TTL then only measures how long a DEAD worker's submissions wait, not how long a batch may
    take; the task's ``execution_timeout`` bounds the batch itself."""
    with conn.transaction():
        cur = conn.execute("UPDATE form526_deliveries SET claim_expires_at = now() + make_interval(mins => %s)"
                           " WHERE claimed_by = %s AND state = 'claimed'", (ttl_minutes, worker))
        return cur.rowcount


def release(conn, worker: str) -> int:
    """Give back this worker's unfinished claims (on a clean failure) so the next run need not wait for
    them to expire. The recorded key stays: an upload that was not confirmed is checked, not repeated."""
    with conn.transaction():
        cur = conn.execute("UPDATE form526_deliveries SET state = 'queued', claimed_by = NULL, claim_expires_at = NULL,"
                           " updated_at = now() WHERE claimed_by = %s AND state = 'claimed'", (worker,))
        return cur.rowcount


@dataclass(frozen=True)
class Uploaded:
    submission_id: int
    sha256: str
    size: int
    md5: str | None = None            # the ETag a listing shows: MD5 hex, or "<hex>-N" for a multipart upload
    checksum: str | None = None       # the SHA-256 checksum S3 answers (composite "<b64>-N" for multipart)
    attachments: int = 0              # evidence files included
    missing: dict[str, int] | None = None  # evidence not included, by reason code


@dataclass(frozen=True)
class Failed:
    submission_id: int
    code: str
    detail: str


def record_outcomes(conn, worker: str, uploaded: Sequence[Uploaded], failed: Sequence[Failed]) -> None:
    """Mark confirmed uploads and permanent failures, only where this worker still holds the claim."""
    if not uploaded and not failed:
        return
    with conn.transaction(), conn.cursor() as cur:
        if uploaded:
            cur.execute(
                "UPDATE form526_deliveries d SET state = 'uploaded', sha256 = u.sha256, md5 = u.md5, bytes = u.size,"
                " s3_checksum = u.checksum, attachments = u.attachments, attachments_missing = u.missing,"
                " missing_evidence = u.reasons::jsonb,"
                " uploaded_at = now(), updated_at = now(), claimed_by = NULL, claim_expires_at = NULL,"
                " last_error_code = NULL, last_error_detail = NULL"
                " FROM (SELECT unnest(%s::int[]) AS id, unnest(%s::text[]) AS sha256, unnest(%s::text[]) AS md5,"
                " unnest(%s::bigint[]) AS size, unnest(%s::text[]) AS checksum, unnest(%s::int[]) AS attachments,"
                " unnest(%s::int[]) AS missing, unnest(%s::text[]) AS reasons) u"
                " WHERE d.submission_id = u.id AND d.claimed_by = %s",
                ([u.submission_id for u in uploaded], [u.sha256 for u in uploaded], [u.md5 for u in uploaded],
                 [u.size for u in uploaded], [u.checksum for u in uploaded], [u.attachments for u in uploaded],
                 [sum((u.missing or {}).values()) for u in uploaded],
                 [json.dumps(u.missing or {}, sort_keys=True) for u in uploaded], worker),
            )
        if failed:
            cur.execute(
                "UPDATE form526_deliveries d SET state = 'failed', last_error_code = f.code,"
                " last_error_detail = f.detail, s3_key = NULL, s3_bucket = NULL, updated_at = now(),"
                " claimed_by = NULL, claim_expires_at = NULL"
                " FROM (SELECT unnest(%s::int[]) AS id, unnest(%s::text[]) AS code, unnest(%s::text[]) AS detail) f"
                " WHERE d.submission_id = f.id AND d.claimed_by = %s",
                ([f.submission_id for f in failed], [f.code for f in failed], [f.detail for f in failed], worker),
            )


def count_in_scope(conn, run_id: str) -> int:
    """How many of the run's extracted candidates are in scope (the rest are dupe context)."""
    return conn.execute("SELECT count(*) FROM form526_run_candidates WHERE run_id = %s AND in_scope",
                        (run_id,)).fetchone()[0]


NOT_CONFIRMED_DETAIL = "the ledger said uploaded but S3 does not hold the same bytes"


def mark_not_confirmed(conn, ids: Sequence[int]) -> None:
    """Reconcile found these uploads missing or different in S3: they are failed, and a later run retries."""
    with conn.transaction():
        conn.execute("UPDATE form526_deliveries SET state = 'failed', last_error_code = 'not_confirmed_in_s3',"
                     " last_error_detail = %s, updated_at = now() WHERE submission_id = ANY(%s)",
                     (NOT_CONFIRMED_DETAIL, list(ids)))


REPORT_ITEMS_SQL = """
SELECT i.submission_id, i.status, i.batch_no, i.duplicate_of, i.detail,
       d.state, d.s3_bucket, d.s3_key, d.sha256, d.md5, d.s3_checksum, d.bytes, d.last_run_id, d.batch_id,
       d.last_error_code, d.last_error_detail, d.claimed_by, (d.claim_expires_at > now()) AS claim_live,
       d.attachments, d.attachments_missing, d.missing_evidence
FROM form526_run_items i
LEFT JOIN form526_deliveries d ON d.submission_id = i.submission_id
WHERE i.run_id = %s {where}
ORDER BY {order}
"""


def report_items(conn, run_id: str, *, chunk_size: int = 5000) -> Iterator[dict[str, Any]]:
    """Every plan item of a run joined with its delivery row, as dicts, streamed in id order."""
    sql = REPORT_ITEMS_SQL.format(where="", order="i.submission_id")
    return _stream_dicts(conn, sql, (run_id,), name="form526_report_items", chunk_size=chunk_size)


def uploaded_items(conn, run_id: str, *, chunk_size: int = 5000) -> Iterator[dict[str, Any]]:
    """The plan items this run uploaded (as ``report_items``), streamed in S3 listing order: by bucket and key,
    compared as bytes (COLLATE "C": the UTF-8 binary order S3 lists keys in)."""
    sql = REPORT_ITEMS_SQL.format(where="AND d.state = 'uploaded' AND d.last_run_id = %s",
                                  order='d.s3_bucket COLLATE "C", d.s3_key COLLATE "C"')
    return _stream_dicts(conn, sql, (run_id, run_id), name="form526_uploaded_items", chunk_size=chunk_size)


def delivery_rows(conn, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    cur = conn.execute(
        "SELECT submission_id, state, s3_bucket, s3_key, sha256, bytes, last_run_id, batch_id, last_error_code,"
        " claimed_by, claim_expires_at > now() AS claim_live FROM form526_deliveries WHERE submission_id = ANY(%s)",
        (list(ids),))
    cols = [c.name for c in cur.description]
    return {r[0]: dict(zip(cols, r, strict=True)) for r in cur}


def not_done(conn, ids: Sequence[int]) -> list[tuple[int, str | None, str | None]]:
    """Of ``ids``, those that still need something (not delivered, not a duplicate), in id order, with their
    ledger state and last error code (None, None when never planned)."""
    rows = conn.execute(
        "SELECT x.id, d.state, d.last_error_code FROM unnest(%s::int[]) AS x (id)"
        " LEFT JOIN form526_deliveries d ON d.submission_id = x.id"
        " WHERE d.state IS NULL OR NOT d.state = ANY(%s) ORDER BY x.id", (list(ids), list(DONE_STATES)))
    return [(r[0], r[1], r[2]) for r in rows]


def done_ids(conn) -> set[int]:
    """Submissions that need nothing more: delivered, or skipped as duplicates."""
    rows = conn.execute("SELECT submission_id FROM form526_deliveries WHERE state = ANY(%s)", (list(DONE_STATES),))
    return {r[0] for r in rows}
