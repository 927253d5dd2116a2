"""The live Airflow of the end-to-end test: the shared launcher (tools/airflow_local.py) with the CeleryExecutor.

``LiveAirflow`` runs the API server, scheduler and DAG processor (the control plane) and one Celery
worker as separate processes, each in its own process group, with the metadata database in PostgreSQL
and Redis as the Celery broker: the CeleryExecutor set-up of ``docker-compose.yaml``, minus Docker.

The worker is set apart as if it ran on another machine: its own AIRFLOW_HOME, working directory and
TMPDIR, and the only process holding the pipeline's connections (``AIRFLOW_CONN_*``). Its task logs
reach the API server over the worker's log server, never through a shared folder.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

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

__all__ = ["ROOT", "Broker", "LiveAirflow", "Proc", "Unavailable", "files_under", "group_members", "start_broker",
           "start_proc", "stop_procs"]


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
