"""The failure triage DAG with dag.test(): seeded source, a ledger with deliveries, S3 over HTTP.

One wide window covers every seeded submission, so "became failed in the window" is "failed" and the
report can be checked against SQL written here (and the generator's labels), not against the triage
code: the grouping, distinct veterans, the ancillary section and the backlog. A second run over an
empty window must say so and succeed.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from collections import Counter
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from include.form526.delivery import ledger
from include.form526.source.extraction import read_only
from include.form526.source.selection import SUBMISSION_STATE_SQL, state_params
from include.form526.triage import triage
from tests import helpers as h
from tools.synthetic import generator as synthetic

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAG_ID = "form526_failure_triage"
N = 1500
UUID_RE = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
FAILING = list(triage.FAILING_STATUSES)
ANCILLARY = list(triage.ANCILLARY_JOB_CLASSES)
TODAY = datetime.now(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
# Seed one second before midnight and end the window at midnight: every timestamp the generator
# writes (it clips them to as_of) falls inside the window, and judging failures at midnight instead
# of one second earlier changes no submission's state.
SEED_AS_OF = TODAY - timedelta(seconds=1)
WINDOW = {"window_start": (TODAY - timedelta(days=synthetic.HISTORY_DAYS + 30)).date().isoformat(),
          "window_end": TODAY.date().isoformat()}


def record_alert(context) -> None:
    """Stands in for a deployment's e-mail/Slack hook (FORM526_TRIAGE_ALERT_CALLBACK)."""
    with open(os.environ["FORM526_TEST_ALERT_FILE"], "a") as f:
        f.write(f"{context['task_instance'].task_id}\n")


def _report(services, date: str) -> tuple[list[dict[str, str]], dict]:
    base = f"form526/triage/{date}/"
    rows = list(csv.DictReader(io.StringIO(h.get_bytes(services, base + "triage.csv").decode())))
    return rows, json.loads(h.get_bytes(services, base + "summary.json"))


def _seed_ledger(services, failed: list[int], success: list[int]) -> None:
    """Deliveries of an earlier backlog run: uploaded, duplicate and failed rows (two days ago)."""
    done_at = TODAY - timedelta(days=2)
    with psycopg.connect(services.ledger_dsn, autocommit=True) as conn:
        ledger.migrate(conn)
        rows = ([(sid, "uploaded", done_at, done_at) for sid in failed[:12] + success[:3]]
                + [(sid, "duplicate", None, done_at) for sid in failed[12:17]]
                + [(sid, "failed", None, done_at) for sid in failed[17:22]])
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO form526_deliveries (submission_id, state, uploaded_at, updated_at,"
                            " first_run_id, last_run_id) VALUES (%s, %s, %s, %s, 'earlier', 'earlier')", rows)


@pytest.fixture(scope="module")
def seeded(services, airflow_db, tmp_path_factory):
    h.reset_databases(services)
    h.empty_bucket(services)
    with psycopg.connect(services.source_dsn) as conn:
        synthetic.seed(conn, N, seed=23, as_of=SEED_AS_OF)
    lab = h.labels(services)
    failed = sorted(s for s, v in lab.items() if v["state"] == "failed")
    success = sorted(s for s, v in lab.items() if v["state"] == "success")
    _seed_ledger(services, failed, success)
    return {"labels": lab, "failed": failed}


@pytest.fixture(scope="module")
def wide_run(seeded, services, tmp_path_factory):
    alert_file = tmp_path_factory.mktemp("alerts") / "alerts.txt"
    saved = {k: os.environ.get(k) for k in ("FORM526_TRIAGE_ALERT_CALLBACK", "FORM526_TEST_ALERT_FILE")}
    os.environ.update(FORM526_TRIAGE_ALERT_CALLBACK="tests.integration.test_triage_dag:record_alert",
                      FORM526_TEST_ALERT_FILE=str(alert_file))
    h.get_dag(DAG_ID)  # Airflow configures logging once, on first use: add the capture after that
    records, root = _Records(), logging.getLogger()
    level = root.level
    root.addHandler(records)
    root.setLevel(logging.INFO)
    try:
        run_id, state, tis, _ = h.run_dag(DAG_ID, {**WINDOW, "alert_threshold": 10})
    finally:
        root.removeHandler(records)
        root.setLevel(level)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    rows, summary = _report(services, WINDOW["window_end"])
    alerts = alert_file.read_text().split() if alert_file.exists() else []
    return {"run_id": run_id, "state": state, "tis": tis, "rows": rows, "summary": summary, "alerts": alerts,
            "log": "\n".join(records.lines)}


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _source(services, sql: str, params: dict | None = None) -> list[tuple]:
    with psycopg.connect(services.source_dsn) as conn:
        return conn.execute(sql, params or {}).fetchall()


