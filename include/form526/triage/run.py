"""``run_triage``: the reads in one READ ONLY snapshot, then the report. Nothing is written anywhere."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from include.form526.config import PENDING_WINDOW_DAYS
from include.form526.source.decryption import RowDecryptor
from include.form526.source.extraction import read_only
from include.form526.triage.aggregate import Report, build_report
from include.form526.triage.read import read_ancillary, read_done, read_identities, read_job_rows, read_states
from include.form526.triage.window import TREND_DAYS, Window


def run_triage(source_conn: Any, ledger_conn: Any, window: Window, *, alert_threshold: int | None, run_id: str = "",
               pending_window_days: int = PENDING_WINDOW_DAYS, trend_days: int = TREND_DAYS,
               decryptor: RowDecryptor | None = None) -> Report:
    """Read the source (one READ ONLY, REPEATABLE READ snapshot) and the ledger (read only) and build
    the report. ``decryptor`` (source mode ``encrypted``) reads the identities to scrub from the
    ciphertext columns."""
    trend_start = datetime.combine(window.last_day - timedelta(days=trend_days - 1), time())
    with read_only(source_conn):
        source_conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        failed, established = read_states(source_conn, window.judged_as_of, pending_window_days)
        new_ids = [f.id for f in failed if window.contains(f.failed_at)]
        job_rows = list(read_job_rows(source_conn, new_ids))
        ancillary = list(read_ancillary(source_conn, min(window.start, trend_start), window.end,
                                        window.judged_as_of, pending_window_days))
        in_window = [r.submission_id for r in ancillary if window.contains(r.updated_at)]
        identities = read_identities(source_conn, new_ids + in_window, decryptor)
    with read_only(ledger_conn):
        done = read_done(ledger_conn)
    return build_report(window, failed, job_rows, ancillary, done, established=established, identities=identities,
                        alert_threshold=alert_threshold, run_id=run_id, trend_days=trend_days)
