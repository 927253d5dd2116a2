"""The benchmark's Airflow: the shared launcher (tools/airflow_local.py) with the benchmark's defaults.

LocalExecutor (tasks are the scheduler's children, so they hold the connections), parallelism 2, no task
retries (a failed task should fail the measurement, not wait for a retry), and the backlog DAG unpaused
as soon as it is registered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tools.airflow_local import BACKLOG_DAG_ID, Proc, parse_ts, start_proc, stop_procs
from tools.airflow_local import LocalAirflow as _LocalAirflow

__all__ = ["DAG_ID", "LocalAirflow", "Proc", "parse_ts", "start_proc", "stop_procs"]

DAG_ID = BACKLOG_DAG_ID


@dataclass
class LocalAirflow(_LocalAirflow):
    parallelism: int = 2
    username: str = "bench"
    extra_env: dict[str, str] = field(default_factory=lambda: {"FORM526_TASK_RETRIES": "0"})

    def wait_for_dag(self, timeout: float = 180.0, unpause: bool = True) -> dict[str, Any]:
        return super().wait_for_dag(timeout, unpause)
