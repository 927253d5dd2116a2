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

KMS_CONN_ID = "form526_kms"
"""AWS connection for KMS in source mode ``encrypted``: ``kms:Decrypt`` on vets-api's one CMK, nothing else."""

LOCKBOX_MASTER_KEY_CONN_ID = "form526_lockbox_master_key"
"""Optional: a connection whose password is Lockbox's legacy master key (64 hex characters). Only for rows never
moved to KMS (vets-api says none are left); without it the legacy fallback is off."""

SOURCE_MODE = os.environ.get("FORM526_SOURCE_MODE", "plaintext").strip().lower()
"""``plaintext``: read the stand-in plaintext columns (tests, demo, a decrypted replica). ``encrypted``: read
vets-api's ``*_ciphertext`` columns and decrypt them in the task through ``form526_kms``."""

EVIDENCE_CONN_ID = "form526_evidence"
"""AWS connection for vets-api's upload bucket (the veteran's evidence); read-only (s3:GetObject and
s3:ListBucket on ``disability_compensation_supporting_form/``)."""

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

DEFAULT_TRIAGE_SCHEDULE = "30 6 * * *"
"""The failure triage's cron when FORM526_TRIAGE_SCHEDULE is unset (re-exported as triage.DEFAULT_SCHEDULE)."""

TRIAGE_SCHEDULE = os.environ.get("FORM526_TRIAGE_SCHEDULE", DEFAULT_TRIAGE_SCHEDULE)
"""Cron of the daily failure triage (06:30 UTC, after the sweep); "none" turns it off."""

SWEEP_MAX_SUBMISSIONS = int(os.environ["FORM526_SWEEP_MAX_SUBMISSIONS"]) if os.environ.get(
    "FORM526_SWEEP_MAX_SUBMISSIONS") else None
"""Default cap of a run (the scheduled sweep uses the defaults); unset = the whole remainder."""

BUCKET = os.environ.get("FORM526_BUCKET", DEFAULT_BUCKET)


def _bucket_list(value: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(b.strip() for b in (value or "").split(",") if b.strip()))
    return names or default


ALLOWED_BUCKETS = _bucket_list(os.environ.get("FORM526_ALLOWED_BUCKETS"), (BUCKET,))
"""The only buckets a run may write packages, manifests, reports and hand-off URLs to (the trigger form offers
exactly these). Default: the deployment bucket alone. Whoever can trigger a run must not choose where PII goes."""
ALLOWED_INPUT_BUCKETS = _bucket_list(os.environ.get("FORM526_ALLOWED_INPUT_BUCKETS"), ALLOWED_BUCKETS)
"""Buckets an id list (``submission_ids_s3_uri``) may be read from. Default: the allowed buckets."""
KEY_PREFIX = os.environ.get("FORM526_KEY_PREFIX", DEFAULT_KEY_PREFIX)
TASK_RETRIES = int(os.environ.get("FORM526_TASK_RETRIES", "3"))
RETRY_DELAY_SECONDS = int(os.environ.get("FORM526_RETRY_DELAY_SECONDS", "60"))
MAX_RETRY_DELAY_SECONDS = int(os.environ.get("FORM526_MAX_RETRY_DELAY_SECONDS", "1800"))
MAX_ACTIVE_BATCHES = int(os.environ.get("FORM526_MAX_ACTIVE_BATCHES", "16"))
"""Mapped batch instances running at once per run (the old process held PDF generation to 32)."""
EVIDENCE_BUCKET = os.environ.get("FORM526_EVIDENCE_BUCKET", "").strip()
"""vets-api's upload bucket (Settings.evss.s3.bucket). Empty: evidence is not fetched, and every upload is
listed as not included (``evidence_not_configured``) in the package and the report."""
EVIDENCE_MAX_BYTES = int(os.environ.get("FORM526_EVIDENCE_MAX_BYTES", str(100 * 1024 * 1024)))
EVIDENCE_MAX_PIXELS = int(os.environ.get("FORM526_EVIDENCE_MAX_PIXELS", "64000000"))
EVIDENCE_MAX_PAGES = int(os.environ.get("FORM526_EVIDENCE_MAX_PAGES", "2000"))
SPOOL_BYTES = int(os.environ.get("FORM526_SPOOL_BYTES", str(8 * 1024 * 1024)))
"""Evidence files and packages are held in memory up to this size, then in an unlinked temporary file."""
UPLOAD_AHEAD = int(os.environ.get("FORM526_UPLOAD_AHEAD", "2"))
"""Packages a batch uploads in the background while it renders the next ones (0: one at a time). Each holds
up to ``SPOOL_BYTES`` of memory until S3 confirmed it."""
MULTIPART_THRESHOLD_BYTES = int(os.environ.get("FORM526_MULTIPART_THRESHOLD_BYTES", str(32 * 1024 * 1024)))
CLAIM_TTL_MINUTES = int(os.environ.get("FORM526_CLAIM_TTL_MINUTES", "30"))
BATCH_TIMEOUT_MINUTES = float(os.environ.get("FORM526_BATCH_TIMEOUT_MINUTES", "180"))
"""``execution_timeout`` of one mapped batch. Budget at the defaults: 1,000 typical packages take ~25 s of
rendering; a package at the evidence limits (100 MiB per file, 2,000 pages) takes minutes. A batch past
this budget is stopped, its claims are released, and the retry or the next run takes it up."""
"""How long a batch's claim on its submissions lasts; a dead worker's claims are taken again after it."""
SOURCE_DB_POOL = os.environ.get("FORM526_SOURCE_DB_POOL", "form526_source_db")
"""Airflow pool of every task that reads the vets-api database (both DAGs): it caps concurrent readers."""
SOURCE_DB_POOL_SLOTS = int(os.environ.get("FORM526_SOURCE_DB_POOL_SLOTS", str(MAX_ACTIVE_BATCHES)))
"""Slots the project gives that pool where it creates it (compose init, demo, launchers). The default does not
throttle one backlog run below its own cap; lower it to spare the read replica."""
SOURCE_DB_POOL_DESCRIPTION = "form526: tasks reading the vets-api database (one slot = one connection)"
DEFAULT_S3_CONSOLE_URL_TEMPLATE = "https://console.aws.amazon.com/s3/{view}/{bucket}?prefix={key}"
S3_CONSOLE_URL_TEMPLATE = (os.environ.get("FORM526_S3_CONSOLE_URL_TEMPLATE", "").strip()
                           or DEFAULT_S3_CONSOLE_URL_TEMPLATE)
"""Target of the tasks' extra links to what they wrote on S3 (plugins/form526_links.py), read by the API server.
Placeholders: {bucket}; {key} (percent-encoded); {key_b64} (base64, as the MinIO console's /browser/ paths want);
{view}: ``object`` for one object, ``buckets`` for a prefix (the AWS console's object page and folder listing)."""
BATCH_PREFIX_XCOM_KEY = "form526_s3_prefix"
"""XCom key under which a mapped batch pushes its S3 folder (``s3://bucket/.../batch-NNNN/``), for its extra link."""
ALERT_NOTIFIERS_ENV = "FORM526_ALERT_NOTIFIERS"
"""JSON list of the notifiers a failed task's alert goes to (plugins/form526_notifier.py), e.g.
[{"type": "smtp", "conn_id": "smtp_default", "to": "team@example.gov"}]; read when a task fails."""


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
