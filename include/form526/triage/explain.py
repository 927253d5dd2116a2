"""Why each submission is failed, as causes: one per failing job row, plus what the submission row says.

A job row's error comes from its ``error_class`` / ``error_message`` columns or, when both are empty, from
the newest ``bgjob_errors`` entry that carries an error: vets-api's BackupSubmission never fills the
columns, and an exhausted job leaves them as its last retry set them (vets-api-facts.md section 5). A
``bgjob_errors`` value that is not an object, or entries that are not objects, mark the cause
``malformed`` (counted in the report); they never stop it.

A backup upload rejected downstream (``backup_submitted_claim_status`` = rejected) has no stored reason:
Form526StatusPollingJob writes no job row, so the cause says exactly that
(``backup_rejected:no_reason_recorded``). Error text is scrubbed of the submission's identity values
before its key is made.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from include.form526.triage.identity import NO_IDENTITY, Identity
from include.form526.triage.keys import error_class_name, error_key

PRIMARY_JOB_CLASSES = frozenset({"SubmitForm526AllClaim", "SubmitForm526", "PollForm526Pdf"})
BACKUP_JOB_CLASSES = frozenset({"BackupSubmission"})
ANCILLARY_JOB_CLASSES = ("SubmitUploads", "SubmitForm4142Job", "SubmitForm0781", "SubmitForm8940",
                         "UploadBddInstructions", "SubmitForm526Cleanup")
FAILING_STATUSES = ("retryable_error", "non_retryable_error", "exhausted")
"""Job statuses that record a failure (``pdf_not_found`` is a poll outcome, not a failure)."""
BACKUP_REJECTED = 1  # backup_submitted_claim_status enum

KEY_BACKUP_REJECTED = "backup_rejected:no_reason_recorded"
KEY_MALFORMED = "malformed_bgjob_errors"


@dataclass(frozen=True)
class FailedSubmission:
    """A submission failed as of the judgement time, and when it became failed."""

    id: int
    veteran_key: str
    created_at: datetime
    failed_at: datetime
    has_backup_id: bool = False
    backup_status: int | None = None


@dataclass(frozen=True)
class EstablishedClaim:
    """A claims_api submission VBA established whose PDF was never confirmed (state established_no_pdf)."""

    id: int
    veteran_key: str
    created_at: datetime
    poll_status: str | None = None  # the newest PollForm526Pdf row's status; None when there is none


@dataclass(frozen=True)
class JobRow:
    """One ``form526_job_statuses`` row (``bgjob_errors`` read only for failing rows)."""

    submission_id: int
    job_class: str
    status: str
    error_class: str | None
    error_message: str | None
    updated_at: datetime
    bgjob_errors: Any = None
    veteran_key: str = ""


@dataclass(frozen=True)
class JobError:
    """Where a job row's error was found: ``columns``, ``bgjob_errors`` or ``none``."""

    error_class: str | None
    error_message: str | None
    source: str
    malformed: bool = False


@dataclass(frozen=True)
class Cause:
    """One reason a submission is failed (or one failed ancillary job, or one claim awaiting its PDF)."""

    path: str
    job_class: str
    error_class: str
    error_key: str
    status: str
    seen_at: datetime
    malformed: bool = False


def job_path(job_class: str) -> str:
    """primary, backup, ancillary or other."""
    if job_class in PRIMARY_JOB_CLASSES:
        return "primary"
    if job_class in BACKUP_JOB_CLASSES:
        return "backup"
    if job_class in ANCILLARY_JOB_CLASSES:
        return "ancillary"
    return "other"


def _present(value: Any) -> bool:
    return value is not None and (not isinstance(value, str) or bool(value.strip()))


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except ValueError:
        return str(value)


def _order(item: tuple[str, Mapping[str, Any]]) -> tuple[float, str]:
    key, entry = item
    try:
        seconds = float(key)
    except ValueError:
        seconds = float("-inf")
    return seconds, str(entry.get("timestamp") or "")


