"""Ground-truth labels, computed from the generated rows by the generator's own logic.

Independent of the project's SQL on purpose: it restates vets-api's scope
(lib/scopes/form526_submission_state.rb, vets-api-facts.md §5-7) and the dupe-set rule
(form526.md §6 with the refinements of vets-api-facts.md) in plain Python.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tools.synthetic.scenarios import (
    ACCEPTED,
    CLAIMS_API,
    EMAIL_NOTIFIED,
    ESTABLISHED_NO_PDF,
    FAILED,
    IN_PROCESS,
    MANUAL,
    PARANOID_SUCCESS,
    PENDING_BACKUP,
    PENDING_WINDOW_DAYS,
    SUCCESS,
)

DELIVERED, SKIPPED_DUPLICATE, NOT_FAILED = "delivered", "skipped_duplicate", "not_failed"
LABEL_COLS = ("submission_id", "scenario", "expected_state", "dupe_group", "veteran_key", "expected_delivery",
              "expected_duplicate_of", "expected_delivery_with_email_notified",
              "expected_duplicate_of_with_email_notified")


@dataclass(slots=True)
class Facts:
    """What the labels need to know about one generated submission."""

    id: int
    scenario: str
    created_at: datetime
    user_uuid: str
    dupe_group: str | None
    claim_id: bool
    endpoint: int | None
    poll_success: bool
    backup_id: bool
    backup_status: int | None
    backup_job_failed: bool  # a BackupSubmission row in exhausted / non_retryable_error
    latest_rem: tuple[bool, int] | None  # (success, remediation_type) of the latest row
    veteran_key: str = ""


def facts_of(sub: Any, user_uuid: str, dupe_group: str | None) -> Facts:
    """Facts of a built ``model.Sub`` (its job and remediation row tuples)."""
    poll_success = any(j[3] == "PollForm526Pdf" and j[4] == "success" for j in sub.jobs)
    backup_failed = any(j[3] == "BackupSubmission" and j[4] in ("exhausted", "non_retryable_error")
                        for j in sub.jobs)
    latest = max(sub.rems, key=lambda r: (r[5], r[0]), default=None)  # created_at desc, id desc
    return Facts(sub.id, sub.scenario, sub.created_at, user_uuid, dupe_group, sub.submitted_claim_id is not None,
                 sub.endpoint, poll_success, sub.backup_id is not None, sub.backup_status, backup_failed,
                 (bool(latest[3]), int(latest[7])) if latest else None)


def _remediated(f: Facts, include_email_notified: bool) -> bool:
    if f.latest_rem is None or not f.latest_rem[0]:
        return False
    return not (include_email_notified and f.latest_rem[1] == EMAIL_NOTIFIED)


def expected_state(f: Facts, as_of: datetime, include_email_notified: bool = False,
                   window_days: int = PENDING_WINDOW_DAYS) -> str:
    """vets-api's state: success, established_no_pdf, in_process, pending_backup or failed."""
    primary = f.claim_id and (f.endpoint != CLAIMS_API or f.poll_success)
    backup = (f.backup_id and f.backup_status in (ACCEPTED, PARANOID_SUCCESS)) or f.backup_status == PARANOID_SUCCESS
    remediated = _remediated(f, include_email_notified)
    if primary or backup or remediated:
        return SUCCESS
    if f.claim_id:  # failure (and in-flight) scopes start from submitted_claim_id IS NULL
        return ESTABLISHED_NO_PDF
    recent = f.created_at > as_of - timedelta(days=window_days)
    if not f.backup_id and recent and not f.backup_job_failed:
        return IN_PROCESS
    if f.backup_id and f.backup_status is None and f.latest_rem is None and recent:
        return PENDING_BACKUP
    return FAILED


def established(f: Facts) -> bool:
    """A claim was established for it: it makes later identical copies duplicates.

    Primary success, backup accepted / paranoid_success, a claim id without PDF, or a latest
    remediation of type manual with success. email_notified / ignored_as_duplicate establish nothing.
    """
    primary = f.claim_id and (f.endpoint != CLAIMS_API or f.poll_success)
    backup = (f.backup_id and f.backup_status in (ACCEPTED, PARANOID_SUCCESS)) or f.backup_status == PARANOID_SUCCESS
    manual = f.latest_rem is not None and f.latest_rem[0] and f.latest_rem[1] == MANUAL
    return bool(primary or backup or f.claim_id or manual)


def veteran_key(user_uuid: str, account_ids: Iterable[Any]) -> str:
    """``acct:<id>`` when any submission of the credential carries an account id, else ``uuid:<user_uuid>``."""
    ids = sorted(str(a) for a in account_ids if a is not None)
    return f"acct:{ids[0]}" if ids else f"uuid:{user_uuid}"


def deliveries(members: Sequence[Facts], as_of: datetime,
               include_email_notified: bool) -> dict[int, tuple[str, int | None]]:
    """Dedup verdict per submission: (delivered | skipped_duplicate | not_failed, duplicate_of).

    Per (veteran_key, dupe_group), ordered by created_at then id: if the first member that is
    established or failed is established, every failed copy is a duplicate of it; otherwise the
    earliest failed copy is delivered and the other failed copies are its duplicates.
    """
    out: dict[int, tuple[str, int | None]] = {}
    sets: dict[tuple[str, str], list[Facts]] = defaultdict(list)
    for f in members:
        failed = expected_state(f, as_of, include_email_notified) == FAILED
        if f.dupe_group is None:
            out[f.id] = (DELIVERED, None) if failed else (NOT_FAILED, None)
        else:
            sets[(f.veteran_key, f.dupe_group)].append(f)
    for dupe_set in sets.values():
        dupe_set.sort(key=lambda f: (f.created_at, f.id))
        failed_ids = [f.id for f in dupe_set if expected_state(f, as_of, include_email_notified) == FAILED]
        deciders = [f for f in dupe_set if established(f) or f.id in failed_ids]
        keeper: int | None = None
        if deciders and established(deciders[0]):
            keeper = deciders[0].id
        elif failed_ids:
            keeper = failed_ids[0]
        for f in dupe_set:
            if f.id not in failed_ids:
                out[f.id] = (NOT_FAILED, None)
            elif f.id == keeper:
                out[f.id] = (DELIVERED, None)
            else:
                out[f.id] = (SKIPPED_DUPLICATE, keeper)
    return out


def label_rows(members: Sequence[Facts], as_of: datetime) -> list[tuple[Any, ...]]:
    """Rows for ``synthetic.submission_labels`` (columns ``LABEL_COLS``); members share veterans."""
    default = deliveries(members, as_of, include_email_notified=False)
    with_email = deliveries(members, as_of, include_email_notified=True)
    return [(f.id, f.scenario, expected_state(f, as_of), f.dupe_group, f.veteran_key, *default[f.id],
             *with_email[f.id]) for f in members]
