"""Which Form 526 submissions count as failed: the SQL classifier and its helpers.

The classification itself lives in ``sql/submission_state.sql`` beside this module (one SELECT, usable as a
CTE body) and follows vets-api ``lib/scopes/form526_submission_state.rb``: failed requires
``submitted_claim_id IS NULL``; a claim id without a confirmed PDF is ``established_no_pdf``, not failed.
It also gives each row its ``veteran_key`` (credentials linked through ``user_account_id``) and whether a
claim was ``established`` for it, which dedup needs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SQL_DIR = Path(__file__).resolve().parent / "sql"

STATES: tuple[str, ...] = ("success", "established_no_pdf", "in_process", "pending_backup", "failed")
REMEDIATION_TYPES = {0: "manual", 1: "ignored_as_duplicate", 2: "email_notified"}  # vets-api enum
DEFAULT_PENDING_WINDOW_DAYS = 21


def load_sql(name: str, folder: Path = SQL_DIR) -> str:
    """Return the text of ``<folder>/<name>`` (a bare file name, e.g. 'submission_state.sql')."""
    if not name or Path(name).name != name:
        raise ValueError("load_sql expects a bare file name")
    return (folder / name).read_text(encoding="utf-8")


SUBMISSION_STATE_SQL: str = load_sql("submission_state.sql").strip()


def normalize_as_of(as_of: datetime) -> datetime:
    """Return ``as_of`` as a naive UTC datetime (the source tables store naive UTC)."""
    if as_of.tzinfo is not None:
        as_of = as_of.astimezone(UTC).replace(tzinfo=None)
    return as_of


def state_params(
    as_of: datetime, pending_window_days: int = DEFAULT_PENDING_WINDOW_DAYS, include_email_notified: bool = False
) -> dict[str, Any]:
    """Bind parameters for ``SUBMISSION_STATE_SQL``.

    ``include_email_notified``: vets-api counts a submission whose latest remediation is ``email_notified``
    as remediated (so not failed); true brings those back into the failure scope.
    """
    return {"as_of": normalize_as_of(as_of), "pending_window_days": int(pending_window_days),
            "include_email_notified": bool(include_email_notified)}


def apply_source_schema(conn: Any) -> None:
    """Create the vets-api source tables (idempotent) on a psycopg connection; the caller commits."""
    conn.execute(load_sql("source_schema.sql"))
