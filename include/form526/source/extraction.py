"""Read the vets-api source, read-only and streamed: failed submissions in scope and their dupe context.

Every query runs inside a READ ONLY transaction and streams through a server-side (named) cursor,
so memory stays flat however large the backlog. Form content is hashed as it streams past and
never leaves this module.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from include.form526.delivery.ledger import Candidate
from include.form526.source.decryption import Column, RowDecryptor
from include.form526.source.dedup import content_hash, form_json_problem
from include.form526.source.lockbox import DecryptError
from include.form526.source.selection import SUBMISSION_STATE_SQL, state_params

FETCH_SIZE = 2000

_SCOPE_FILTER = """
    s.state = 'failed'
    AND (%(ids)s::int[] IS NULL OR s.id = ANY(%(ids)s::int[]))
    AND (%(after)s::timestamp IS NULL OR s.created_at >= %(after)s::timestamp)
    AND (%(before)s::timestamp IS NULL OR s.created_at < %(before)s::timestamp)
"""

# The failed submissions in scope, plus every other submission of the same veterans that can decide a
# dupe set (the sets may reach outside the scope), each with a flag saying whether it is itself in scope.
# dedup_state: 'established' (a claim was established for it: it makes later identical copies duplicates),
# 'failed', or 'other' (remediated without an establishment, e.g. e-mail notified: decides nothing).
CANDIDATES_SQL = f"""
WITH s AS ({SUBMISSION_STATE_SQL}),
scoped_veterans AS (SELECT DISTINCT s.veteran_key FROM s WHERE {_SCOPE_FILTER})
SELECT s.id, s.veteran_key, s.created_at,
       CASE WHEN s.established THEN 'established' WHEN s.state = 'failed' THEN 'failed' ELSE 'other' END,
       ({_SCOPE_FILTER}) AS in_scope, {{form_columns}}
FROM s
JOIN scoped_veterans v ON v.veteran_key = s.veteran_key
JOIN form526_submissions f ON f.id = s.id
WHERE s.established OR s.state = 'failed'
"""

# Accounts that a submission points to but user_accounts does not hold (counted, never fatal).
DANGLING_ACCOUNTS_SQL = f"""
WITH s AS ({SUBMISSION_STATE_SQL})
SELECT count(DISTINCT s.user_account_id) FROM s
WHERE {_SCOPE_FILTER} AND s.user_account_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM user_accounts a WHERE CAST(a.id AS text) = s.user_account_id)
"""

REQUESTED_STATES_SQL = f"""
WITH s AS ({SUBMISSION_STATE_SQL})
SELECT s.id, s.state, s.created_at, s.remediation FROM s WHERE s.id = ANY(%(ids)s::int[])
"""

FAILED_IDS_SQL = f"""
WITH s AS ({SUBMISSION_STATE_SQL})
SELECT s.id FROM s WHERE s.state = 'failed'
"""

SUBMISSION_ROWS_SQL = """
SELECT id, created_at, {columns} FROM form526_submissions
WHERE id = ANY(%(ids)s::int[]) ORDER BY id
"""
# Per source mode: the plaintext stand-in columns, or vets-api's ciphertext and the row's wrapped data key.
_FORM_COLUMNS = {"plaintext": "f.form_json", "encrypted": "f.form_json_ciphertext, f.encrypted_kms_key"}
_ROW_COLUMNS = {"plaintext": "form_json, auth_headers_json",
                "encrypted": "form_json_ciphertext, auth_headers_json_ciphertext, encrypted_kms_key"}


@contextlib.contextmanager
def read_only(conn) -> Iterator[None]:
    """A READ ONLY transaction: even a mistaken write through this connection fails."""
    with conn.transaction():
        conn.execute("SET TRANSACTION READ ONLY")
        yield


def _stream(conn, sql: str, params: dict, name: str) -> Iterator[tuple]:
    with conn.cursor(name=name) as cur:
        cur.itersize = FETCH_SIZE
        cur.execute(sql, params)
        yield from cur


@dataclass(frozen=True)
class ScopeFilter:
    as_of: datetime
    pending_window_days: int
    ids: Sequence[int] | None
    created_after: datetime | None
    created_before: datetime | None
    include_email_notified: bool = False

    def params(self) -> dict:
        return {**state_params(self.as_of, self.pending_window_days, self.include_email_notified),
                "ids": list(self.ids) if self.ids is not None else None,
                "after": self.created_after, "before": self.created_before}


@dataclass
class ExtractStats:
    """What extraction could not read, by code (counted, never fatal)."""

    unreadable: dict[str, int] = field(default_factory=dict)

    def count(self, code: str) -> None:
        self.unreadable[code] = self.unreadable.get(code, 0) + 1


def unique_hash(submission_id: int, why: str) -> str:
    """A content hash no other submission shares: an unreadable form is never anyone's duplicate."""
    return hashlib.sha256(f"unreadable:{why}:{submission_id}".encode()).hexdigest()


