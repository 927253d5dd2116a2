"""Daily triage: which submissions became failed in a window, and why, grouped by cause.

Modules, imported in one direction (each only from those above it):

* ``keys``      error text -> error key (EVSS parsing, what varies per occurrence stripped);
* ``identity``  a submission's identity values, scrubbed out of error text before a key is made;
* ``window``    the run's window and parameter checks;
* ``explain``   job rows and submission rows -> causes (bgjob_errors, backup rejection, established claims);
* ``aggregate`` causes -> groups, counts, trend and the Report (pandas);
* ``chart``     the trend PNG (matplotlib);
* ``outputs``   triage.csv, summary.json, the log table, publish;
* ``read``      the READ ONLY SQL reads (``sql/``);
* ``run``       ``run_triage``: one snapshot, then the report.

The DAG uses only the names re-exported here.
"""

from __future__ import annotations

import importlib
from typing import Any

from include.form526.config import DEFAULT_TRIAGE_SCHEDULE as DEFAULT_SCHEDULE
from include.form526.triage.explain import ANCILLARY_JOB_CLASSES, FAILING_STATUSES
from include.form526.triage.window import (
    DEFAULT_ALERT_THRESHOLD,
    TREND_DAYS,
    TriageParamError,
    Window,
    check_threshold_param,
    resolve_window,
)

# pandas and matplotlib load only when a task runs, not when the scheduler parses the DAG file
_LAZY = {"Report": "aggregate", "log_table": "outputs", "publish": "outputs", "summary_json": "outputs",
         "triage_csv": "outputs", "run_triage": "run"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ANCILLARY_JOB_CLASSES",
    "DEFAULT_ALERT_THRESHOLD",
    "DEFAULT_SCHEDULE",
    "FAILING_STATUSES",
    "TREND_DAYS",
    "Report",
    "TriageParamError",
    "Window",
    "check_threshold_param",
    "log_table",
    "publish",
    "resolve_window",
    "run_triage",
    "summary_json",
    "triage_csv",
]
