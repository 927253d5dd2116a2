"""form526_job_statuses rows as each vets-api job leaves them (vets-api-facts.md §5).

One row per Sidekiq job, updated in place. JobTracker jobs (``SubmitForm526AllClaim`` and the
ancillary jobs) upsert on every step: ``try`` resets error_class/error_message, an error sets them,
and every upsert appends a ``bgjob_errors`` entry keyed by epoch seconds. Exhaustion sets
``exhausted`` and leaves the columns as the last retry set them. ``BackupSubmission`` never writes
the error columns: its errors live only in ``bgjob_errors``. ``PollForm526Pdf`` writes its own
statuses. ``Form526StatusPollingJob`` writes no row at all.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from tools.synthetic.errors import TIMEOUT, Error
from tools.synthetic.model import Sub, epoch_key, iso_z

ANCILLARY_CLASSES = ("SubmitUploads", "SubmitForm4142Job", "SubmitForm0781", "SubmitForm8940",
                     "UploadBddInstructions")
POLL_RETRY_HOURS = 96  # PollForm526Pdf retry_for
POLL_EXHAUSTED_MESSAGE = "Poll for Form 526 PDF: Retries exhausted"
POLL_RETRY_MESSAGE = "Poll for form 526 PDF: Keep on retrying!"
POLL_OVER_1_DAY = "Poll for form 526 PDF: Submission creation date is over 1 day old for submission_id "
POLL_OVER_4_DAYS = "Poll for form 526 PDF: Submission creation date is over 4 days old. Exiting..."
MANUAL_POLL_STATUSES = ("pdf_found_later", "pdf_success_on_backup_path", "pdf_manually_uploaded")
POLL_RETRY_MESSAGE = "Poll for form 526 PDF: Keep on retrying!"
POLL_OVER_1_DAY = "Poll for form 526 PDF: Submission creation date is over 1 day old for submission_id "
POLL_OVER_4_DAYS = "Poll for form 526 PDF: Submission creation date is over 4 days old. Exiting..."


def sidekiq_delay(rng: random.Random, count: int) -> timedelta:
    """Sidekiq's default retry backoff before retry number ``count`` (0-based)."""
    return timedelta(seconds=count ** 4 + 15 + rng.randrange(10) * (count + 1))


class JobRow:
    """One job's row, mutated step by step as the job runs."""

    def __init__(self, sub: Sub, job_class: str, job_id: str) -> None:
        self.sub = sub
        self.job_class = job_class
        self.job_id = job_id
        self.status = "try"
        self.error: Error | None = None
        self.updated_at = sub.created_at
        self.bgjob_errors: dict[str, dict[str, Any]] = {}

    def _entry(self, at: datetime, caller: str, error: Error | None, *, with_submission: bool = False) -> None:
        entry: dict[str, Any] = {"caller_method": caller, "error_class": error[0] if error else None,
                                 "error_message": error[1] if error else None, "timestamp": iso_z(at)}
        if with_submission:
            entry["form526_submission_id"] = self.sub.id
        self.bgjob_errors[epoch_key(at)] = entry

    def _set(self, status: str, at: datetime) -> None:
        self.status = status
        self.updated_at = at
        self.sub.touch(at)

    # -- JobTracker ---------------------------------------------------------------------------
    def tracked_try(self, at: datetime) -> None:
        self._set("try", at)
        self.error = None
        self._entry(at, "job_try", None)

    def tracked_success(self, at: datetime) -> None:
        self._set("success", at)
        self._entry(at, "job_success", None)

    def tracked_error(self, at: datetime, error: Error, *, retryable: bool = True) -> None:
        self._set("retryable_error" if retryable else "non_retryable_error", at)
        self.error = error
        self._entry(at, "retryable_error_handler" if retryable else "non_retryable_error_handler", error)

    def tracked_exhausted(self, at: datetime, caller: str = "job_exhausted") -> None:
        """Retries exhausted: the columns keep the last retry's error."""
        self._set("exhausted", at)
        self._entry(at, caller, self.error, with_submission=True)

    # -- BackupSubmission (errors only in bgjob_errors) ---------------------------------------
    def backup_status(self, status: str, at: datetime, error: Error | None = None) -> None:
        self._set(status, at)
        if error is not None:
            self._entry(at, "error_hash_for_job_status", error)

    # -- PollForm526Pdf (PollForm526PdfStatus.update_job_status) ------------------------------
    def poll_entry(self, status: str, at: datetime, message: str) -> None:
        self._set(status, at)
        self.error = ("PollForm526PdfError", message)
        self._entry(at, "update_job_status", self.error, with_submission=True)

    def poll_exhausted(self, at: datetime) -> None:
        """sidekiq_retries_exhausted: the entry keeps Sidekiq's error, the column the fixed message."""
        self._set("pdf_not_found", at)
        self.error = ("Lighthouse::PollForm526PdfError", POLL_EXHAUSTED_MESSAGE)
        self._entry(at, "update_job_status", ("Lighthouse::PollForm526PdfError", POLL_RETRY_MESSAGE),
                    with_submission=True)

    def poll_status(self, status: str, at: datetime) -> None:
        """A status set by hand from the Rails console (pdf_found_later, ...)."""
        self._set(status, at)

    def row(self, row_id: int) -> tuple[Any, ...]:
        cls, msg = self.error if self.error else (None, None)
        return (row_id, self.sub.id, self.job_id, self.job_class, self.status, cls, msg, self.updated_at,
                json.dumps(self.bgjob_errors))


