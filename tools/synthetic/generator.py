"""Synthetic Form 526 source data: vets-api tables filled with labelled, realistic submissions.

The public face of ``tools.synthetic`` (tests and tools import it as ``generator``):

* ``create_schema(conn)`` / ``apply_source_schema(conn)``: the source tables (+ label tables);
* ``seed(conn, n, seed=42, as_of=None, progress=None, *, batch_rows=5000, encrypt_with=None,
  kms_key_id=None)``: stream N labelled submissions (``seeding.py``);
* ``seed_backlog(conn, n_failed, seed=42, ..., evidence_share=0.4, success_share=0.2)``: a backlog-dominated
  database of exactly ``n_failed`` failed submissions, evidence from the pool (``backlog.py``, ``pool.py``);
* ``put_evidence(s3_client, bucket, conn_or_rows, seed=42, pool_size=3)``: the evidence objects;
* ``main(argv)``: the CLI (``cli.py``).

Modules: ``scenarios`` (stories, shares, plan), ``blobs`` (veterans, form_json, auth headers),
``errors`` (error catalogue), ``jobs`` (job status rows), ``remediations``, ``outcomes`` (one story
applied to one submission), ``evidence`` (form_attachments rows, S3 objects), ``encryption``
(Lockbox/KMS columns), ``labels`` (+ labels.sql: ground truth), ``writer`` (COPY), ``seeding``.
"""

from __future__ import annotations

from include.form526.source.selection import apply_source_schema
from tools.synthetic.backlog import evidence_summary, seed_backlog
from tools.synthetic.cli import main
from tools.synthetic.errors import ruby_inspect as _ruby_inspect
from tools.synthetic.evidence import EvidenceSummary, put_evidence
from tools.synthetic.labels import LABEL_COLS
from tools.synthetic.scenarios import (
    ACCEPTED,
    BENEFITS_INTAKE,
    CLAIMS_API,
    ESTABLISHED_NO_PDF,
    EVSS,
    FAILED,
    HISTORY_DAYS,
    IN_PROCESS,
    LABEL_STATES,
    LIGHTHOUSE_DAYS,
    PARANOID_SUCCESS,
    PENDING_BACKUP,
    REJECTED,
    SCENARIOS,
    SUCCESS,
)
from tools.synthetic.seeding import DEFAULT_BATCH_ROWS, SeedSummary, seed
from tools.synthetic.vocab import AWKWARD_FIRST_NAMES, AWKWARD_LAST_NAMES
from tools.synthetic.writer import create_schema

__all__ = [
    "ACCEPTED",
    "AWKWARD_FIRST_NAMES",
    "AWKWARD_LAST_NAMES",
    "BENEFITS_INTAKE",
    "CLAIMS_API",
    "DEFAULT_BATCH_ROWS",
    "ESTABLISHED_NO_PDF",
    "EVSS",
    "FAILED",
    "HISTORY_DAYS",
    "IN_PROCESS",
    "LABEL_COLS",
    "LABEL_STATES",
    "LIGHTHOUSE_DAYS",
    "PARANOID_SUCCESS",
    "PENDING_BACKUP",
    "REJECTED",
    "SCENARIOS",
    "SUCCESS",
    "EvidenceSummary",
    "SeedSummary",
    "_ruby_inspect",
    "apply_source_schema",
    "create_schema",
    "evidence_summary",
    "main",
    "put_evidence",
    "seed",
    "seed_backlog",
]
