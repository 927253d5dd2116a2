"""Scenarios: what happened to each synthetic submission, how often, and when it was created.

A *scenario* names one story (e.g. ``black_hole_backup_exhausted``); its expected state is
documentation and a cross-check: labels are computed from the generated rows (``labels.py``).
Groups are several submissions of one veteran (identical resubmissions or distinct claims).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

SUCCESS, ESTABLISHED_NO_PDF = "success", "established_no_pdf"
IN_PROCESS, PENDING_BACKUP, FAILED = "in_process", "pending_backup", "failed"
LABEL_STATES: tuple[str, ...] = (SUCCESS, ESTABLISHED_NO_PDF, IN_PROCESS, PENDING_BACKUP, FAILED)
EVSS, CLAIMS_API, BENEFITS_INTAKE = 0, 1, 2  # submit_endpoint enum
ACCEPTED, REJECTED, PARANOID_SUCCESS = 0, 1, 2  # backup_submitted_claim_status enum
MANUAL, IGNORED_AS_DUPLICATE, EMAIL_NOTIFIED = 0, 1, 2  # remediation_type enum

HISTORY_DAYS = 1095  # ~3 years of submissions before as_of
LIGHTHOUSE_DAYS = 500  # claims_api era: the last ~500 days before as_of
PENDING_WINDOW_DAYS = 21

# name -> (expected state for a 21-day window, age strategy)
SCENARIOS: dict[str, tuple[str, str]] = {
    # success
    "primary_success": (SUCCESS, "any"),
    "primary_success_legacy_job": (SUCCESS, "legacy"),
    "primary_success_after_retries": (SUCCESS, "any"),
    "claims_api_poll_success": (SUCCESS, "lighthouse"),
    "claims_api_no_poll_backup_accepted": (SUCCESS, "lighthouse_old"),
    "claims_api_no_poll_remediated": (SUCCESS, "lighthouse_old"),
    "backup_accepted": (SUCCESS, "any_2d"),
    "backup_paranoid_success": (SUCCESS, "any_2d"),
    "paranoid_success_without_backup_id": (SUCCESS, "old"),
    "ancillary_failure_claim_succeeded": (SUCCESS, "any"),
    "remediated_manual": (SUCCESS, "old"),
    "remediated_after_failed_attempt": (SUCCESS, "old"),
    "remediated_recent_no_ids": (SUCCESS, "recent"),
    "email_notified_backup_exhausted": (SUCCESS, "any_2d"),
    "email_notified_backup_rejected": (SUCCESS, "any_2d"),
    # a Lighthouse claim was established but its PDF never confirmed: not a failure
    "lighthouse_established_no_pdf": (ESTABLISHED_NO_PDF, "lighthouse_5d"),
    "lighthouse_pdf_polling": (ESTABLISHED_NO_PDF, "poll_window"),
    "lighthouse_pdf_status_manual": (ESTABLISHED_NO_PDF, "lighthouse_5d"),
    # in flight
    "in_process_try_only": (IN_PROCESS, "last_day"),
    "in_process_retrying": (IN_PROCESS, "last_day"),
    "in_process_no_jobs": (IN_PROCESS, "recent"),
    "in_process_backup_running": (IN_PROCESS, "last_days"),
    "in_process_failed_remediation": (IN_PROCESS, "recent"),
    "pending_backup": (PENDING_BACKUP, "pending"),
    # failed
    "black_hole_backup_exhausted": (FAILED, "old"),
    "black_hole_primary_exhausted": (FAILED, "old"),
    "primary_non_retryable": (FAILED, "old"),
    "backup_rejected": (FAILED, "any_2d"),
    "backup_failed_recent": (FAILED, "recent_failed"),
    "backup_failed_last_days": (FAILED, "last_3_days"),
    "never_attempted": (FAILED, "old"),
    "stale_try_only": (FAILED, "old"),
    "pending_backup_stale": (FAILED, "old"),
    "pending_backup_with_failed_remediation": (FAILED, "pending"),
    "no_longer_remediated": (FAILED, "old"),
    "corrupt_form_json": (FAILED, "old"),
    "awkward_empty_auth_bogus": (FAILED, "old"),
    "awkward_empty_auth": (FAILED, "old"),
    "awkward_international_address": (FAILED, "old"),
    "awkward_military_address": (FAILED, "old"),
    "awkward_zip_plus4": (FAILED, "old"),
    "awkward_missing_claim_date": (FAILED, "old"),
    "awkward_long_text": (FAILED, "old"),
    "awkward_unicode_names": (FAILED, "old"),
    "awkward_ancillary_forms": (FAILED, "old"),
    "awkward_markup_text": (FAILED, "old"),
    "awkward_blank_identifiers": (FAILED, "old"),
    "awkward_evidence_rows": (FAILED, "old"),
    # members of groups (dates come from the group)
    "dupe_failed_before_success": (FAILED, "group"),
    "dupe_success_after_failed": (SUCCESS, "group"),
    "dupe_success_first": (SUCCESS, "group"),
    "dupe_backup_accepted_first": (SUCCESS, "group"),
    "dupe_remediated_first": (SUCCESS, "group"),
    "dupe_failed_after_success": (FAILED, "group"),
    "dupe_all_failed": (FAILED, "group"),
    "dupe_ignored_original": (SUCCESS, "group"),
    "dupe_ignored_as_duplicate": (SUCCESS, "group"),
    "dupe_email_notified_first": (SUCCESS, "group"),
    "dupe_failed_after_email_notified": (FAILED, "group"),
    "dupe_cross_credential_failed": (FAILED, "group"),
    "dupe_established_no_pdf_first": (ESTABLISHED_NO_PDF, "group"),
    "dupe_failed_after_established_no_pdf": (FAILED, "group"),
    "distinct_claims_failed": (FAILED, "group"),
    "distinct_claims_success": (SUCCESS, "group"),
}
FILLER_SCENARIO = "primary_success"

# Share of N (in submissions for singles, in groups for groups); the filler takes the rest.
SINGLE_SHARES: dict[str, float] = {
    "primary_success_legacy_job": 0.02,
    "primary_success_after_retries": 0.03,
    "claims_api_poll_success": 0.10,
    "claims_api_no_poll_backup_accepted": 0.002,
    "claims_api_no_poll_remediated": 0.0005,
    "backup_accepted": 0.012,
    "backup_paranoid_success": 0.003,
    "paranoid_success_without_backup_id": 0.0003,
    "ancillary_failure_claim_succeeded": 0.015,
    "remediated_manual": 0.004,
    "remediated_after_failed_attempt": 0.0005,
    "remediated_recent_no_ids": 0.0002,
    "email_notified_backup_exhausted": 0.004,
    "email_notified_backup_rejected": 0.0015,
    "lighthouse_established_no_pdf": 0.004,
    "lighthouse_pdf_polling": 0.001,
    "lighthouse_pdf_status_manual": 0.0008,
    "in_process_try_only": 0.002,
    "in_process_retrying": 0.0015,
    "in_process_no_jobs": 0.0008,
    "in_process_backup_running": 0.002,
    "in_process_failed_remediation": 0.0002,
    "pending_backup": 0.002,
    "black_hole_backup_exhausted": 0.014,
    "black_hole_primary_exhausted": 0.0095,
    "primary_non_retryable": 0.007,
    "backup_rejected": 0.004,
    "backup_failed_recent": 0.0015,
    "backup_failed_last_days": 0.001,
    "never_attempted": 0.0025,
    "stale_try_only": 0.0015,
    "pending_backup_stale": 0.001,
    "pending_backup_with_failed_remediation": 0.0003,
    "no_longer_remediated": 0.0008,
    "corrupt_form_json": 0.0002,
    **{name: 0.00007 for name in SCENARIOS if name.startswith("awkward_")},
}
GROUP_SHARES: dict[str, float] = {
    "dupe_failed_before_success": 0.0015,
    "dupe_success_then_failed": 0.0006,
    "dupe_backup_accepted_then_failed": 0.0002,
    "dupe_remediated_then_failed": 0.0002,
    "dupe_all_failed": 0.0008,
    "dupe_ignored_as_duplicate": 0.0005,
    "dupe_email_notified_then_failed": 0.0005,
    "dupe_across_credentials": 0.0006,
    "dupe_established_no_pdf_then_failed": 0.0004,
    "distinct_claims_same_veteran": 0.001,
}
DUPE_GROUP_KINDS = frozenset(k for k in GROUP_SHARES if k.startswith("dupe_"))
MIN_N_FOR_ALL_SCENARIOS = 200


@dataclass(slots=True)
class PlanItem:
    """One submission to generate: when, which story, which group and credential."""

    created_at: datetime
    scenario: str
    group: int | None = None  # index of the group (one veteran) or None
    dupe: bool = False  # an identical copy of the group's form
    credential: int = 0  # which of the veteran's sign-in credentials (user_uuid) submitted it


def group_members(kind: str, rng: random.Random) -> list[tuple[str, int]]:
    """(scenario, credential) of the members of one group, in creation order."""
    if kind == "dupe_failed_before_success":
        return [("dupe_failed_before_success", 0)] * rng.randint(1, 3) + [("dupe_success_after_failed", 0)]
    established_first = {"dupe_success_then_failed": "dupe_success_first",
                         "dupe_backup_accepted_then_failed": "dupe_backup_accepted_first",
                         "dupe_remediated_then_failed": "dupe_remediated_first"}
    if kind in established_first:
        return [(established_first[kind], 0)] + [("dupe_failed_after_success", 0)] * rng.randint(1, 2)
    if kind == "dupe_all_failed":
        return [("dupe_all_failed", 0)] * rng.randint(2, 4)
    if kind == "dupe_ignored_as_duplicate":
        return [("dupe_ignored_original", 0)] + [("dupe_ignored_as_duplicate", 0)] * rng.randint(1, 2)
    if kind == "dupe_email_notified_then_failed":
        return [("dupe_email_notified_first", 0)] + [("dupe_failed_after_email_notified", 0)] * rng.randint(1, 2)
    if kind == "dupe_across_credentials":
        # credential 0's first row predates its account link; its later row carries the account
        return [("dupe_cross_credential_failed", 0), ("dupe_cross_credential_failed", 1),
                ("dupe_cross_credential_failed", 0)]
    if kind == "dupe_established_no_pdf_then_failed":
        return [("dupe_established_no_pdf_first", 0), ("dupe_failed_after_established_no_pdf", 0)]
    if kind == "distinct_claims_same_veteran":
        members = [("distinct_claims_failed", 0), ("distinct_claims_success", 0)]
        rng.shuffle(members)
        return members
    raise ValueError(f"unknown group kind {kind}")


def days_ago(strategy: str, rng: random.Random) -> float:
    """Age in days (before as_of) for an age strategy; 'old' is always outside the 21-day window."""
    r = rng.random()
    ranges = {
        "any": (0.01, HISTORY_DAYS), "any_2d": (2.0, HISTORY_DAYS), "legacy": (900.0, HISTORY_DAYS),
        "lighthouse": (0.05, LIGHTHOUSE_DAYS), "lighthouse_old": (22.5, LIGHTHOUSE_DAYS),
        "lighthouse_5d": (5.0, LIGHTHOUSE_DAYS), "poll_window": (1.1, 3.9), "recent": (0.02, 20.32),
        "last_day": (0.005, 0.905), "last_days": (1.1, 3.0), "pending": (1.2, 20.3),
        "recent_failed": (3.0, 20.3), "last_3_days": (0.1, 3.0),
    }
    if strategy == "old":
        return 22.5 + (HISTORY_DAYS - 22.5) * r ** 0.8
    if strategy not in ranges:
        raise ValueError(f"unknown age strategy {strategy}")
    lo, hi = ranges[strategy]
    return lo + (hi - lo) * r


def _allocate(n: int, rng: random.Random) -> list[tuple[str | None, list[tuple[str, int]]]]:
    """Units (group kind or None, members) summing to exactly n submissions."""
    minimum = 1 if n >= MIN_N_FOR_ALL_SCENARIOS else 0
    units: list[tuple[str | None, list[tuple[str, int]]]] = []
    for name, share in SINGLE_SHARES.items():
        units.extend((None, [(name, 0)]) for _ in range(max(minimum, int(share * n))))
    for kind, share in GROUP_SHARES.items():
        units.extend((kind, group_members(kind, rng)) for _ in range(max(minimum, int(share * n))))
    total = sum(len(members) for _, members in units)
    while total > n:  # only for tiny n
        total -= len(units.pop()[1])
    units.extend((None, [(FILLER_SCENARIO, 0)]) for _ in range(n - total))
    return units


def plan(n: int, rng: random.Random, as_of: datetime) -> list[PlanItem]:
    """Scenario and created_at of every submission, sorted by created_at (= id order)."""
    return place(_allocate(n, rng), rng, as_of)


def place(units: list[tuple[str | None, list[tuple[str, int]]]], rng: random.Random,
          as_of: datetime) -> list[PlanItem]:
    """Plan items of allocated units (singles and groups), dated and sorted by created_at (= id order)."""
    items: list[PlanItem] = []
    group_no = 0
    for kind, members in units:
        if kind is None:
            scenario = members[0][0]
            age = days_ago(SCENARIOS[scenario][1], rng)
            items.append(PlanItem(as_of - timedelta(days=age), scenario))
            continue
        if kind == "distinct_claims_same_veteran":
            t = as_of - timedelta(days=260 + (HISTORY_DAYS - 260) * rng.random())
            gaps = [timedelta(days=30 + 200 * rng.random()) for _ in members]
        else:  # duplicates: resubmitted within minutes to a few days
            t = as_of - timedelta(days=40 + (HISTORY_DAYS - 40) * rng.random())
            gaps = [timedelta(minutes=2 + 4300 * rng.random() ** 2) for _ in members]
        for (scenario, credential), gap in zip(members, gaps, strict=True):
            items.append(PlanItem(t, scenario, group_no, kind in DUPE_GROUP_KINDS, credential))
            t += gap
        group_no += 1
    items.sort(key=lambda it: it.created_at)
    return items
