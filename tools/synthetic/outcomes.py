"""Per-scenario stories: the outcome columns, job rows and remediation rows of one submission."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from tools.synthetic import errors
from tools.synthetic.jobs import ANCILLARY_CLASSES, JobWriter
from tools.synthetic.model import Sub, rand_uuid
from tools.synthetic.remediations import RemediationWriter
from tools.synthetic.scenarios import (
    ACCEPTED,
    BENEFITS_INTAKE,
    CLAIMS_API,
    EVSS,
    LIGHTHOUSE_DAYS,
    PARANOID_SUCCESS,
    REJECTED,
)

PRIMARY_CLASS = "SubmitForm526AllClaim"
_FLAG_CLASSES = (("4142", "SubmitForm4142Job"), ("0781", "SubmitForm0781"), ("8940", "SubmitForm8940"),
                 ("bdd", "UploadBddInstructions"))
_SUCCESS_LIKE = ("primary_success", "dupe_success_after_failed", "dupe_success_first", "dupe_ignored_original",
                 "distinct_claims_success")
_BLACK_HOLES = ("black_hole_backup_exhausted", "dupe_all_failed", "dupe_failed_before_success",
                "distinct_claims_failed", "dupe_failed_after_email_notified", "dupe_cross_credential_failed",
                "dupe_failed_after_established_no_pdf")


class Outcomes:
    """Applies a scenario to a ``Sub`` (deterministic given the random stream)."""

    def __init__(self, rng: random.Random, as_of: datetime, jobs: JobWriter, rems: RemediationWriter,
                 next_claim: int) -> None:
        self.rng = rng
        self.as_of = as_of
        self.jobs = jobs
        self.rems = rems
        self.next_claim = next_claim
        self.lighthouse_cutover = as_of - timedelta(days=LIGHTHOUSE_DAYS)
        self.backup_running = 0
        self.no_pdf = 0

    # -- building blocks ----------------------------------------------------------------------
    def era_endpoint(self, t: datetime) -> int:
        if t < self.lighthouse_cutover:
            return EVSS
        return CLAIMS_API if self.rng.random() < 0.85 else EVSS

    def claim_id(self, s: Sub) -> None:
        self.next_claim += self.rng.randint(1, 40)
        s.submitted_claim_id = self.next_claim

    def primary_success(self, s: Sub, retries: int = 0, legacy: bool = False, endpoint: int | None = None,
                        poll: str | None = "success", ancillary_failures: int = 0) -> datetime:
        rng = self.rng
        s.endpoint = None if legacy else (endpoint if endpoint is not None else self.era_endpoint(s.created_at))
        t = self.jobs.succeeds(s, "SubmitForm526" if legacy else PRIMARY_CLASS, s.after(rng, s.created_at, 2, 40),
                               retries, lambda at: errors.retryable_primary_error(rng, at))
        self.claim_id(s)
        s.workflow_complete = rng.random() < 0.97
        s.aasm = rng.choice(("delivered_to_primary", "finalized_as_successful", "unprocessed"))
        if s.endpoint == CLAIMS_API and poll is not None:
            self.jobs.poll(s, s.after(rng, t, 5, 120), poll)
        self.ancillary(s, t, ancillary_failures)
        return t

    def ancillary(self, s: Sub, t: datetime, failures: int = 0) -> None:
        """Jobs that follow a primary success; ``failures`` of them fail (harmless to the claim)."""
        rng = self.rng
        classes = ["SubmitUploads"] * s.form_flags.get("uploads", 0)
        classes += [cls for flag, cls in _FLAG_CLASSES if s.form_flags.get(flag)]
        while len(classes) < failures:
            classes.append(rng.choice(ANCILLARY_CLASSES))
        failing = set(rng.sample(range(len(classes)), failures)) if failures else set()
        for i, cls in enumerate(classes):
            start = s.after(rng, t, 5, 900)
            if i not in failing:
                self.jobs.succeeds(s, cls, start)
                continue
            error = errors.ancillary_error(rng, cls)
            if self.as_of - start < timedelta(days=1):
                self.jobs.retrying(s, cls, start, rng.randint(1, 4), lambda _t, e=error: e)
            else:
                self.jobs.exhausts(s, cls, start, rng.randint(8, 15), lambda _t, e=error: e, caller="")
        if s.endpoint in (EVSS, None):
            self.jobs.succeeds(s, "SubmitForm526Cleanup", s.after(rng, t, 60, 600))

    def primary_failure(self, s: Sub, fatal: bool | None = None) -> datetime:
        """The primary job ends exhausted (retryable errors) or in non_retryable_error; returns the end."""
        rng = self.rng
        if fatal is None:
            fatal = rng.random() < 0.35
        if s.endpoint is None:
            s.endpoint = self.era_endpoint(s.created_at)
        start = s.after(rng, s.created_at, 2, 60)
        if fatal:
            t = self.jobs.fails_fatally(s, PRIMARY_CLASS, start, errors.fatal_primary_error(rng),
                                        rng.choice((0, 0, 0, 1, 2)),
                                        lambda at: errors.retryable_primary_error(rng, at))
        else:
            t = self.jobs.exhausts(s, PRIMARY_CLASS, start, rng.randint(13, 15),
                                   lambda at: errors.retryable_primary_error(rng, at))
        s.aasm = rng.choice(("failed_primary_delivery", "rejected_by_primary", "unprocessed"))
        return t

    def backup_upload(self, s: Sub, t: datetime, status: int | None, failures: int = 0) -> datetime:
        """A successful BackupSubmission: backup id set, backup status as given (None: not polled yet)."""
        rng = self.rng
        t = self.jobs.backup(s, s.after(rng, t, 5, 600), "success", failures,
                             lambda _t: errors.backup_error(rng, False))
        s.backup_id = str(rand_uuid(rng))
        s.backup_status = status
        s.endpoint = BENEFITS_INTAKE
        s.aasm = {ACCEPTED: "accepted_by_backup", REJECTED: "rejected_by_backup",
                  PARANOID_SUCCESS: "accepted_by_backup", None: "delivered_to_backup"}[status]
        return t

    def backup_failure(self, s: Sub, t: datetime, fatal: bool | None = None, quick: bool = False) -> datetime:
        """BackupSubmission retries and is exhausted; a fatal error repeats on every retry."""
        rng = self.rng
        if fatal is None:
            fatal = rng.random() < 0.4
        error = errors.backup_error(rng, True) if fatal else None
        return self.jobs.backup(s, s.after(rng, t, 5, 600), "exhausted",
                                rng.randint(2, 4) if quick else rng.randint(4, 10),
                                (lambda _t: error) if error else (lambda _t: errors.backup_error(rng, False)))

    def black_hole(self, s: Sub, always_backup: bool = False) -> datetime:
        t = self.primary_failure(s, False if always_backup else None)
        if always_backup or s.created_at >= self.lighthouse_cutover or self.rng.random() < 0.5:
            t = self.backup_failure(s, t)
        return t

    def lighthouse_established(self, s: Sub, poll: str | None) -> datetime:
        """A Lighthouse claim: claim id set, PDF never confirmed (``poll`` outcome, or no poll row)."""
        s.endpoint = CLAIMS_API
        t = self.jobs.succeeds(s, PRIMARY_CLASS, s.after(self.rng, s.created_at, 2, 40))
        self.claim_id(s)
        s.aasm = "delivered_to_primary"
        if poll is not None:
            t = self.jobs.poll(s, s.after(self.rng, t, 5, 120), poll)
        return t

    # -- per-scenario -------------------------------------------------------------------------
    def apply(self, s: Sub, group_first_id: int | None) -> None:
        """Fill jobs, remediations and outcome columns for ``s.scenario``."""
        rng = self.rng
        sc = s.scenario
        if sc in _SUCCESS_LIKE:
            self.primary_success(s, retries=rng.randint(1, 3) if rng.random() < 0.05 else 0)
        elif sc == "primary_success_legacy_job":
            self.primary_success(s, legacy=True)
        elif sc == "primary_success_after_retries":
            self.primary_success(s, retries=rng.randint(1, 6))
        elif sc == "claims_api_poll_success":
            self.primary_success(s, endpoint=CLAIMS_API)
        elif sc in ("claims_api_no_poll_backup_accepted", "claims_api_no_poll_remediated"):
            t = self.lighthouse_established(s, rng.choice(("pdf_not_found", "pdf_not_found_exhausted")))
            if sc == "claims_api_no_poll_backup_accepted":
                self.backup_upload(s, t, ACCEPTED)
                s.endpoint = CLAIMS_API  # success must come from the backup rule
            else:
                self.rems.manual(s, s.after(rng, t, 3600, 30 * 86400), True)
        elif sc in ("lighthouse_established_no_pdf", "dupe_established_no_pdf_first"):
            self.no_pdf += 1  # cycle, so small seeds show every variant (None: the poll job never ran)
            self.lighthouse_established(s, ("pdf_not_found", None, "pdf_not_found_exhausted")[self.no_pdf % 3])
        elif sc == "lighthouse_pdf_polling":
            self.lighthouse_established(s, "polling")
        elif sc == "lighthouse_pdf_status_manual":
            self.lighthouse_established(s, rng.choice(("pdf_found_later", "pdf_success_on_backup_path",
                                                       "pdf_manually_uploaded")))
        elif sc in ("backup_accepted", "backup_paranoid_success", "dupe_backup_accepted_first"):
            t = self.primary_failure(s)
            self.backup_upload(s, t, PARANOID_SUCCESS if sc == "backup_paranoid_success" else ACCEPTED,
                               failures=rng.choice((0, 0, 0, 1, 2)))
        elif sc == "paranoid_success_without_backup_id":
            self.jobs.backup(s, s.after(rng, self.primary_failure(s), 5, 600), "success")
            s.backup_status = PARANOID_SUCCESS
        elif sc == "ancillary_failure_claim_succeeded":
            self.primary_success(s, ancillary_failures=rng.choice((1, 1, 2)))
        elif sc in ("remediated_manual", "dupe_remediated_first"):
            self.black_hole(s)
            self.rems.manual(s, s.after(rng, s.since(), 86400, 200 * 86400), True)
        elif sc == "remediated_recent_no_ids":
            self.primary_failure(s, True)
            self.rems.manual(s, s.after(rng, s.since(), 600, 3 * 86400), True)
        elif sc == "remediated_after_failed_attempt":
            self.black_hole(s)
            self.rems.manual(s, s.after(rng, s.since(), 86400, 60 * 86400), False)
            self.rems.manual(s, s.after(rng, s.since(), 86400, 60 * 86400), True)
        elif sc in ("email_notified_backup_exhausted", "dupe_email_notified_first"):
            t = self.primary_failure(s, True if self.as_of - s.created_at < timedelta(days=3) else None)
            self.rems.email_notified(s, self.backup_failure(s, t, quick=True))
        elif sc == "email_notified_backup_rejected":
            t = self.backup_upload(s, self.primary_failure(s), REJECTED)
            self.rems.email_notified(s, s.after(rng, t, 3600, 5 * 86400))
        elif sc == "in_process_try_only":
            self.jobs.only_tries(s, PRIMARY_CLASS, s.after(rng, s.created_at, 1, 20))
        elif sc == "in_process_retrying":
            self.jobs.retrying(s, PRIMARY_CLASS, s.after(rng, s.created_at, 2, 60), rng.randint(1, 4),
                               lambda at: errors.retryable_primary_error(rng, at))
        elif sc == "in_process_no_jobs":
            pass
        elif sc == "in_process_backup_running":
            t = self.primary_failure(s, True)
            self.backup_running += 1  # alternate, so small seeds show both statuses
            if self.backup_running % 2 == 0:
                self.jobs.backup(s, s.after(rng, t, 5, 600), "pending")
            else:
                self.jobs.backup(s, s.after(rng, t, 5, 600), "retryable_error", rng.randint(1, 3),
                                 lambda _t: errors.backup_error(rng, False))
        elif sc == "in_process_failed_remediation":
            self.primary_failure(s, True)
            self.rems.manual(s, s.after(rng, s.since(), 600, 5 * 86400), False)
        elif sc in ("pending_backup", "pending_backup_stale", "pending_backup_with_failed_remediation"):
            self.backup_upload(s, self.primary_failure(s, True if sc != "pending_backup_stale" else None), None)
            if sc == "pending_backup_with_failed_remediation":
                self.rems.manual(s, s.after(rng, s.since(), 600, 5 * 86400), False)
        elif sc in _BLACK_HOLES:
            t = self.primary_failure(s, False if sc == "black_hole_backup_exhausted" else None)
            if sc == "black_hole_backup_exhausted" or rng.random() < 0.5:
                self.backup_failure(s, t)
        elif sc == "black_hole_primary_exhausted":  # backup path disabled then: no BackupSubmission row
            self.primary_failure(s, False)
        elif sc == "primary_non_retryable":
            t = self.primary_failure(s, True)
            if rng.random() < 0.4:
                self.backup_failure(s, t, True)
        elif sc == "backup_rejected":
            self.backup_upload(s, self.primary_failure(s), REJECTED)
        elif sc in ("backup_failed_recent", "backup_failed_last_days"):
            too_young = self.as_of - s.created_at < timedelta(days=1.3)
            t = self.primary_failure(s, too_young or rng.random() < 0.5)
            self.backup_failure(s, t, quick=too_young)
        elif sc == "never_attempted":
            pass
        elif sc == "stale_try_only":
            self.jobs.only_tries(s, PRIMARY_CLASS, s.after(rng, s.created_at, 1, 20))
        elif sc == "no_longer_remediated":
            self.black_hole(s)
            t1 = s.after(rng, s.since(), 86400, 60 * 86400)
            self.rems.manual_then_unsuccessful(s, t1, s.after(rng, t1, 86400, 30 * 86400))
        elif sc == "dupe_failed_after_success":
            # the first copy's claim is pending: EVSS refuses the copy (PIF in use)
            s.endpoint = self.era_endpoint(s.created_at)
            self.jobs.fails_fatally(s, PRIMARY_CLASS, s.after(rng, s.created_at, 3, 60), errors.evss_error(
                "form526.submit.save.draftForm.PIFInUse", "Claim could not be established. Retries will fail."))
            s.aasm = "rejected_by_primary"
        elif sc == "dupe_ignored_as_duplicate":
            self.primary_failure(s, True)
            self.rems.ignored_as_duplicate(s, s.after(rng, s.since(), 86400, 90 * 86400), group_first_id or s.id)
        elif sc == "corrupt_form_json" or sc.startswith("awkward_"):
            if sc in ("awkward_empty_auth_bogus", "awkward_empty_auth", "awkward_blank_identifiers"):
                # the backup path cannot build metadata without a file number: it fails every retry
                t = self.primary_failure(s)
                self.jobs.backup(s, s.after(rng, t, 5, 600), "exhausted", rng.randint(4, 10),
                                 lambda _t: errors.FILE_NUMBER_INVALID)
            else:
                self.black_hole(s)
        else:  # pragma: no cover - every scenario is handled above
            raise AssertionError(f"unhandled scenario {sc}")
