"""Read the vets-api source, read-only and streamed: failed submissions in scope and their dupe context.

Every query runs inside a READ ONLY transaction and streams through a server-side (named) cursor,
so memory stays flat however large the backlog. Form content is hashed as it streams past and
never leaves this module.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from include.form526.delivery.ledger import Candidate
from include.form526.source.dedup import content_hash
from include.form526.source.selection import SUBMISSION_STATE_SQL, state_params

FETCH_SIZE = 2000

_SCOPE_FILTER = """
    s.state = 'failed'
    AND (%(ids)s::int[] IS NULL OR s.id = ANY(%(ids)s::int[]))
    AND (%(after)s::timestamp IS NULL OR s.created_at >= %(after)s::timestamp)
    AND (%(before)s::timestamp IS NULL OR s.created_at < %(before)s::timestamp)
"""

# The failed submissions in scope, plus every success and failure of the same veterans (the dupe
# sets may reach outside the scope), each with a flag saying whether it is itself in scope.
CANDIDATES_SQL = f"""
WITH s AS ({SUBMISSION_STATE_SQL}),
scoped_users AS (SELECT DISTINCT s.user_uuid FROM s WHERE {_SCOPE_FILTER})
SELECT s.id, s.user_uuid, s.created_at, s.state, ({_SCOPE_FILTER}) AS in_scope, f.form_json
FROM s
JOIN scoped_users u ON u.user_uuid = s.user_uuid
JOIN form526_submissions f ON f.id = s.id
WHERE s.state IN ('success', 'failed')
"""

REQUESTED_STATES_SQL = f"""
WITH s AS ({SUBMISSION_STATE_SQL})
SELECT s.id, s.state, s.created_at FROM s WHERE s.id = ANY(%(ids)s::int[])
"""

FAILED_IDS_SQL = f"""
WITH s AS ({SUBMISSION_STATE_SQL})
SELECT s.id FROM s WHERE s.state = 'failed'
"""

SUBMISSION_ROWS_SQL = """
SELECT id, created_at, form_json, auth_headers_json FROM form526_submissions
WHERE id = ANY(%(ids)s::int[]) ORDER BY id
"""


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

    def params(self) -> dict:
        return {**state_params(self.as_of, self.pending_window_days),
                "ids": list(self.ids) if self.ids is not None else None,
                "after": self.created_after, "before": self.created_before}


def stream_candidates(conn, scope: ScopeFilter) -> Iterator[Candidate]:
    """Failed in-scope submissions and their veterans' other submissions, form content hashed."""
    with read_only(conn):
        for sid, user, created, state, in_scope, form_json in _stream(conn, CANDIDATES_SQL, scope.params(),
                                                                       "form526_candidates"):
            yield Candidate(sid, user, created, state, content_hash(form_json), bool(in_scope))


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
    found = {sid: (state, created) for sid, state, created in rows}
    not_found = [i for i in ids if i not in found]
    not_eligible: list[tuple[int, str]] = []
    for sid in ids:
        if sid not in found:
            continue
        state, created = found[sid]
        if state != "failed":
            not_eligible.append((sid, f"source state is {state}, not failed"))
        elif scope.created_after and created < scope.created_after:
            not_eligible.append((sid, "created before created_after"))
        elif scope.created_before and created >= scope.created_before:
            not_eligible.append((sid, "created on or after created_before"))
    return RequestedOutcome(not_found, not_eligible)


def failed_ids(conn, as_of: datetime, pending_window_days: int) -> set[int]:
    """Every submission failed as of ``as_of`` (for the remaining-backlog figure)."""
    with read_only(conn):
        return {r[0] for r in _stream(conn, FAILED_IDS_SQL, state_params(as_of, pending_window_days),
                                      "form526_failed_ids")}


@dataclass(frozen=True)
class SourceRow:
    id: int
    created_at: datetime
    form_json: str | None
    auth_headers_json: str | None


def stream_submissions(conn, ids: Sequence[int]) -> Iterator[SourceRow]:
    """The raw rows of one batch, in id order."""
    with read_only(conn):
        for row in _stream(conn, SUBMISSION_ROWS_SQL, {"ids": list(ids)}, "form526_batch_rows"):
            yield SourceRow(*row)