_FAILED_CTE = ("WITH failed AS (SELECT submission_id AS id FROM synthetic.submission_labels"
               " WHERE expected_state = 'failed')")


def test_run_writes_the_report_and_alerts_over_threshold(wide_run, services):
    assert wide_run["tis"]["resolve_window"] == "success"
    assert wide_run["tis"]["triage"] == "success"
    assert wide_run["tis"]["check_threshold"] == "failed"
    assert wide_run["state"] == "failed"
    assert wide_run["alerts"] == ["check_threshold"]
    keys = h.list_keys(services, prefix=f"form526/triage/{WINDOW['window_end']}/")
    assert set(keys) == {f"form526/triage/{WINDOW['window_end']}/{n}"
                         for n in ("triage.csv", "summary.json", "trend.png")}
    s3 = services.boto3_client()
    for key in keys:
        assert s3.head_object(Bucket=h.BUCKET, Key=key)["ServerSideEncryption"] == "AES256"
    png = h.get_bytes(services, f"form526/triage/{WINDOW['window_end']}/trend.png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    summary = wide_run["summary"]
    assert summary["over_threshold"] is True and summary["alert_threshold"] == 10
    assert summary["empty"] is False
    assert summary["date"] == WINDOW["window_end"]


def test_new_failures_are_the_failed_submissions_with_distinct_veterans(wide_run, seeded, services):
    expected = set(seeded["failed"])
    veterans = {seeded["labels"][s]["user"] for s in expected}
    new = wide_run["summary"]["new_failures"]
    assert new["submissions"] == len(expected)
    assert new["veterans"] == len(veterans)
    assert new["by_path"]["primary"] == len(expected)  # every failed submission is explained at least once
    examples = {int(i) for r in wide_run["rows"] if r["section"] == "new_failure"
                for i in r["example_submission_ids"].split()}
    assert examples <= expected


def test_job_failure_groups_match_independent_sql(wide_run, services):
    """Partition the failing primary/backup job rows by (job class, error class, message with GUIDs and
    digits removed in SQL): the report's groups must be the same partition, counts and veterans alike."""
    sql = f"""{_FAILED_CTE}
    SELECT j.job_class, coalesce(j.error_class, ''),
           regexp_replace(regexp_replace(j.error_message, %(uuid)s, '', 'g'), '[0-9]', '', 'g') AS norm,
           count(DISTINCT j.form526_submission_id), count(DISTINCT s.user_uuid), count(*)
    FROM form526_job_statuses j
    JOIN failed f ON f.id = j.form526_submission_id
    JOIN form526_submissions s ON s.id = j.form526_submission_id
    WHERE j.status = ANY(%(failing)s) AND NOT (j.job_class = ANY(%(ancillary)s))
    GROUP BY 1, 2, 3"""
    expected = sorted((r[0], r[1], r[3], r[4], r[5])
                      for r in _source(services, sql, {"uuid": UUID_RE, "failing": FAILING, "ancillary": ANCILLARY}))
    got = sorted((r["job_class"], r["error_class"], int(r["submissions"]), int(r["veterans"]), int(r["job_failures"]))
                 for r in wide_run["rows"]
                 if r["section"] == "new_failure" and r["job_class"] and r["job_class"] != "Form526StatusPollingJob")
    assert got == expected
    assert len(expected) >= 10


def test_messages_differing_only_in_guids_and_digits_share_a_key(wide_run, services):
    rows = [r for r in wide_run["rows"] if r["section"] == "new_failure"]
    for needle in ("System error with BGS", "Outage detected on EVSS"):
        distinct_raw = _source(services, f"""{_FAILED_CTE}
            SELECT count(DISTINCT j.error_message), count(DISTINCT j.form526_submission_id)
            FROM form526_job_statuses j JOIN failed f ON f.id = j.form526_submission_id
            WHERE j.job_class = 'SubmitForm526AllClaim' AND j.status = ANY(%(failing)s)
              AND j.error_message LIKE %(like)s""", {"failing": FAILING, "like": f"%{needle}%"})[0]
        matching = [r for r in rows if needle in r["error_key"]]
        assert distinct_raw[0] > 1, f"seed gives several raw messages for {needle}"
        assert len(matching) == 1, [r["error_key"] for r in matching]
        assert int(matching[0]["submissions"]) == distinct_raw[1]
        assert not any(c.isdigit() for c in matching[0]["error_key"].replace("form526", ""))


def test_different_causes_get_different_keys(wide_run, services):
    """The same EVSS key (serviceError) with different texts, and different EVSS keys, stay apart."""
    rows = [r for r in wide_run["rows"] if r["section"] == "new_failure"]
    texts = _source(services, f"""{_FAILED_CTE}
        SELECT DISTINCT regexp_replace(regexp_replace(j.error_message, %(uuid)s, '', 'g'), '[0-9]', '', 'g')
        FROM form526_job_statuses j JOIN failed f ON f.id = j.form526_submission_id
        WHERE j.status = ANY(%(failing)s) AND j.error_message LIKE '%%serviceError%%'""",
                    {"uuid": UUID_RE, "failing": FAILING})
    service_error_keys = {r["error_key"] for r in rows if "serviceError" in r["error_key"]}
    assert len(service_error_keys) == len(texts) >= 3
    evss_keys = {r["error_key"].split(":")[0] for r in rows if r["error_key"].startswith("form526.")}
    assert {"form526.submit.save.draftForm.PIFInUse", "form526.submit.establishClaim.serviceError"} <= evss_keys


def test_backup_rejections_are_explained_by_their_downstream_reason(wide_run, services):
    sql = f"""{_FAILED_CTE}
    SELECT regexp_replace(e.value->>'error_message', '[0-9]', '', 'g'), count(DISTINCT j.form526_submission_id)
    FROM form526_job_statuses j JOIN failed f ON f.id = j.form526_submission_id
    JOIN form526_submissions s ON s.id = j.form526_submission_id
    CROSS JOIN LATERAL jsonb_each(j.bgjob_errors) e
    WHERE j.job_class = 'Form526StatusPollingJob' AND s.backup_submitted_claim_status = 1
    GROUP BY 1"""
    expected = sorted(n for _, n in _source(services, sql))
    got = sorted(int(r["submissions"]) for r in wide_run["rows"]
                 if r["section"] == "new_failure" and r["job_class"] == "Form526StatusPollingJob")
    assert got == expected and expected


def test_ancillary_failures_have_their_own_section(wide_run, seeded, services):
    rows = wide_run["rows"]
    assert not any(r["job_class"] in ANCILLARY for r in rows if r["section"] == "new_failure")
    sql = """SELECT j.job_class, coalesce(j.error_class, ''),
                    regexp_replace(j.error_message, '[0-9]', '', 'g'),
                    count(DISTINCT j.form526_submission_id), count(DISTINCT s.user_uuid), count(*)
             FROM form526_job_statuses j JOIN form526_submissions s ON s.id = j.form526_submission_id
             WHERE j.job_class = ANY(%(ancillary)s) AND j.status = ANY(%(failing)s)
               AND j.updated_at >= %(start)s AND j.updated_at < %(end)s
             GROUP BY 1, 2, 3"""
    params = {"ancillary": ANCILLARY, "failing": FAILING, "start": datetime.fromisoformat(WINDOW["window_start"]),
              "end": TODAY}
    groups = _source(services, sql, params)
    expected = sorted((r[0], r[1], r[3], r[4], r[5]) for r in groups)
    got = sorted((r["job_class"], r["error_class"], int(r["submissions"]), int(r["veterans"]), int(r["job_failures"]))
                 for r in rows if r["section"] == "ancillary")
    assert got == expected and expected
    totals = _source(services, """
        SELECT count(*), count(DISTINCT j.form526_submission_id), count(DISTINCT s.user_uuid),
               count(DISTINCT j.form526_submission_id) FILTER (WHERE l.expected_state = 'success')
        FROM form526_job_statuses j JOIN form526_submissions s ON s.id = j.form526_submission_id
        JOIN synthetic.submission_labels l ON l.submission_id = j.form526_submission_id
        WHERE j.job_class = ANY(%(ancillary)s) AND j.status = ANY(%(failing)s)
          AND j.updated_at >= %(start)s AND j.updated_at < %(end)s""", params)[0]
    anc = wide_run["summary"]["ancillary"]
    assert (anc["job_failures"], anc["submissions"], anc["veterans"]) == totals[:3]
    assert totals[3] > 0  # the claims stood: they are successes, counted here and not as new failures


def test_backlog_is_failed_minus_delivered_by_independent_sql(wide_run, services):
    failed = {r[0] for r in _source(services, f"WITH s AS ({SUBMISSION_STATE_SQL}) SELECT s.id FROM s"
                                              " WHERE s.state = 'failed'", state_params(TODAY))}
    with psycopg.connect(services.ledger_dsn) as conn:
        done = {r[0] for r in conn.execute(
            "SELECT submission_id FROM form526_deliveries WHERE state IN ('uploaded', 'duplicate')")}
    backlog = wide_run["summary"]["backlog"]
    assert backlog == {"failed": len(failed), "delivered_or_duplicate": len(failed & done),
                       "remaining": len(failed - done), "ledger_present": True}
    assert len(failed & done) == 17  # 12 uploaded + 5 duplicates; failed deliveries stay in the backlog
    trend = wide_run["summary"]["trend"]
    assert len(trend) == triage.TREND_DAYS and trend[-1]["date"] == (TODAY - timedelta(days=1)).date().isoformat()
    assert trend[-1]["backlog"] == len(failed - done)  # all delivered two days before the window end
    # the deliveries (two days before the window end) show on that day's backlog
    assert trend[-2]["backlog"] == trend[-3]["backlog"] + trend[-2]["new_failures"] - len(failed & done)


def test_failed_at_follows_the_documented_rule(seeded, services):
    """Spot-check failed_at per kind of failure against SQL written here."""
    with psycopg.connect(services.source_dsn, autocommit=True) as conn, read_only(conn):
        failed = {f.id: f for f in triage.read_failed(conn, TODAY)}
    assert set(failed) == set(seeded["failed"])
    lab = seeded["labels"]
    window = timedelta(days=21)
    backup_fail = dict(_source(services, """
        SELECT form526_submission_id, min(updated_at) FROM form526_job_statuses
        WHERE job_class = 'BackupSubmission' AND status IN ('exhausted', 'non_retryable_error') GROUP BY 1"""))
    last_rem = dict(_source(services, "SELECT form526_submission_id, max(created_at) FROM "
                                      "form526_submission_remediations GROUP BY 1"))
    checked = Counter()
    for sid, f in failed.items():
        scenario, created = lab[sid]["scenario"], lab[sid]["created_at"]
        assert created <= f.failed_at < TODAY
        if scenario in ("never_attempted", "stale_try_only", "black_hole_primary_exhausted"):
            assert f.failed_at == created + window, scenario
        elif scenario == "claims_api_no_poll":
            assert f.failed_at == created
        elif scenario in ("backup_failed_recent", "backup_failed_last_days"):
            assert f.failed_at == backup_fail[sid]
        elif scenario in ("no_longer_remediated", "pending_backup_with_failed_remediation"):
            assert f.failed_at == last_rem[sid]
        else:
            continue
        checked[scenario] += 1
    assert len(checked) >= 5, checked


def test_task_log_has_a_readable_table_without_veteran_data(wide_run, seeded):
    log = wide_run["log"]
    assert "failure triage report" in log
    assert "NEW FAILURES" in log and "ANCILLARY FAILURES" in log and "backlog:" in log
    table = log[log.index("failure triage report"):]
    assert "System error with BGS" in table
    users = {v["user"] for v in seeded["labels"].values()}
    assert not any(u in log for u in users)


def test_empty_window_gives_an_empty_report_that_says_so(wide_run, services, caplog):
    caplog.set_level(logging.INFO)
    _, state, tis, _ = h.run_dag(DAG_ID, {"window_start": "2020-01-01", "window_end": "2020-01-02"})
    assert state == "success", tis
    rows, summary = _report(services, "2020-01-02")
    assert rows == []
    assert summary["empty"] is True and "Empty report" in summary["message"]
    assert summary["new_failures"]["submissions"] == 0 and summary["ancillary"]["job_failures"] == 0
    assert summary["backlog"]["failed"] == 0  # judged as of the window end, before any seeded data
    assert "failure triage report" in caplog.text and "Empty report" in caplog.text


@pytest.mark.parametrize("conf", [
    {"window_end": "2026-13-45x"},
    {"alert_threshold": -1},
    {"key_prefix": "/absolute"},
])
def test_bad_params_are_rejected_before_any_run(conf, airflow_db):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        h.get_dag(DAG_ID).test(run_conf=conf)


@pytest.mark.parametrize(("conf", "message"), [
    ({"window_start": "2026-11-10", "window_end": "2026-11-01"}, "earlier than window_end"),
    ({"surprise": 1}, "unknown parameter"),
])
def test_bad_window_fails_the_first_task_and_writes_nothing(conf, message, seeded, services, capfd):
    before = h.list_keys(services)
    _, state, tis, _ = h.run_dag(DAG_ID, conf)
    assert state == "failed"
    assert tis["resolve_window"] == "failed"
    assert tis["triage"] == "upstream_failed"
    assert set(h.list_keys(services)) == set(before)
    out, err = capfd.readouterr()
    assert message in out + err
