"""The failure triage DAG with dag.test(): seeded source, a ledger with deliveries, S3 over HTTP.

One wide window covers every seeded submission, so "became failed in the window" is "failed" and the
report can be checked against SQL written here (and the generator's labels), not against the triage
code: the grouping (errors from the columns or else the newest bgjob_errors entry), distinct veterans
(veteran_key), the established-without-PDF and ancillary sections and the backlog. Two rows are planted
after seeding: an error message quoting its veteran's name, file number and address (hostile input) and
a failing row whose bgjob_errors is not an object. A second run over an empty window must say so.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from include.form526 import triage
from include.form526.delivery import ledger
from include.form526.source.extraction import read_only
from include.form526.source.selection import SUBMISSION_STATE_SQL, state_params
from include.form526.triage.read import read_failed
from tests import helpers as h
from tests.integration.smtp_sink import SmtpSink
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
HOSTILE_SCENARIO = "primary_non_retryable"
WINDOW = {"window_start": (TODAY - timedelta(days=synthetic.HISTORY_DAYS + 30)).date().isoformat(),
          "window_end": TODAY.date().isoformat()}


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
    planted = _plant_rows(services, [s for s in failed if lab[s]["scenario"] == HOSTILE_SCENARIO][:2])
    return {"labels": lab, "failed": failed, **planted}


def _plant_rows(services, ids: list[int]) -> dict:
    """A failing row quoting its veteran's identity (hostile input) and one with malformed bgjob_errors, on
    failed submissions whose state and failed_at these rows (SubmitForm526, not a backup job) cannot change."""
    hostile_id, malformed_id = ids
    with psycopg.connect(services.source_dsn, autocommit=True) as conn:
        auth, form, created = conn.execute("SELECT auth_headers_json, form_json, created_at FROM form526_submissions"
                                           " WHERE id = %s", (hostile_id,)).fetchone()
        auth, form = json.loads(auth), json.loads(form)
        address = form["form526"]["form526"]["veteran"]["currentMailingAddress"]
        identity = {"first": auth["va_eauth_firstName"], "last": auth["va_eauth_lastName"],
                    "file_number": auth["va_eauth_birlsfilenumber"], "line1": address["addressLine1"],
                    "city": address.get("city") or "Springfield"}
        message = (f"Veteran name '{identity['first']} {identity['last']}' does not match file number "
                   f"{identity['file_number']} at {identity['line1']}, {identity['city']}")
        sql = ("INSERT INTO form526_job_statuses (form526_submission_id, job_id, job_class, status, error_class,"
               " error_message, updated_at, bgjob_errors) VALUES (%s, %s, 'SubmitForm526', %s, %s, %s, %s, %s)")
        conn.execute(sql, (hostile_id, "planted-hostile", "non_retryable_error", "ArgumentError", message,
                           created + timedelta(hours=1), json.dumps({})))
        conn.execute(sql, (malformed_id, "planted-malformed", "retryable_error", None, None,
                           created + timedelta(hours=1), json.dumps(["not", "an", "object"])))
    return {"hostile": hostile_id, "identity": identity, "malformed": malformed_id}


@pytest.fixture(scope="module")
def wide_run(seeded, services):
    # the deployment's alert setting, pointed at a local SMTP sink standing in for the team's mailbox
    alert_env = {"FORM526_ALERT_NOTIFIERS": '[{"type": "smtp", "conn_id": "form526_alert_smtp", '
                                            '"to": "team@example.gov"}]'}
    saved = {k: os.environ.get(k) for k in (*alert_env, "AIRFLOW_CONN_FORM526_ALERT_SMTP")}
    h.get_dag(DAG_ID)  # Airflow configures logging once, on first use: add the capture after that
    records, root = _Records(), logging.getLogger()
    level = root.level
    root.addHandler(records)
    root.setLevel(logging.INFO)
    with SmtpSink() as sink:
        os.environ.update(alert_env, AIRFLOW_CONN_FORM526_ALERT_SMTP=sink.connection_json())
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
    alerts = [m.group(1) for body in sink.bodies() for m in re.finditer(r"\btask_id=(\S+)", body)]
    return {"run_id": run_id, "state": state, "tis": tis, "rows": rows, "summary": summary, "alerts": alerts,
            "log": "\n".join(records.lines)}


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


# A job row's error as vets-api leaves it: the columns, or else the newest bgjob_errors entry with an error.
_ROWS_SQL = """
    SELECT j.form526_submission_id AS sid, j.job_class, l.veteran_key,
           CASE WHEN coalesce(j.error_class, '') <> '' OR coalesce(j.error_message, '') <> ''
                THEN j.error_class ELSE b.cls END AS cls,
           CASE WHEN coalesce(j.error_class, '') <> '' OR coalesce(j.error_message, '') <> ''
                THEN j.error_message ELSE b.msg END AS msg
    FROM form526_job_statuses j
    JOIN failed f ON f.id = j.form526_submission_id
    JOIN synthetic.submission_labels l ON l.submission_id = j.form526_submission_id
    LEFT JOIN LATERAL (
        SELECT e.value->>'error_class' AS cls, e.value->>'error_message' AS msg
        FROM jsonb_each(CASE WHEN jsonb_typeof(j.bgjob_errors) = 'object' THEN j.bgjob_errors
                             ELSE '{}'::jsonb END) e
        WHERE jsonb_typeof(e.value) = 'object'
          AND (coalesce(e.value->>'error_class', '') <> '' OR coalesce(e.value->>'error_message', '') <> '')
        ORDER BY e.key::numeric DESC LIMIT 1) b ON true"""
# The cause in a message, rake-style: EVSS lists parsed (keys without [n], FATAL texts up to GUID, WARN
# dropped); other messages without GUIDs, timestamps and digit runs of 6 or more.
_CAUSE_SQL = r"""CASE
    WHEN msg LIKE '[{%%' THEN (
        SELECT string_agg(t, '-' ORDER BY t) FROM (
            SELECT DISTINCT regexp_replace(x->>'key', '\[\d*\]', '', 'g')
                || CASE WHEN x->>'severity' = 'FATAL' THEN ': ' || trim(regexp_replace(x->>'text', 'GUID.*$', ''))
                        ELSE '' END AS t
            FROM jsonb_array_elements(CAST(replace(msg, '=>', ':') AS jsonb)) x
            WHERE x->>'severity' IS DISTINCT FROM 'WARN') q)
    ELSE regexp_replace(regexp_replace(regexp_replace(msg, %(uuid)s, '', 'g'),
                                       '\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}', '', 'g'), '\d{6,}', '', 'g')
