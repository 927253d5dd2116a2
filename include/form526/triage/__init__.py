"""Daily triage: which submissions became failed in a window, and why, grouped by cause.

The DAG uses only the names re-exported here.
"""

from include.form526.triage.triage import (
    ANCILLARY_JOB_CLASSES,
    DEFAULT_ALERT_THRESHOLD,
    DEFAULT_SCHEDULE,
    FAILING_STATUSES,
    TREND_DAYS,
    TriageParamError,
    Window,
    check_threshold_param,
    log_table,
    publish,
    resolve_window,
    run_triage,
)

__all__ = [
    "ANCILLARY_JOB_CLASSES",
    "DEFAULT_ALERT_THRESHOLD",
    "DEFAULT_SCHEDULE",
    "FAILING_STATUSES",
    "TREND_DAYS",
    "TriageParamError",
    "Window",
    "check_threshold_param",
    "log_table",
    "publish",
    "resolve_window",
    "run_triage",
]
