"""Names and defaults shared by the DAGs, the operator and the tools (no Airflow import)."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

SOURCE_CONN_ID = "form526_source"
"""Postgres holding the vets-api tables; used read-only."""

LEDGER_CONN_ID = "form526_ledger"
"""Postgres holding this pipeline's ledger (may be the same server as the source)."""

S3_CONN_ID = "form526_s3"
"""AWS connection for the delivery bucket (MinIO or moto via ``endpoint_url`` in its extra)."""

DEFAULT_BUCKET = "form526-backlog"
DEFAULT_KEY_PREFIX = "form526"
DEFAULT_BATCH_SIZE = 1000  # measured: bench/README.md (batch-size sweep)
MAX_BATCH_SIZE = 5000
MAX_MAPPED_BATCHES = 1000
"""Kept below Airflow's ``[core] max_map_length`` (1024 by default)."""

PENDING_WINDOW_DAYS = 21
"""vets-api's MAX_PENDING_TIME: a submission younger than this may still be in flight."""

# Deployment settings read from the environment (cheap, no I/O beyond os.environ), with defaults.

SWEEP_SCHEDULE = os.environ.get("FORM526_SWEEP_SCHEDULE", "0 2 * * *")
"""Cron of the scheduled backlog sweep (02:00 UTC daily); "none" turns the schedule off."""

TRIAGE_SCHEDULE = os.environ.get("FORM526_TRIAGE_SCHEDULE", "30 6 * * *")  # = triage.DEFAULT_SCHEDULE
"""Cron of the daily failure triage (06:30 UTC, after the sweep); "none" turns it off."""

SWEEP_MAX_SUBMISSIONS = int(os.environ["FORM526_SWEEP_MAX_SUBMISSIONS"]) if os.environ.get(
    "FORM526_SWEEP_MAX_SUBMISSIONS") else None
"""Default cap of a run (the scheduled sweep uses the defaults); unset = the whole remainder."""

BUCKET = os.environ.get("FORM526_BUCKET", DEFAULT_BUCKET)
KEY_PREFIX = os.environ.get("FORM526_KEY_PREFIX", DEFAULT_KEY_PREFIX)
TASK_RETRIES = int(os.environ.get("FORM526_TASK_RETRIES", "3"))
RETRY_DELAY_SECONDS = int(os.environ.get("FORM526_RETRY_DELAY_SECONDS", "60"))
MAX_RETRY_DELAY_SECONDS = int(os.environ.get("FORM526_MAX_RETRY_DELAY_SECONDS", "1800"))
MAX_ACTIVE_BATCHES = int(os.environ.get("FORM526_MAX_ACTIVE_BATCHES", "16"))
"""Mapped batch instances running at once per run (the old process held PDF generation to 32)."""
CLAIM_TTL_MINUTES = int(os.environ.get("FORM526_CLAIM_TTL_MINUTES", "30"))
"""How long a batch's claim on its submissions lasts; a dead worker's claims are taken again after it."""


def default_args(**extra: Any) -> dict[str, Any]:
    """Task defaults shared by the DAGs: retries with exponential backoff for transient trouble."""
    return {
        "owner": "form526-data-eng",
        "retries": TASK_RETRIES,
        "retry_delay": timedelta(seconds=RETRY_DELAY_SECONDS),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(seconds=MAX_RETRY_DELAY_SECONDS),
        **extra,
    }


def schedule(cron: str) -> str | None:
    """A deployment's cron setting; "none" (any case) means manual runs only."""
    return None if cron.strip().lower() == "none" else cron.strip()