END"""


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
    veterans = {seeded["labels"][s]["veteran"] for s in expected}  # veteran_key: one veteran, two credentials
    new = wide_run["summary"]["new_failures"]
    assert new["submissions"] == len(expected)
    assert new["veterans"] == len(veterans)
    assert len(veterans) < len({seeded["labels"][s]["user"] for s in expected})  # the seed has such veterans
    assert new["by_path"]["primary"] == len(expected)  # every failed submission is explained at least once
    examples = {int(i) for r in wide_run["rows"] if r["section"] == "new_failure"
                for i in r["example_submission_ids"].split()}
    assert examples <= expected


def test_job_failure_groups_match_independent_sql(wide_run, seeded, services):
    """Partition the failing primary/backup job rows by (job class, error class, cause), with the error
    taken here from the columns or else the newest bgjob_errors entry that has one, and the cause worked
    out here in SQL: the report's groups must be the same partition, counts and veterans alike."""
    expected = sorted((r[0], r[1], r[3], r[4], r[5]) for r in _source(services, f"""{_FAILED_CTE},
        r AS ({_ROWS_SQL} WHERE j.status = ANY(%(failing)s) AND NOT (j.job_class = ANY(%(ancillary)s)))
        SELECT job_class, coalesce(cls, ''), {_CAUSE_SQL}, count(DISTINCT sid), count(DISTINCT veteran_key), count(*)
        FROM r GROUP BY 1, 2, 3""", {"uuid": UUID_RE, "failing": FAILING, "ancillary": ANCILLARY}))
    got = sorted((r["job_class"], r["error_class"], int(r["submissions"]), int(r["veterans"]), int(r["job_failures"]))
                 for r in wide_run["rows"] if r["section"] == "new_failure" and r["job_class"])
    assert got == expected
    assert len(expected) >= 10
    backup = {r["error_class"] for r in wide_run["rows"] if r["job_class"] == "BackupSubmission"}
    assert backup and "" not in backup  # BackupSubmission errors live only in bgjob_errors, and were found there


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


