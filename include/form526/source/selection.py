"""Which Form 526 submissions count as failed: the SQL classifier and its helpers.

The classification itself lives in ``include/form526/source/sql/submission_state.sql`` (one SELECT,
usable as a CTE body) and follows vets-api ``lib/scopes/form526_submission_state.rb``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SQL_DIR = Path(__file__).resolve().parent / "sql"

STATES: tuple[str, ...] = ("success", "in_process", "pending_backup", "failed")
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
    as_of: datetime, pending_window_days: int = DEFAULT_PENDING_WINDOW_DAYS
) -> dict[str, Any]:
    """Bind parameters for ``SUBMISSION_STATE_SQL``."""
    return {"as_of": normalize_as_of(as_of), "pending_window_days": int(pending_window_days)}


def apply_source_schema(conn: Any) -> None:
    """Create the three vets-api source tables (idempotent) on a psycopg connection; the caller commits."""
    conn.execute(load_sql("source_schema.sql"))
