"""Unit tests of include/form526/triage/: error keys, explanations, grouping, trend, outputs, window rules."""

from __future__ import annotations

import csv
import io
import json
import struct
from datetime import datetime, timedelta

import pytest

from include.form526.triage import triage as t
from tools.synthetic.generator import _ruby_inspect

SVC = "EVSS::DisabilityCompensationForm::ServiceException"
G1 = "0b8e4c6a-3f2d-4e5f-9a1b-2c3d4e5f6a7b"
G2 = "f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9"


def evss(*entries: dict[str, str]) -> str:
    """An EVSS error list exactly as the synthetic generator (and vets-api) stores it."""
    return _ruby_inspect(entries)


# ------------------------------------------------------------------------------------------- error keys

KEY_TABLE = [
    # (error_class, error_message, expected key)
    (SVC, evss({"key": "form526.submit.establishClaim.serviceError", "severity": "FATAL",
                "text": f"Claim not established. System error with BGS. GUID: {G1}"}),
     "form526.submit.establishClaim.serviceError: Claim not established. System error with BGS."),
    (SVC, evss({"key": "form526.submit.save.draftForm.PIFInUse", "severity": "FATAL",
                "text": "Claim could not be established. Retries will fail."}),
     "form526.submit.save.draftForm.PIFInUse: Claim could not be established. Retries will fail."),
    # [n] indexes stripped; validation (ERROR) texts dropped; several keys sorted and joined with '-'
    (SVC, evss({"key": "form526.treatments[3].treatedDisabilityNames.isInvalidValue", "severity": "ERROR",
                "text": "treatedDisabilityNames must match the name of a claimed disability"},
               {"key": "form526.disabilities[12].name.Pattern", "severity": "ERROR", "text": "must match x"}),
     "form526.disabilities.name.Pattern-form526.treatments.treatedDisabilityNames.isInvalidValue"),
    # WARN entries are dropped when something else is there
    (SVC, evss({"key": "form526.veteran.warning", "severity": "WARN", "text": "just a warning"},
               {"key": "form526.submit.save.draftForm.MaxEPCode", "severity": "FATAL", "text": "Max EP codes"}),
     "form526.submit.save.draftForm.MaxEPCode: Max EP codes"),
    # a single hash, and Ruby nil
    (SVC, '{"key"=>"form526.x.y", "severity"=>"FATAL", "text"=>nil}', "form526.x.y"),
    # Ruby symbol hashes (BackendServiceException): nil pairs dropped, digits stripped
    ("Common::Exceptions::BackendServiceException",
     'BackendServiceException: {:status=>502, :detail=>nil, :code=>"EVSS502", :source=>nil}',
     "BackendServiceException: code=EVSS"),
    ("Common::Exceptions::BackendServiceException",
     'BackendServiceException: {:status=>400, :detail=>"Document upload failed", :code=>"EVSS400", :source=>nil}',
     "BackendServiceException: code=EVSS detail=Document upload failed"),
    # plain messages: dates, times and numbers go, words stay; newlines fold
    ("Breakers::OutageException", "Outage detected on EVSS/DisabilityCompensationForm beginning at "
     "2024-03-02 10:11:12 UTC", "Outage detected on EVSS/DisabilityCompensationForm beginning at UTC"),
    ("ArgumentError", "file number is invalid. It must be 8 or 9 digits",
     "file number is invalid. It must be or digits"),
    ("NoMethodError", "undefined method `[]' for nil:NilClass", "undefined method `[]' for nil:NilClass"),
    ("X", "line one\n  line two\r\n", "line one line two"),
    ("X", "job 5f0c2e9a1b7d4c3e8f6a9b2d failed for vet@example.com", "job failed for <email>"),
    ("X", f"lookup {G2} failed", "lookup failed"),
    # empty and unparseable input
    ("Some::Error", None, "no_message:Some::Error"),
    (None, "   ", "no_message:unknown"),
    (SVC, '[{"key"=>"form526.submit.save.draftForm.PIFIn', f"unparsed:{SVC}"),
    (SVC, '[{"severity"=>"FATAL", "text"=>"no key"}]', f"unparsed:{SVC}"),
    (SVC, '[{"key"=>nil}]', f"unparsed:{SVC}"),
    ("X", "12345 67890", "unparsed:X"),
]