def test_backup_rejections_are_reported_without_an_invented_reason(wide_run, services):
    """vets-api stores no reason for a downstream rejection (Form526StatusPollingJob writes no row)."""
    rejected = _source(services, f"""{_FAILED_CTE}
        SELECT count(*) FROM form526_submissions s JOIN failed f ON f.id = s.id
        WHERE s.backup_submitted_claim_status = 1""")[0][0]
    rows = [r for r in wide_run["rows"] if r["section"] == "new_failure" and r["path"] == "backup"
            and r["statuses"].startswith("rejected")]
    assert [(r["job_class"], r["error_class"], r["error_key"], int(r["submissions"])) for r in rows] == [
        ("", "", "backup_rejected:no_reason_recorded", rejected)]
    assert rejected > 0
    assert not any(r["job_class"] == "Form526StatusPollingJob" for r in wide_run["rows"])


def test_established_claims_without_pdf_have_their_own_section(wide_run, seeded):
    expected = {s for s, v in seeded["labels"].items() if v["state"] == "established_no_pdf"}
    section = wide_run["summary"]["established_no_pdf"]
    assert section["submissions"] == len(expected) > 0
    assert section["veterans"] == len({seeded["labels"][s]["veteran"] for s in expected})
    assert sum(d["submissions"] for d in section["by_day"]) == len(expected)
    by_day = Counter(seeded["labels"][s]["created_at"].date().isoformat() for s in expected)
    assert {d["date"]: d["submissions"] for d in section["by_day"]} == by_day
    rows = [r for r in wide_run["rows"] if r["section"] == "established_no_pdf"]
    assert sum(int(r["submissions"]) for r in rows) == len(expected)
    assert {int(i) for r in rows for i in r["example_submission_ids"].split()} <= expected
    assert not {int(i) for r in wide_run["rows"] if r["section"] == "new_failure"
                for i in r["example_submission_ids"].split()} & expected  # not failures
    assert "ESTABLISHED WITHOUT PDF" in wide_run["log"]


