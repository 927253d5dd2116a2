"""The live Airflow of the end-to-end test: the shared launcher (tools/airflow_local.py) with the CeleryExecutor.

``LiveAirflow`` runs the API server, scheduler and DAG processor (the control plane) and one Celery
worker as separate processes, each in its own process group, with the metadata database in PostgreSQL
and Redis as the Celery broker: the CeleryExecutor set-up of ``docker-compose.yaml``, minus Docker.

The worker is set apart as if it ran on another machine: its own AIRFLOW_HOME, working directory and
TMPDIR, and the only process holding the pipeline's connections (``AIRFLOW_CONN_*``). Its task logs
reach the API server over the worker's log server, never through a shared folder.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tools.airflow_local import (
    ROOT,
    Broker,
    LocalAirflow,
    Proc,
    Unavailable,
    group_members,
    start_broker,
    start_proc,
    stop_procs,
)

__all__ = [
    "BACKLOG_DAG_ID",
    "BATCH_SIZE",
    "ROOT",
    "RUN_TIMEOUT",
    "TRIAGE_DAG_ID",
    "Broker",
    "LiveAirflow",
    "N",
    "Proc",
    "Unavailable",
    "console_template",
    "files_under",
    "group_members",
    "in_ci",
    "skip_or_fail",
    "start_broker",
    "start_proc",
    "stop_procs",
]

BACKLOG_DAG_ID = "form526_backlog_resubmission"
TRIAGE_DAG_ID = "form526_failure_triage"
N = 1200
"""Submissions seeded for the e2e backlog run."""
BATCH_SIZE = 40
RUN_TIMEOUT = 300


def in_ci() -> bool:
    """CI sets CI=true (``.ci/run`` does too): there a missing tool fails the run instead of skipping it."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def skip_or_fail(reason: str) -> None:
    """Skip locally; in CI a test that cannot run is a failure (a skipped e2e test would hide a broken set-up)."""
    print(f"cannot run: {reason}")
    if in_ci():
        pytest.fail(f"{reason} (CI=true: .ci/run installs what the e2e tests need)")
    pytest.skip(reason)


def console_template(services) -> str:
    """The live Airflow's S3 link template: path-style S3 on the session's server with a ``?prefix=`` listing,
    so a browser that follows an extra link sees the objects the task wrote."""
    return f"{services.s3_endpoint}/{{bucket}}?prefix={{key}}"


@dataclass
class LiveAirflow(LocalAirflow):
    """CeleryExecutor, two worker slots, parallelism 4; ``broker_url`` from ``start_broker``."""

    executor: str = "CeleryExecutor"
    username: str = "form526-e2e"
    queue: str = field(default_factory=lambda: f"form526-e2e-{uuid.uuid4().hex[:8]}")


def files_under(*dirs: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """Files with one of ``suffixes`` anywhere under ``dirs`` (missing dirs are empty)."""
    out = []
    for d in dirs:
        if d.exists():
            out += [p for p in d.rglob("*") if p.is_file() and p.suffix.lower() in suffixes]
    return out