@pytest.mark.parametrize(("error_class", "message", "expected"), KEY_TABLE)
def test_error_key_table(error_class, message, expected):
    assert t.error_key(error_class, message) == expected


def test_messages_that_differ_only_in_guids_and_digits_share_a_key():
    def bgs(guid):
        return evss({"key": "form526.submit.establishClaim.serviceError", "severity": "FATAL",
                     "text": f"Claim not established. System error with BGS. GUID: {guid}"})

    def validation(i, j):
        return evss({"key": f"form526.treatments[{i}].treatedDisabilityNames.isInvalidValue", "severity": "ERROR",
                     "text": "x"}, {"key": f"form526.disabilities[{j}].name.Pattern", "severity": "ERROR", "text": "y"})

    assert t.error_key(SVC, bgs(G1)) == t.error_key(SVC, bgs(G2))
    assert t.error_key(SVC, validation(0, 1)) == t.error_key(SVC, validation(3, 2))
    assert t.error_key("B", "Outage beginning at 2024-01-01 00:00:00 UTC") == \
        t.error_key("B", "Outage beginning at 2025-12-31 23:59:59 UTC")


def test_entry_order_does_not_matter():
    a = {"key": "form526.a", "severity": "ERROR", "text": "x"}
    b = {"key": "form526.b", "severity": "ERROR", "text": "y"}
    assert t.error_key(SVC, evss(a, b)) == t.error_key(SVC, evss(b, a)) == "form526.a-form526.b"


def test_different_causes_get_different_keys():
    def service_error(text):
        return evss({"key": "form526.submit.establishClaim.serviceError", "severity": "FATAL", "text": text})

    keys = {
        t.error_key(SVC, service_error(f"Claim not established. System error with BGS. GUID: {G1}")),
        t.error_key(SVC, service_error(f"Claim not established. BIRLS ID does not match the file number of record. "
                                       f"GUID: {G1}")),
        t.error_key(SVC, service_error(f"Benefit Type, Payee code or EP Code is not valid. GUID: {G1}")),
        t.error_key(SVC, evss({"key": "form526.submit.save.draftForm.PIFInUse", "severity": "FATAL", "text": "t"})),
        t.error_key(SVC, evss({"key": "form526.submit.save.draftForm.MaxEPCode", "severity": "FATAL", "text": "t"})),
    }
    assert len(keys) == 5


def test_validation_text_never_reaches_the_key():
    """ERROR (validation) texts can echo what the veteran typed: only their key is kept."""
    key = t.error_key(SVC, evss({"key": "form526.veteran.name.Pattern", "severity": "ERROR",
                                 "text": "Jane Q Veteran does not match the pattern"}))
    assert key == "form526.veteran.name.Pattern"


def test_parse_evss_reads_the_ruby_inspect_form():
    msg = evss({"key": "k[0]", "severity": "FATAL", "text": 'quote " and arrow => inside'})
    assert t.parse_evss(msg) == [{"key": "k[0]", "severity": "FATAL", "text": 'quote " and arrow : inside'}]
    assert t.parse_evss('[{"key"=>"k", "text"=>nil}]') == [{"key": "k", "text": None}]
    assert t.parse_evss('[{"key"=>"k"') is None
    assert t.parse_evss("[1, 2]") is None


@pytest.mark.parametrize("message", [
    '[{"key"=>', "[{}]", '[{"key"=>["a"]}]', '{"key"=>{"nested"=>1}}', "[{" + "x" * 100_000,
    "\x00\x01\x02", 12345, b"bytes", ["a list"],
])
def test_bad_input_never_raises(message):
    key = t.error_key("Err", message)
    assert isinstance(key, str) and 0 < len(key) <= t.MAX_KEY_CHARS