def newest_bgjob_error(bgjob_errors: Any) -> tuple[Mapping[str, Any] | None, bool]:
    """(the newest entry that carries an error, or None; whether the value was malformed).

    Entries are keyed by epoch seconds; try/success entries carry null errors and are skipped.
    """
    if bgjob_errors is None:
        return None, False
    if isinstance(bgjob_errors, (str, bytes)):
        try:
            bgjob_errors = json.loads(bgjob_errors)
        except ValueError:
            return None, True
    if not isinstance(bgjob_errors, Mapping):
        return None, True
    entries = [(str(k), v) for k, v in bgjob_errors.items() if isinstance(v, Mapping)]
    malformed = len(entries) != len(bgjob_errors)
    with_error = [(k, v) for k, v in entries if _present(v.get("error_class")) or _present(v.get("error_message"))]
    if not with_error:
        return None, malformed
    return max(with_error, key=_order)[1], malformed


def job_error(row: JobRow) -> JobError:
    """The error a job row records: its columns, else its newest ``bgjob_errors`` error."""
    _, malformed = newest_bgjob_error(row.bgjob_errors)
    if _present(row.error_class) or _present(row.error_message):
        return JobError(row.error_class, row.error_message, "columns", malformed)
    entry, malformed = newest_bgjob_error(row.bgjob_errors)
    if entry is None:
        return JobError(None, None, "none", malformed)
    return JobError(_as_text(entry.get("error_class")), _as_text(entry.get("error_message")), "bgjob_errors",
                    malformed)


def job_cause(row: JobRow, identity: Identity = NO_IDENTITY, path: str | None = None) -> Cause:
    """The cause one failing job row records, its text scrubbed of ``identity`` before the key is made."""
    err = job_error(row)
    cls = error_class_name(err.error_class)
    if err.source == "none" and err.malformed:
        key = KEY_MALFORMED
    else:
        key = error_key(cls or None, identity.scrub(err.error_message))
    return Cause(path or job_path(row.job_class), row.job_class, cls, key, row.status, row.updated_at,
                 err.malformed)


def explain(sub: FailedSubmission, rows: Sequence[JobRow], identity: Identity = NO_IDENTITY) -> list[Cause]:
    """Every reason ``sub`` is failed: its failing primary/backup job rows, a downstream backup rejection,
    and, when a path recorded no error at all, a ``no_job_error:<why>`` cause, so each failed submission
    is explained at least once (on the primary path)."""
    causes = [job_cause(r, identity) for r in rows
              if r.status in FAILING_STATUSES and job_path(r.job_class) != "ancillary"]
    if not any(c.path == "primary" for c in causes):
        primary_rows = [r for r in rows if job_path(r.job_class) == "primary"]
        if not primary_rows:
            why = "never_attempted"
        elif all(r.status in ("try", "pending") for r in primary_rows):
            why = "stuck_in_try"
        else:
            why = "no_error_recorded"
        causes.append(Cause("primary", "", "", f"no_job_error:{why}", "", sub.failed_at))
    if sub.backup_status == BACKUP_REJECTED:
        causes.append(Cause("backup", "", "", KEY_BACKUP_REJECTED, "rejected", sub.failed_at))
    elif sub.has_backup_id and sub.backup_status is None and not any(c.path == "backup" for c in causes):
        causes.append(Cause("backup", "", "", "no_job_error:backup_status_never_received", "", sub.failed_at))
    return causes


def ancillary_cause(row: JobRow, identity: Identity = NO_IDENTITY) -> Cause:
    """The cause of one failed ancillary job (its claim stands; the upload needs following up)."""
    return job_cause(row, identity, "ancillary")


def established_cause(claim: EstablishedClaim) -> Cause:
    """An established claim awaiting its PDF, keyed by where the PDF poll stands."""
    poll = {None: "no_poll_row", "try": "polling"}.get(claim.poll_status, claim.poll_status or "no_poll_row")
    return Cause("primary", "PollForm526Pdf" if claim.poll_status else "", "", f"established_no_pdf:{poll}",
                 claim.poll_status or "", claim.created_at)