def stream_candidates(conn, scope: ScopeFilter, decryptor: RowDecryptor | None = None,
                      stats: ExtractStats | None = None) -> Iterator[Candidate]:
    """Failed in-scope submissions and their veterans' other submissions, form content hashed.

    With ``decryptor`` (encrypted source mode) each form is decrypted in memory for the hash only. A row
    that cannot be decrypted gets a hash of its own (it fails later, alone, when its batch reads it).
    """
    stats = stats if stats is not None else ExtractStats()
    sql = CANDIDATES_SQL.format(form_columns=_FORM_COLUMNS["encrypted" if decryptor else "plaintext"])
    with read_only(conn):
        for sid, veteran, created, state, in_scope, *form in _stream(conn, sql, scope.params(), "form526_candidates"):
            if decryptor is None:
                _count_problem(form[0], stats)
                digest = content_hash(form[0])
            else:
                try:
                    (form_json,) = decryptor.decrypt_row(
                        model_name="Form526Submission", model_id=sid, table="form526_submissions",
                        encrypted_kms_key=form[1], columns=[Column("form_json_ciphertext", form[0])])
                    _count_problem(form_json, stats)
                    digest = content_hash(form_json)
                except DecryptError as exc:
                    stats.count(exc.code)
                    digest = unique_hash(sid, exc.code)
            yield Candidate(sid, veteran, created, state, digest, bool(in_scope))


def count_dangling_accounts(conn, scope: ScopeFilter) -> int:
    """How many distinct ``user_account_id`` values of in-scope submissions have no ``user_accounts`` row."""
    with read_only(conn):
        return int(conn.execute(DANGLING_ACCOUNTS_SQL, scope.params()).fetchone()[0])


def _count_problem(form_json: str | None, stats: ExtractStats) -> None:
    """A form over the size or nesting limits is hashed without parsing (never a crashed extract): count it."""
    problem = form_json_problem(form_json)
    if problem:
        stats.count(problem)


@dataclass(frozen=True)
class RequestedOutcome:
    not_found: list[int]
    not_eligible: list[tuple[int, str]]   # (id, reason without PII)


def check_requested(conn, scope: ScopeFilter) -> RequestedOutcome:
    """Sort explicitly requested ids into found-and-failed, not found, and not eligible (with why)."""
    ids = list(scope.ids or [])
    if not ids:
        return RequestedOutcome([], [])
    with read_only(conn):
        rows = list(_stream(conn, REQUESTED_STATES_SQL, {**scope.params(), "ids": ids}, "form526_requested"))
    found = {sid: (state, created, remediation) for sid, state, created, remediation in rows}
    not_found = [i for i in ids if i not in found]
    not_eligible: list[tuple[int, str]] = []
    for sid in ids:
        if sid not in found:
            continue
        state, created, remediation = found[sid]
        if state == "established_no_pdf":
            not_eligible.append((sid, "claim already established on the primary path (claim id set; its PDF was "
                                      "never confirmed): not a failure, upload the PDF instead"))
        elif state == "success" and remediation == "email_notified":
            not_eligible.append((sid, "remediated: the veteran was e-mailed about the failure "
                                      "(include_email_notified brings these back)"))
        elif state != "failed":
            not_eligible.append((sid, f"source state is {state}, not failed"))
        elif scope.created_after and created < scope.created_after:
            not_eligible.append((sid, "created before created_after"))
        elif scope.created_before and created >= scope.created_before:
            not_eligible.append((sid, "created on or after created_before"))
    return RequestedOutcome(not_found, not_eligible)


def failed_ids(conn, as_of: datetime, pending_window_days: int, include_email_notified: bool = False) -> set[int]:
    """Every submission failed as of ``as_of``, as a set (small sources; the run streams ``sorted_failed_ids``)."""
    return set(sorted_failed_ids(conn, as_of, pending_window_days, include_email_notified))


def sorted_failed_ids(conn, as_of: datetime, pending_window_days: int, include_email_notified: bool = False, *,
                      chunk_size: int = FETCH_SIZE) -> Iterator[int]:
    """Every submission failed as of ``as_of``, in id order, streamed ``chunk_size`` at a time (for the
    remaining backlog)."""
    params = state_params(as_of, pending_window_days, include_email_notified)
    with read_only(conn), conn.cursor(name="form526_failed_ids") as cur:
        cur.itersize = chunk_size
        cur.execute(FAILED_IDS_SQL + "ORDER BY s.id", params)
        for (sid,) in cur:
            yield sid


@dataclass(frozen=True)
class SourceRow:
    id: int
    created_at: datetime
    form_json: str | None
    auth_headers_json: str | None
    error: str | None = None  # a decryption error code: this submission cannot be read


def stream_submissions(conn, ids: Sequence[int], decryptor: RowDecryptor | None = None) -> Iterator[SourceRow]:
    """The rows of one batch, in id order; with ``decryptor``, decrypted in memory from the ciphertext."""
    sql = SUBMISSION_ROWS_SQL.format(columns=_ROW_COLUMNS["encrypted" if decryptor else "plaintext"])
    with read_only(conn):
        for sid, created, *cols in _stream(conn, sql, {"ids": list(ids)}, "form526_batch_rows"):
            if decryptor is None:
                yield SourceRow(sid, created, cols[0], cols[1])
                continue
            try:
                form_json, auth = decryptor.submission(sid, cols[2], cols[0], cols[1])
            except DecryptError as exc:
                yield SourceRow(sid, created, None, None, error=exc.code)
            else:
                yield SourceRow(sid, created, form_json, auth)