def test_long_keys_are_clipped():
    assert len(t.error_key("E", "word " * 500)) == t.MAX_KEY_CHARS


def test_job_paths():
    assert t.job_path("SubmitForm526AllClaim") == t.job_path("SubmitForm526") == "primary"
    assert t.job_path("BackupSubmission") == "backup"
    assert {t.job_path(c) for c in t.ANCILLARY_JOB_CLASSES} == {"ancillary"}
    assert t.job_path("SomethingNew") == "other"


# ------------------------------------------------------------------------------------------- explanations

T0 = datetime(2026, 11, 1, 12, 0, 0)


def sub(sid=1, user="u1", failed_at=T0, **kw) -> t.FailedSubmission:
    return t.FailedSubmission(sid, user, T0 - timedelta(days=30), failed_at, **kw)


def job(cls, status, error=(None, None), at=T0, sid=1, bg=None, user="") -> t.JobRow:
    return t.JobRow(sid, cls, status, error[0], error[1], at, bg, user)


def test_explain_uses_the_failing_job_rows():
    causes = t.explain(sub(), [
        job("SubmitForm526AllClaim", "exhausted", ("Common::Exceptions::GatewayTimeout", "timeout")),
        job("BackupSubmission", "non_retryable_error", ("ArgumentError", "file number is invalid")),
        job("SubmitUploads", "exhausted", ("X", "ancillary: ignored here")),
        job("PollForm526Pdf", "success"),
    ])
    assert [(c.path, c.job_class, c.error_key) for c in causes] == [
        ("primary", "SubmitForm526AllClaim", "timeout"), ("backup", "BackupSubmission", "file number is invalid")]


@pytest.mark.parametrize(("kw", "rows", "why"), [
    ({}, [], "never_attempted"),
    ({}, [job("SubmitForm526AllClaim", "try")], "stuck_in_try"),
    ({"has_claim_id": True}, [job("SubmitForm526AllClaim", "success")], "claim_established_pdf_not_confirmed"),
    ({}, [job("SubmitForm526AllClaim", "success")], "no_error_recorded"),
])
def test_explain_without_a_primary_error(kw, rows, why):
    causes = t.explain(sub(**kw), rows)
    assert causes[0].error_key == f"no_job_error:{why}" and causes[0].path == "primary"
    assert causes[0].seen_at == T0


def test_explain_backup_rejection_takes_the_latest_downstream_reason():
    bg = {"1700000000": {"error_class": "BenefitsIntakeStatus::Error", "error_message": "old reason"},
          "1800000000": {"error_class": "BenefitsIntakeStatus::Error",
                         "error_message": "ZIP Code must be 5 or 9 digits"},
          "junk": "not a dict"}
    causes = t.explain(sub(has_backup_id=True, backup_status=1), [
        job("SubmitForm526AllClaim", "exhausted", ("E", "m")), job("BackupSubmission", "success"),
        job("Form526StatusPollingJob", "success", bg=bg)])
    rejected = [c for c in causes if c.path == "backup"]
    assert [(c.job_class, c.error_class, c.error_key, c.status) for c in rejected] == [
        ("Form526StatusPollingJob", "BenefitsIntakeStatus::Error", "ZIP Code must be or digits", "rejected")]


def test_explain_backup_rejection_without_a_reason_and_missing_status():
    rejected = t.explain(sub(has_backup_id=True, backup_status=1), [job("SubmitForm526AllClaim", "exhausted")])
    assert rejected[-1].error_key == "no_job_error:backup_rejected_no_reason"
    pending = t.explain(sub(has_backup_id=True), [job("SubmitForm526AllClaim", "exhausted")])
    assert pending[-1].error_key == "no_job_error:backup_status_never_received"


# ------------------------------------------------------------------------------------------- report

WINDOW = t.Window(datetime(2026, 11, 1), datetime(2026, 11, 2), datetime(2026, 11, 2), "params")
GATEWAY = ("Common::Exceptions::GatewayTimeout", "Did not receive a timely response")


