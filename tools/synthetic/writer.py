"""Database side of the generator: schema, id start values, streamed COPY, sequences."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg

from include.form526.source.selection import apply_source_schema, load_sql

SUB_COLS = ("id", "user_uuid", "saved_claim_id", "submitted_claim_id", "workflow_complete", "created_at",
            "updated_at", "multiple_birls", "auth_headers_json", "form_json", "birls_ids_tried",
            "encrypted_kms_key", "user_account_id", "backup_submitted_claim_id", "aasm_state", "submit_endpoint",
            "backup_submitted_claim_status", "needs_kms_rotation", "form_json_ciphertext",
            "auth_headers_json_ciphertext", "birls_ids_tried_ciphertext")
JOB_COLS = ("id", "form526_submission_id", "job_id", "job_class", "status", "error_class", "error_message",
            "updated_at", "bgjob_errors")
REM_COLS = ("id", "form526_submission_id", "lifecycle", "success", "ignored_as_duplicate", "created_at",
            "updated_at", "remediation_type")
ACCOUNT_COLS = ("id", "icn", "created_at", "updated_at")
ATTACHMENT_COLS = ("id", "guid", "type", "file_data", "file_data_ciphertext", "encrypted_kms_key",
                   "needs_kms_rotation", "created_at", "updated_at")
SERIAL_TABLES = ("form526_submissions", "form526_job_statuses", "form526_submission_remediations",
                 "form_attachments")
SEEDED_TABLES = ("form526_submissions", "form526_job_statuses", "form526_submission_remediations",
                 "user_accounts", "form_attachments", "synthetic.submission_labels")


def create_schema(conn: psycopg.Connection) -> None:
    """Create the vets-api source tables and the ``synthetic`` label tables (idempotent)."""
    apply_source_schema(conn)
    conn.execute(load_sql("labels.sql", Path(__file__).resolve().parent))


def start_values(conn: psycopg.Connection) -> dict[str, int]:
    """First free id of every table the generator fills (seeding twice appends)."""
    row = conn.execute(
        "SELECT (SELECT coalesce(max(id), 0) FROM form526_submissions),"
        " (SELECT coalesce(max(id), 0) FROM form526_job_statuses),"
        " (SELECT coalesce(max(id), 0) FROM form526_submission_remediations),"
        " (SELECT coalesce(max(saved_claim_id), 0) FROM form526_submissions),"
        " (SELECT coalesce(max(submitted_claim_id), 0) FROM form526_submissions),"
        " (SELECT coalesce(max(submission_id), 0) FROM synthetic.submission_labels),"
        " (SELECT coalesce(max(id), 0) FROM form_attachments)"
    ).fetchone()
    assert row is not None
    return {"sub": max(row[0], row[5]) + 1, "job": row[1] + 1, "rem": row[2] + 1,
            "saved": max(row[3], 100_000) + 1, "claim": max(row[4], 600_000_000), "attachment": row[6] + 1}


def copy_rows(cur: psycopg.Cursor, table: str, cols: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """COPY ``rows`` into ``table`` (nothing to do for an empty list)."""
    if not rows:
        return
    with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)


def finish(conn: psycopg.Connection) -> None:
    """Move serial sequences past the explicit ids and refresh planner statistics."""
    for table in SERIAL_TABLES:
        conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                     f" (SELECT coalesce(max(id), 1) FROM {table}))")
    conn.execute("ANALYZE " + ", ".join(SEEDED_TABLES))
