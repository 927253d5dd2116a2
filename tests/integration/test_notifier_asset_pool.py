"""Airflow-native wiring of both DAGs: the failure notifier, the report Asset and the vets-api pool.

The notifier is driven through its one setting (FORM526_ALERT_NOTIFIERS) to Airflow's own SmtpNotifier and
a local SMTP sink, so the test sees exactly what a team's mailbox would. The Asset event and the pool are
read back from Airflow's metadata database after ``dag.test``.
"""

from __future__ import annotations

import logging

import pytest

from include.form526 import config
from tests import helpers as h
from tests.integration.smtp_sink import SmtpSink

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BACKLOG = "form526_backlog_resubmission"
TRIAGE = "form526_failure_triage"
SOURCE_READERS = {BACKLOG: {"extract", "build_and_deliver", "reconcile"}, TRIAGE: {"triage"}}
# an unknown parameter whose NAME looks like data: the exception message repeats it, the alert must not
SECRET_LOOKING_KEY = "ssn_123456789"


@pytest.fixture
def sink(monkeypatch):
    with SmtpSink() as server:
        monkeypatch.setenv("AIRFLOW_CONN_FORM526_ALERT_SMTP", server.connection_json())
        yield server


@pytest.fixture
def notifier_log():
    """Records of the notifier's own logger (Airflow's logging set-up decides where the task log prints)."""
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    logger, handler = logging.getLogger("form526_notifier"), Keep(logging.INFO)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def test_a_failed_task_sends_one_pii_free_alert_through_the_setting(sink, airflow_db, monkeypatch, notifier_log):
    monkeypatch.setenv(config.ALERT_NOTIFIERS_ENV,
                       '[{"type": "slack", "channel": "#form526"},'
                       ' {"type": "smtp", "conn_id": "form526_alert_smtp", "to": "team@example.gov"}]')
    # resolve_window fails with AirflowFailException("unknown parameter(s): ssn_123456789; ...")
    run_id, state, tis, _ = h.run_dag(TRIAGE, {SECRET_LOOKING_KEY: 1})
    assert state == "failed" and tis["resolve_window"] == "failed"

    [mail] = sink.messages  # one alert: the upstream_failed tasks did not run, so they send none
    assert mail["to"] == "team@example.gov"
    assert mail["subject"] == f"[form526] {TRIAGE}.resolve_window failed"
    body = sink.bodies()[0]
    expected = (f"form526 alert: task failed dag_id={TRIAGE} task_id=resolve_window run_id={run_id} map_index=-1 "
                "try_number=1 exception=AirflowFailException")
    assert expected in body
    assert SECRET_LOOKING_KEY not in body  # the exception's message names the key; the alert does not
    assert [line for line in notifier_log if "form526 alert:" in line] == [expected]
    assert any("slack" in line and "not installed" in line for line in notifier_log)  # skipped, smtp still sent
    assert not any(SECRET_LOOKING_KEY in line for line in notifier_log)


def test_a_broken_setting_is_a_warning_and_never_raises(airflow_db, notifier_log):
    from form526_notifier import Form526FailureNotifier, NotifierSettingError, parse_notifiers

    for bad in ('{"type": "smtp"}', '[{"type": "pager"}]', '[{"type": "smtp"}]', "not json",
                '[{"type": "smtp", "to": "team@example.gov", "password": "x"}]'):
        with pytest.raises(NotifierSettingError):
            parse_notifiers(bad)
        assert Form526FailureNotifier(bad).forward("form526 alert: test", {}) == 0
    assert sum("alert not forwarded" in line for line in notifier_log) == 5
    assert parse_notifiers("") == [] and parse_notifiers(None) == []


def test_every_task_of_both_dags_alerts_through_the_notifier(airflow_db):
    for dag_id in (BACKLOG, TRIAGE):
        for task in h.get_dag(dag_id).tasks:
            callbacks = task.on_failure_callback if isinstance(task.on_failure_callback, list) else [
                task.on_failure_callback]
            assert [type(c).__name__ for c in callbacks] == ["Form526FailureNotifier"], (dag_id, task.task_id)


def test_tasks_that_read_vets_api_use_the_source_pool(airflow_db):
    for dag_id, readers in SOURCE_READERS.items():
        pools = {t.task_id: t.pool for t in h.get_dag(dag_id).tasks}
        assert {t for t, p in pools.items() if p == config.SOURCE_DB_POOL} == readers, pools


def test_triage_declares_the_report_asset_and_keeps_its_cron(airflow_db):
    from form526_assets import REPORT_ASSET

    dag = h.get_dag(TRIAGE)
    assert dag.get_task("triage").inlets == [REPORT_ASSET]
    assert h.get_dag(BACKLOG).get_task("reconcile").outlets == [REPORT_ASSET]
    assert "Asset" not in type(dag.timetable).__name__  # still a cron schedule (or none), not asset-triggered


def test_reconcile_emits_the_report_asset_event_with_the_report_uris(services, airflow_db):
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    from include.form526.scope import run_key

    h.reset_databases(services)
    h.empty_bucket(services)
    h.seed(services, 150, seed=3)
    conf = {"batch_size": 1, "max_submissions": 3, "tolerated_failure_percent": 100}  # three mapped batches
    run_id, state, tis, _ = h.run_dag(BACKLOG, conf)
    assert state == "success", tis
    _, summary = h.report_of(services, run_key(run_id))

    with create_session() as session:
        events = (session.query(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                  .filter(AssetModel.name == "form526_reconciliation_report", AssetEvent.source_run_id == run_id)
                  .all())
        extras = [(e.source_task_id, e.extra) for e in events]
        pools = {(ti.task_id, ti.map_index): ti.pool for ti in session.query(TaskInstance).filter(
            TaskInstance.dag_id == BACKLOG, TaskInstance.run_id == run_id)}
    assert extras == [("reconcile", {"run_id": run_id, "report_keys": summary["report_keys"]})]
    keys = h.list_keys(services)
    assert {"reconciliation", "summary", "remaining"} <= set(summary["report_keys"])
    for uri in summary["report_keys"].values():
        assert uri.removeprefix(f"s3://{h.BUCKET}/") in keys
    # the pool is recorded on every task instance that read vets-api (each mapped batch included)
    assert {t for (t, _), p in pools.items() if p == config.SOURCE_DB_POOL} == SOURCE_READERS[BACKLOG]
    assert len([k for k in pools if k[0] == "build_and_deliver"]) > 1