def build(failed, job_rows=(), ancillary=(), done=None, threshold=None):
    return t.build_report(WINDOW, failed, list(job_rows), list(ancillary), done, alert_threshold=threshold,
                          run_id="r1")


def test_grouping_counts_submissions_veterans_and_jobs():
    in_window = [sub(i, user=f"u{i % 2}", failed_at=datetime(2026, 11, 1, i)) for i in range(1, 5)]
    outside = [sub(9, user="u9", failed_at=datetime(2026, 10, 20))]
    rows = [job("SubmitForm526AllClaim", "exhausted", GATEWAY, at=datetime(2026, 11, 1, i), sid=i) for i in range(1, 5)]
    rows.append(job("SubmitForm526AllClaim", "exhausted", GATEWAY, sid=9))
    rows.append(job("SubmitForm526", "retryable_error", GATEWAY, at=datetime(2026, 10, 1), sid=1))
    report = build(in_window + outside, rows)
    assert report.new_failures == 4 and report.new_failure_veterans == 2
    main = report.groups[0]
    assert (main.job_class, len(main.submissions), len(main.veterans), main.job_failures) == \
        ("SubmitForm526AllClaim", 4, 2, 4)
    assert main.examples() == [4, 3, 2, 1]
    assert main.first_seen == datetime(2026, 11, 1, 1) and main.last_seen == datetime(2026, 11, 1, 4)
    assert 9 not in {s for g in report.groups for s in g.submissions}
    assert report.backlog_failed == 5 and report.backlog == 5 and report.ledger_present is False


