"""The Airflow Assets of the Form 526 pipeline, defined once for the DAGs that produce and read them."""

from __future__ import annotations

from airflow.sdk import Asset

REPORT_ASSET = Asset(name="form526_reconciliation_report", uri="form526://reconciliation-report", group="form526")
"""A backlog run's reconciliation report. ``reconcile`` emits one event per run, with the run id and the
report's S3 URIs in ``extra``; the triage declares it as an inlet. The URI names the report, not a place:
the bucket and prefix are per-run parameters, so the event's ``extra`` says where each report is."""
