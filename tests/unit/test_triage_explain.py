"""Unit tests of include/form526/triage/explain.py: where a job row's error lives, and why a submission failed."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from include.form526.triage import explain as e

T0 = datetime(2026, 11, 1, 12, 0, 0)
BIS = "BenefitsIntakeService::Service::InvalidDocumentError"


def sub(sid=1, vet="acct:a1", failed_at=T0, **kw) -> e.FailedSubmission:
    return e.FailedSubmission(sid, vet, T0 - timedelta(days=30), failed_at, **kw)


def job(cls, status, error=(None, None), at=T0, sid=1, bg=None, vet="") -> e.JobRow:
    return e.JobRow(sid, cls, status, error[0], error[1], at, bg, vet)


def entry(cls, msg, ts="2026-11-01T12:00:00Z", caller="error_hash_for_job_status"):
    return {"caller_method": caller, "error_class": cls, "error_message": msg, "timestamp": ts}


def test_pdf_not_found_is_not_a_failure():
    assert "pdf_not_found" not in e.FAILING_STATUSES
    poll = job("PollForm526Pdf", "pdf_not_found", ("E", "Poll for Form 526 PDF: Retries exhausted"))
    causes = e.explain(sub(), [job("SubmitForm526AllClaim", "exhausted", ("E", "m")), poll])
    assert [c.job_class for c in causes] == ["SubmitForm526AllClaim"]


def test_backup_failure_only_in_bgjob_errors_is_keyed_by_its_newest_error():
    """vets-api's BackupSubmission never fills the error columns; try/success entries carry null errors."""
    bg = {"1761998000": entry(BIS, "older reason"),
          "1761999000": entry("ArgumentError", "file number is invalid. It must be 8 or 9 digits"),
          "1762000000": entry(None, None, caller="try")}
    causes = e.explain(sub(has_backup_id=True), [job("SubmitForm526AllClaim", "exhausted", ("E", "m")),
                                                 job("BackupSubmission", "exhausted", bg=bg)])
    backup = [c for c in causes if c.path == "backup"]
    assert [(c.job_class, c.error_class, c.error_key, c.status, c.malformed) for c in backup] == [
        ("BackupSubmission", "ArgumentError", "file number is invalid. It must be 8 or 9 digits", "exhausted", False)]


def test_epoch_keys_order_numerically_not_as_text():
    bg = {"999999999": entry("A", "older"), "1000000000": entry("B", "newer")}
    assert e.job_error(job("BackupSubmission", "retryable_error", bg=bg)).error_class == "B"


def test_the_columns_win_over_bgjob_errors():
    row = job("SubmitForm526AllClaim", "exhausted", ("Common::Exceptions::GatewayTimeout", "timeout"),
              bg={"1762000000": entry("Other", "from bgjob")})
    err = e.job_error(row)
    assert (err.error_class, err.error_message, err.source) == ("Common::Exceptions::GatewayTimeout", "timeout",
                                                                "columns")


@pytest.mark.parametrize("bg", [["a list"], "not json", 42, '"a json string"',
                                {"1762000000": "not an object", "1761000000": ["x"]}])
def test_malformed_bgjob_errors_are_flagged_never_fatal(bg):
    (cause,) = [c for c in e.explain(sub(), [job("BackupSubmission", "exhausted", bg=bg)]) if c.path == "backup"]
    assert cause.malformed and cause.error_key == e.KEY_MALFORMED


def test_malformed_entries_beside_a_good_one_still_give_its_error():
    bg = {"1762000000": "junk", "1761000000": entry("ArgumentError", "bad zip")}
    cause = e.job_cause(job("BackupSubmission", "exhausted", bg=bg))
    assert (cause.error_key, cause.malformed) == ("bad zip", True)


@pytest.mark.parametrize("bg", [None, {}, {"1762000000": entry(None, None)}, '{"1": {"error_class": null}}'])
def test_no_error_anywhere_is_no_message_not_malformed(bg):
    cause = e.job_cause(job("BackupSubmission", "exhausted", bg=bg))
    assert (cause.error_key, cause.malformed) == ("no_message:unknown", False)


def test_explain_uses_the_failing_job_rows_and_skips_ancillary():
    causes = e.explain(sub(), [
        job("SubmitForm526AllClaim", "exhausted", ("Common::Exceptions::GatewayTimeout", "timeout")),
        job("BackupSubmission", "non_retryable_error", ("ArgumentError", "file number is invalid")),
        job("SubmitUploads", "exhausted", ("X", "ancillary: ignored here")),
        job("PollForm526Pdf", "success"),
    ])
    assert [(c.path, c.job_class, c.error_key) for c in causes] == [
        ("primary", "SubmitForm526AllClaim", "timeout"), ("backup", "BackupSubmission", "file number is invalid")]


@pytest.mark.parametrize(("rows", "why"), [
    ([], "never_attempted"),
    ([job("SubmitForm526AllClaim", "try")], "stuck_in_try"),
    ([job("SubmitForm526AllClaim", "success")], "no_error_recorded"),
])
def test_explain_without_a_primary_error(rows, why):
    causes = e.explain(sub(), rows)
    assert (causes[0].error_key, causes[0].path, causes[0].seen_at) == (f"no_job_error:{why}", "primary", T0)


def test_rejected_backup_has_no_invented_reason():
    """Form526StatusPollingJob writes no row: a stray row's bgjob_errors must not be read as the reason."""
    stray = job("Form526StatusPollingJob", "success", bg={"1762000000": entry("X", "ZIP Code must be 5 or 9 digits")})
    causes = e.explain(sub(has_backup_id=True, backup_status=e.BACKUP_REJECTED),
                       [job("SubmitForm526AllClaim", "exhausted", ("E", "m")), job("BackupSubmission", "success"),
                        stray])
    backup = [c for c in causes if c.path == "backup"]
    assert [(c.job_class, c.error_class, c.error_key, c.status) for c in backup] == [
        ("", "", "backup_rejected:no_reason_recorded", "rejected")]
    assert not any("ZIP" in c.error_key for c in causes)


def test_backup_status_never_received():
    causes = e.explain(sub(has_backup_id=True), [job("SubmitForm526AllClaim", "exhausted")])
    assert causes[-1].error_key == "no_job_error:backup_status_never_received"


def test_identity_is_scrubbed_before_the_key_is_made():
    class Fake:
        def scrub(self, text):
            return text.replace("Jane", "[NAME]")

    cause = e.job_cause(job("BackupSubmission", "exhausted", bg={"1": entry("X", "name Jane mismatch")}), Fake())
    assert cause.error_key == "name [NAME] mismatch"


@pytest.mark.parametrize(("poll", "key", "job_class"), [
    (None, "established_no_pdf:no_poll_row", ""), ("try", "established_no_pdf:polling", "PollForm526Pdf"),
    ("pdf_not_found", "established_no_pdf:pdf_not_found", "PollForm526Pdf"),
])
def test_established_cause(poll, key, job_class):
    cause = e.established_cause(e.EstablishedClaim(7, "acct:a", T0, poll))
    assert (cause.error_key, cause.job_class, cause.seen_at) == (key, job_class, T0)


def test_job_paths():
    assert e.job_path("SubmitForm526AllClaim") == e.job_path("SubmitForm526") == "primary"
    assert e.job_path("BackupSubmission") == "backup"
    assert {e.job_path(c) for c in e.ANCILLARY_JOB_CLASSES} == {"ancillary"}
    assert e.job_path("Form526StatusPollingJob") == "other"