def test_ancillary_failures_are_a_section_of_their_own():
    anc = [job("SubmitUploads", "exhausted", GATEWAY, at=datetime(2026, 11, 1, 5), sid=50, user="u50"),
           job("SubmitUploads", "exhausted", GATEWAY, at=datetime(2026, 11, 1, 6), sid=51, user="u50"),
           job("SubmitForm0781", "non_retryable_error", ("NoMethodError", "boom"), at=datetime(2026, 11, 1, 7), sid=51,
               user="u50"),
           job("SubmitUploads", "exhausted", GATEWAY, at=datetime(2026, 10, 25), sid=52, user="u52")]
    report = build([], ancillary=anc)
    assert report.new_failures == 0
    assert (report.ancillary_job_failures, report.ancillary_submissions, report.ancillary_veterans) == (3, 2, 1)
    assert {(g.section, g.job_class, len(g.submissions)) for g in report.groups} == {
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
    assert len(days) == t.TREND_DAYS and days[0] == "2026-10-03" and days[-1] == "2026-11-01"
    assert [d.new_failures for d in report.trend if d.new_failures] == [1, 1]
    assert report.trend[0].backlog == 2 and report.trend[-1].backlog == 3


def test_empty_report_says_so():
    report = build([])
    assert report.empty and report.message.startswith("Empty report")
    assert triage_rows(report) == []
    summary = json.loads(t.summary_json(report))
    assert summary["empty"] is True and "Empty report" in summary["message"]
    assert "(none)" in t.log_table(report)


def test_threshold():
    failed = [sub(i) for i in range(1, 4)]
    assert build(failed, threshold=2).over_threshold
    assert not build(failed, threshold=3).over_threshold
    assert not build(failed, threshold=None).over_threshold


def triage_rows(report):
    return list(csv.DictReader(io.StringIO(t.triage_csv(report).decode())))


def test_csv_summary_and_log_table():
    failed = [sub(1, user="4f3c9d0e5b6a", failed_at=datetime(2026, 11, 1, 3))]
    report = build(failed, [job("SubmitForm526AllClaim", "exhausted", GATEWAY, sid=1, at=datetime(2026, 11, 1, 3))],
                   threshold=0)
    rows = triage_rows(report)
    assert list(rows[0]) == list(t.CSV_COLUMNS)
    assert rows[0]["section"] == "new_failure" and rows[0]["statuses"] == "exhausted=1"
    assert rows[0]["first_seen"] == "2026-11-01T03:00:00Z" and rows[0]["example_submission_ids"] == "1"
    summary = json.loads(t.summary_json(report))
    assert summary["window"] == {"start": "2026-11-01T00:00:00Z", "end": "2026-11-02T00:00:00Z",
                                 "judged_as_of": "2026-11-02T00:00:00Z", "source": "params"}
    assert summary["date"] == "2026-11-02" and summary["over_threshold"] is True
    assert summary["new_failures"]["top"][0]["error_key"] == "Did not receive a timely response"
    table = t.log_table(report)
    assert "NEW FAILURES" in table and "SubmitForm526AllClaim" in table and "EXCEEDED" in table
    assert "4f3c9d0e5b6a" not in table  # veterans are counted, never named


def test_chart_is_a_small_png():
    report = build([sub(1)])
    png = t.chart_png(report.trend)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (800, 340)


def test_publish_writes_three_encrypted_objects_under_the_date():
    class Store:
        def __init__(self):
            self.put_calls = []

        def put(self, bucket, key, data, *, content_type):
            self.put_calls.append((bucket, key, content_type, len(data)))

    store = Store()
    keys = t.publish(store, build([]), bucket="b", key_prefix="p/q")
    assert [c[1] for c in store.put_calls] == ["p/q/triage/2026-11-02/triage.csv", "p/q/triage/2026-11-02/trend.png",
                                               "p/q/triage/2026-11-02/summary.json"]
    assert keys["summary"] == "s3://b/p/q/triage/2026-11-02/summary.json"


# ------------------------------------------------------------------------------------------- window

NOW = datetime(2026, 11, 29, 5, 0)


def test_window_defaults_to_the_data_interval():
    w = t.resolve_window({}, interval_start=datetime(2026, 11, 28, 6, 30), interval_end=datetime(2026, 11, 29, 6, 30),
                         now=NOW)
    assert (w.start, w.end, w.judged_as_of, w.source, w.date) == (
        datetime(2026, 11, 28, 6, 30), datetime(2026, 11, 29, 6, 30), NOW, "data_interval", "2026-11-29")
    assert w.last_day.isoformat() == "2026-11-29"


@pytest.mark.parametrize(("params", "start", "end"), [
    ({"window_start": "2026-11-01", "window_end": "2026-11-08"}, datetime(2026, 11, 1), datetime(2026, 11, 8)),
    ({"window_start": "2026-11-01"}, datetime(2026, 11, 1), datetime(2026, 11, 2)),
    ({"window_end": "2026-11-08"}, datetime(2026, 11, 7), datetime(2026, 11, 8)),
])
def test_window_from_params(params, start, end):
    w = t.resolve_window(params, interval_start=None, interval_end=None, now=NOW)
    assert (w.start, w.end, w.judged_as_of, w.source) == (start, end, end, "params")
    assert t.Window.from_dict(w.as_dict()) == w


@pytest.mark.parametrize(("params", "message"), [
    ({"window_start": "2026-11-08", "window_end": "2026-11-01"}, "earlier than window_end"),
    ({"window_start": "2026-11-01", "window_end": "2026-11-01"}, "earlier than window_end"),
    ({"window_start": "2026-12-01"}, "in the future"),
    ({"window_start": "2026-02-30"}, "not a real calendar date"),
    ({"window_end": "yesterday"}, "YYYY-MM-DD"),
])
def test_bad_windows(params, message):
    with pytest.raises(t.TriageParamError, match=message):
        t.resolve_window(params, interval_start=None, interval_end=None, now=NOW)


def test_future_end_is_judged_as_of_now():
    w = t.resolve_window({"window_start": "2026-11-28", "window_end": "2026-12-05"}, interval_start=None,
                         interval_end=None, now=NOW)
    assert w.judged_as_of == NOW and w.end == datetime(2026, 12, 5)


@pytest.mark.parametrize("value", [-1, 1.5, True, "3"])
def test_bad_threshold(value):
    with pytest.raises(t.TriageParamError):
        t.check_threshold_param(value)