class JobWriter:
    """Runs synthetic jobs for a submission and appends their final rows to ``sub.jobs``."""

    def __init__(self, rng: random.Random, next_id: int) -> None:
        self.rng = rng
        self.next_id = next_id

    def _new(self, sub: Sub, job_class: str) -> JobRow:
        return JobRow(sub, job_class, f"{self.rng.getrandbits(96):024x}")

    def _save(self, row: JobRow) -> None:
        row.sub.jobs.append(row.row(self.next_id))
        self.next_id += 1

    def _attempts(self, row: JobRow, start: datetime, failures: int,
                  error_for: Callable[[datetime], Error]) -> datetime:
        """``failures`` attempts that each end in a retryable error; returns the next attempt time."""
        sub, t = row.sub, start
        for count in range(failures):
            row.tracked_try(sub.clip(t))
            t = sub.after(self.rng, t, 1, 90)
            row.tracked_error(t, error_for(t))
            t = sub.clip(t + sidekiq_delay(self.rng, count))
        return t

    def succeeds(self, sub: Sub, job_class: str, start: datetime, retries: int = 0,
                 error_for: Callable[[datetime], Error] | None = None) -> datetime:
        """A JobTracker job that succeeds after ``retries`` retryable errors; returns its end."""
        row = self._new(sub, job_class)
        t = self._attempts(row, start, retries, error_for or (lambda _t: TIMEOUT))
        row.tracked_try(sub.clip(t))
        end = sub.after(self.rng, t, 1, 40)
        row.tracked_success(end)
        self._save(row)
        return end

    def only_tries(self, sub: Sub, job_class: str, start: datetime) -> datetime:
        """A JobTracker job whose process died after its ``try`` upsert."""
        row = self._new(sub, job_class)
        row.tracked_try(sub.clip(start))
        self._save(row)
        return row.updated_at

    def retrying(self, sub: Sub, job_class: str, start: datetime, failures: int,
                 error_for: Callable[[datetime], Error]) -> datetime:
        """A JobTracker job still between retries (last status retryable_error)."""
        row = self._new(sub, job_class)
        self._attempts(row, start, max(1, failures), error_for)
        self._save(row)
        return row.updated_at

    def exhausts(self, sub: Sub, job_class: str, start: datetime, failures: int,
                 error_for: Callable[[datetime], Error], caller: str = "job_exhausted") -> datetime:
        """A JobTracker job that fails ``failures`` times and then runs out of retries."""
        row = self._new(sub, job_class)
        self._attempts(row, start, max(1, failures), error_for)
        row.tracked_exhausted(sub.after(self.rng, row.updated_at, 1, 5), caller)
        self._save(row)
        return row.updated_at

    def fails_fatally(self, sub: Sub, job_class: str, start: datetime, error: Error, retries: int = 0,
                      error_for: Callable[[datetime], Error] | None = None) -> datetime:
        """A JobTracker job ending in non_retryable_error (after ``retries`` retryable ones)."""
        row = self._new(sub, job_class)
        t = self._attempts(row, start, retries, error_for or (lambda _t: error))
        row.tracked_try(sub.clip(t))
        row.tracked_error(sub.after(self.rng, t, 1, 60), error, retryable=False)
        self._save(row)
        return row.updated_at

    # -- BackupSubmission ---------------------------------------------------------------------
    def backup(self, sub: Sub, start: datetime, outcome: str, failures: int = 0,
               error_for: Callable[[datetime], Error] | None = None) -> datetime:
        """Form526BackupSubmissionProcess::Submit: ``pending``, then ``failures`` retryable errors, then
        ``success`` | ``exhausted`` (or it stays ``pending`` / ``retryable_error``)."""
        if outcome not in ("pending", "retryable_error", "success", "exhausted"):
            raise ValueError(f"unknown backup outcome {outcome}")
        row = self._new(sub, "BackupSubmission")
        t = sub.clip(start)
        row.backup_status("pending", t)
        errors = error_for or (lambda _t: TIMEOUT)
        for count in range(failures):
            t = sub.after(self.rng, t, 5, 300)
            row.backup_status("retryable_error", t, errors(t))
            if count < failures - 1:
                t = sub.clip(t + sidekiq_delay(self.rng, count))
        if outcome == "success":
            row.backup_status("success", sub.after(self.rng, t, 10, 600))
        elif outcome == "exhausted":
            at = sub.after(self.rng, t, 1, 5)
            row.backup_status("exhausted", at, errors(at))
        self._save(row)
        return row.updated_at

    # -- PollForm526Pdf -----------------------------------------------------------------------
    def poll(self, sub: Sub, start: datetime, outcome: str) -> datetime:
        """Lighthouse::PollForm526Pdf (lib/lighthouse/poll_form526_pdf.rb), retried by Sidekiq.

        Each attempt upserts ``try``. Under 1 day old it raises to retry; 1-4 days old it records
        ``try`` with error_class PollForm526PdfError first; older than 4 days it records ``pdf_not_found``;
        after 96 h of retries the exhausted handler records ``pdf_not_found`` ("Retries exhausted").
        ``outcome``: success | polling | pdf_not_found | pdf_not_found_exhausted | a manual status.
        """
        row = self._new(sub, "PollForm526Pdf")
        t = sub.clip(start)
        if outcome == "success":
            attempts = 1 if self.rng.random() < 0.7 else self.rng.randint(2, 8)
        elif outcome in ("polling", "pdf_not_found", "pdf_not_found_exhausted"):
            attempts = 60  # the age rules, retry_for or as_of end it first
        elif outcome in MANUAL_POLL_STATUSES:
            attempts = self.rng.randint(3, 12)
        else:
            raise ValueError(f"unknown poll outcome {outcome}")
        for count in range(attempts):
            row.tracked_try(t)
            age = t - sub.created_at
            nxt = sub.clip(t + sidekiq_delay(self.rng, count))
            last = count == attempts - 1 or nxt >= sub.as_of
            if outcome == "success" and last:
                row.tracked_success(sub.after(self.rng, t, 1, 20))
                break
            if outcome == "pdf_not_found" and age > timedelta(days=4):
                row.poll_entry("pdf_not_found", t, POLL_OVER_4_DAYS)
                break
            if timedelta(days=1) <= age <= timedelta(days=4):
                row.poll_entry("try", t, POLL_OVER_1_DAY + str(sub.id))
            if outcome == "pdf_not_found_exhausted" and t - start >= timedelta(hours=POLL_RETRY_HOURS):
                row.poll_exhausted(sub.after(self.rng, t, 1, 5))
                break
            if last:
                break
            t = nxt
        if outcome in MANUAL_POLL_STATUSES:
            row.poll_status(outcome, sub.clip(start + timedelta(days=self.rng.uniform(5, 60))))
        self._save(row)
        return row.updated_at
