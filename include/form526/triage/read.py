"""The triage's reads: plain psycopg functions over the vets-api source and the delivery ledger.

Call them inside a READ ONLY transaction (``run.run_triage`` opens one REPEATABLE READ snapshot for all the
source reads); they stream through server-side cursors and never write. Identity values read for
scrubbing stay inside ``identity.Identity`` objects.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from include.form526.config import PENDING_WINDOW_DAYS
from include.form526.delivery.ledger import DONE_STATES
from include.form526.source.decryption import RowDecryptor
from include.form526.source.lockbox import DecryptError
from include.form526.source.selection import SUBMISSION_STATE_SQL, load_sql, state_params
from include.form526.triage.explain import (
    ANCILLARY_JOB_CLASSES,
    FAILING_STATUSES,
    EstablishedClaim,
    FailedSubmission,
    JobRow,
)
from include.form526.triage.identity import Identity
from include.form526.triage.window import naive_utc

TRIAGE_SQL_DIR = Path(__file__).resolve().parent / "sql"
ITERSIZE = 2000


def _stream(conn: Any, sql: str, params: Mapping[str, Any], name: str) -> Iterator[tuple]:
    with conn.cursor(name=name) as cur:
        cur.itersize = ITERSIZE
        cur.execute(sql, params)
        yield from cur


def with_states(name: str) -> str:
    """``WITH s AS (<submission_state.sql>) <triage sql/name>``."""
    return f"WITH s AS ({SUBMISSION_STATE_SQL})\n{load_sql(name, TRIAGE_SQL_DIR)}"


def read_states(conn: Any, as_of: datetime, pending_window_days: int = PENDING_WINDOW_DAYS
                ) -> tuple[list[FailedSubmission], list[EstablishedClaim]]:
    """Every submission failed as of ``as_of`` (with ``failed_at``) and every established_no_pdf one."""
    failed, established = [], []
    for sid, vet, state, created, failed_at, has_backup, backup_status, poll in _stream(
            conn, with_states("states.sql"), state_params(as_of, pending_window_days), "triage_states"):
        if state == "failed":
            failed.append(FailedSubmission(sid, vet, created, failed_at, bool(has_backup), backup_status))
        else:
            established.append(EstablishedClaim(sid, vet, created, poll))
    return failed, established


def read_failed(conn: Any, as_of: datetime, pending_window_days: int = PENDING_WINDOW_DAYS) -> list[FailedSubmission]:
    """Every submission failed as of ``as_of``, with ``failed_at``."""
    return read_states(conn, as_of, pending_window_days)[0]


def read_job_rows(conn: Any, ids: Sequence[int]) -> Iterator[JobRow]:
    """The non-ancillary job rows of ``ids`` (``bgjob_errors`` only on failing rows)."""
    if not ids:
        return
    params = {"ids": list(ids), "ancillary": list(ANCILLARY_JOB_CLASSES), "failing": list(FAILING_STATUSES)}
    for sid, cls, status, ecls, msg, at, bg in _stream(conn, load_sql("job_rows.sql", TRIAGE_SQL_DIR), params,
                                                        "triage_jobs"):
        yield JobRow(sid, cls, status, ecls, msg, at, bg)


def read_ancillary(conn: Any, start: datetime, end: datetime, as_of: datetime,
                   pending_window_days: int = PENDING_WINDOW_DAYS) -> Iterator[JobRow]:
    """Failing ancillary job rows updated in ``[start, end)``, with their submission's veteran_key."""
    params = {**state_params(as_of, pending_window_days), "classes": list(ANCILLARY_JOB_CLASSES),
              "statuses": list(FAILING_STATUSES), "start": naive_utc(start), "end": naive_utc(end)}
    for sid, vet, cls, status, ecls, msg, at, bg in _stream(conn, with_states("ancillary.sql"), params,
                                                            "triage_ancillary"):
        yield JobRow(sid, cls, status, ecls, msg, at, bg, vet or "")


def read_identities(conn: Any, ids: Sequence[int], decryptor: RowDecryptor | None = None) -> dict[int, Identity]:
    """Submission id -> the identity values to scrub from its error text (the raw JSON is dropped at once).

    With ``decryptor`` (source mode ``encrypted``) the ciphertext columns are decrypted in memory; a row
    that does not decrypt gets ``Identity.withheld()`` (its error text is not kept at all).
    """
    if not ids:
        return {}
    sql = load_sql("identities_encrypted.sql" if decryptor else "identities.sql", TRIAGE_SQL_DIR)
    out: dict[int, Identity] = {}
    for sid, *cols in _stream(conn, sql, {"ids": sorted(set(ids))}, "triage_identities"):
        if decryptor is None:
            out[sid] = Identity.from_source(cols[0], cols[1])
            continue
        try:
            form, auth = decryptor.submission(sid, cols[2], cols[1], cols[0])
        except DecryptError:
            out[sid] = Identity.withheld()
        else:
            out[sid] = Identity.from_source(auth, form)
    return out


def read_done(ledger_conn: Any) -> dict[int, datetime] | None:
    """Ledger ids delivered or skipped as duplicates, with when; None when the ledger has no tables yet
    (the triage never creates them: it only reads)."""
    if ledger_conn.execute("SELECT to_regclass('form526_deliveries')").fetchone()[0] is None:
        return None
    rows = ledger_conn.execute(load_sql("ledger_done.sql", TRIAGE_SQL_DIR), {"states": list(DONE_STATES)})
    return {sid: naive_utc(at) for sid, _state, at in rows}