def test_ancillary_failures_have_their_own_section(wide_run, seeded, services):
    rows = wide_run["rows"]
    assert not any(r["job_class"] in ANCILLARY for r in rows if r["section"] == "new_failure")
    params = {"ancillary": ANCILLARY, "failing": FAILING, "start": datetime.fromisoformat(WINDOW["window_start"]),
              "end": TODAY, "uuid": UUID_RE}
    everything = "WITH failed AS (SELECT submission_id AS id FROM synthetic.submission_labels)"
    in_window = ("j.job_class = ANY(%(ancillary)s) AND j.status = ANY(%(failing)s)"
                 " AND j.updated_at >= %(start)s AND j.updated_at < %(end)s")
    groups = _source(services, f"""{everything}, r AS ({_ROWS_SQL} WHERE {in_window})
        SELECT job_class, coalesce(cls, ''), {_CAUSE_SQL}, count(DISTINCT sid), count(DISTINCT veteran_key), count(*)
        FROM r GROUP BY 1, 2, 3""", params)
    expected = sorted((r[0], r[1], r[3], r[4], r[5]) for r in groups)
    got = sorted((r["job_class"], r["error_class"], int(r["submissions"]), int(r["veterans"]), int(r["job_failures"]))
                 for r in rows if r["section"] == "ancillary")
    assert got == expected and expected
    totals = _source(services, f"""
        SELECT count(*), count(DISTINCT j.form526_submission_id), count(DISTINCT l.veteran_key),
               count(DISTINCT j.form526_submission_id) FILTER (WHERE l.expected_state = 'success')
        FROM form526_job_statuses j
        JOIN synthetic.submission_labels l ON l.submission_id = j.form526_submission_id
        WHERE {in_window}""", params)[0]
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
        failed = {f.id: f for f in read_failed(conn, TODAY)}
    assert set(failed) == set(seeded["failed"])
    lab = seeded["labels"]
    window = timedelta(days=21)
    backup_fail = dict(_source(services, """
        SELECT form526_submission_id, min(updated_at) FROM form526_job_statuses
        WHERE job_class = 'BackupSubmission' AND status IN ('exhausted', 'non_retryable_error') GROUP BY 1"""))
    # mark_as_unsuccessful updates a remediation row in place: it failed again at that row's updated_at
    reverted = dict(_source(services, "SELECT form526_submission_id, max(updated_at) FROM "
                                      "form526_submission_remediations WHERE NOT success GROUP BY 1"))
    first_rem = dict(_source(services, "SELECT form526_submission_id, min(created_at) FROM "
                                       "form526_submission_remediations GROUP BY 1"))
    checked = Counter()
    for sid, f in failed.items():
        scenario, created = lab[sid]["scenario"], lab[sid]["created_at"]
        assert created <= f.failed_at < TODAY
        if scenario in ("never_attempted", "stale_try_only", "black_hole_primary_exhausted"):
            assert f.failed_at == created + window, scenario
        elif scenario in ("backup_failed_recent", "backup_failed_last_days"):
            assert f.failed_at == backup_fail[sid]
        elif scenario == "no_longer_remediated":
            assert f.failed_at == reverted[sid]
        elif scenario == "pending_backup_with_failed_remediation":
            assert f.failed_at == first_rem[sid]
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


def test_identity_quoted_in_an_error_never_reaches_the_report(wide_run, seeded, services):
    """Hostile input: the planted message quotes its veteran's name, file number and address line."""
    outputs = {"csv": h.get_bytes(services, f"form526/triage/{WINDOW['window_end']}/triage.csv").decode(),
               "summary": json.dumps(wide_run["summary"]), "log": wide_run["log"]}
    identity = seeded["identity"]
    for name, text in outputs.items():
        for field, value in identity.items():
            assert value.lower() not in text.lower(), (name, field)
    (row,) = [r for r in wide_run["rows"] if r["job_class"] == "SubmitForm526" and r["error_class"] == "ArgumentError"]
    assert row["error_key"] == "Veteran name '[NAME] [NAME]' does not match file number [ID] at [ADDRESS], [ADDRESS]"
    assert row["example_submission_ids"] == str(seeded["hostile"])


def test_malformed_bgjob_errors_are_counted_not_fatal(wide_run, seeded):
    assert wide_run["summary"]["malformed_job_rows"] == {"job_rows": 1, "submissions": 1,
                                                         "example_submission_ids": [seeded["malformed"]]}
    (row,) = [r for r in wide_run["rows"] if r["error_key"] == "malformed_bgjob_errors"]
    assert (row["job_class"], row["example_submission_ids"]) == ("SubmitForm526", str(seeded["malformed"]))
    assert "malformed bgjob_errors: 1 failing job rows" in wide_run["log"]


def test_csv_cells_cannot_start_a_formula(wide_run, services):
    text = h.get_bytes(services, f"form526/triage/{WINDOW['window_end']}/triage.csv").decode()
    cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
    assert cells and not any(c[:1] in ("=", "+", "-", "@", "\t", "\r") for c in cells)


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
