"""Synthetic Form 526 source data: vets-api tables filled with labelled, realistic submissions.

Library: ``create_schema(conn)`` and ``seed(conn, n, seed=42, as_of=None, progress=None)``.
CLI: ``python -m tools.synthetic schema --dsn DSN`` and
``python -m tools.synthetic seed --dsn DSN --n N [--seed 42] [--as-of ISO] [--batch-rows 5000]``.

Every generated submission gets a row in ``synthetic.submission_labels`` with its scenario, the
state the failure definition must give it (for the default 21-day window, measured against
``as_of``) and, for duplicate sets, a ``dupe_group``. All data is fake: SSNs are in the
never-issued 000-xx-xxxx range, names come from small built-in lists.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import psycopg

from include.form526.source.selection import apply_source_schema, load_sql, normalize_as_of

SUCCESS, IN_PROCESS, PENDING_BACKUP, FAILED = "success", "in_process", "pending_backup", "failed"
EVSS, CLAIMS_API, BENEFITS_INTAKE = 0, 1, 2  # submit_endpoint enum
ACCEPTED, REJECTED, PARANOID_SUCCESS = 0, 1, 2  # backup_submitted_claim_status enum

HISTORY_DAYS = 1095  # ~3 years of submissions before as_of
LIGHTHOUSE_DAYS = 500  # claims_api era: the last ~500 days before as_of
DEFAULT_BATCH_ROWS = 5000

# --------------------------------------------------------------------------------------------
# Scenarios: name -> (expected state for a 21-day window, age strategy)
# --------------------------------------------------------------------------------------------
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
    "claims_api_no_poll": (FAILED, "lighthouse"),
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
    # members of duplicate sets / same-veteran groups (dates come from the group)
    "dupe_failed_before_success": (FAILED, "group"),
    "dupe_success_after_failed": (SUCCESS, "group"),
    "dupe_success_first": (SUCCESS, "group"),
    "dupe_failed_after_success": (FAILED, "group"),
    "dupe_all_failed": (FAILED, "group"),
    "dupe_ignored_original": (SUCCESS, "group"),
    "dupe_ignored_as_duplicate": (SUCCESS, "group"),
    "distinct_claims_failed": (FAILED, "group"),
    "distinct_claims_success": (SUCCESS, "group"),
}
FILLER_SCENARIO = "primary_success"

# Share of N (in submissions for singles, in groups for groups); the filler takes the rest.
_SINGLE_SHARES: dict[str, float] = {
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
    "in_process_try_only": 0.002,
    "in_process_retrying": 0.0015,
    "in_process_no_jobs": 0.0008,
    "in_process_backup_running": 0.001,
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
    "claims_api_no_poll": 0.003,
    "no_longer_remediated": 0.0008,
    "corrupt_form_json": 0.0002,
    "awkward_empty_auth_bogus": 0.00007,
    "awkward_empty_auth": 0.00007,
    "awkward_international_address": 0.00007,
    "awkward_military_address": 0.00007,
    "awkward_zip_plus4": 0.00007,
    "awkward_missing_claim_date": 0.00007,
    "awkward_long_text": 0.00007,
    "awkward_unicode_names": 0.00007,
    "awkward_ancillary_forms": 0.00007,
    "awkward_markup_text": 0.00007,
    "awkward_blank_identifiers": 0.00007,
}
_GROUP_SHARES: dict[str, float] = {
    "dupe_failed_before_success": 0.0015,
    "dupe_success_then_failed": 0.001,
    "dupe_all_failed": 0.0008,
    "dupe_ignored_as_duplicate": 0.0005,
    "distinct_claims_same_veteran": 0.001,
}
_DUPE_GROUP_KINDS = frozenset(
    {"dupe_failed_before_success", "dupe_success_then_failed", "dupe_all_failed",
     "dupe_ignored_as_duplicate"}
)
_MIN_N_FOR_ALL_SCENARIOS = 200

# --------------------------------------------------------------------------------------------
# Built-in word lists (no external data)
# --------------------------------------------------------------------------------------------
FIRST_NAMES = [
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William", "Elizabeth",
    "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
    "Christopher", "Nancy", "Daniel", "Lisa", "Matthew", "Betty", "Anthony", "Margaret", "Mark", "Sandra",
    "Donald", "Ashley", "Steven", "Kimberly", "Paul", "Emily", "Andrew", "Donna", "Joshua", "Michelle", "Kenneth",
    "Carol", "Kevin", "Amanda", "Brian", "Dorothy", "George", "Melissa", "Timothy", "Deborah", "Luis", "Maria",
    "Carlos", "Rosa", "Tyrone", "Keisha", "Wei", "Mei", "Darnell", "Aaliyah",
]
LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker",
    "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson",
    "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Kim", "Patel", "Washington", "Begay",
    "Yazzie", "Tanaka", "Kowalski", "Okafor", "Schmidt", "Murphy",
]
AWKWARD_FIRST_NAMES = ["José", "Zoë", "Łukasz", "Anne-Marie", "Renée", "François", "Ngọc",
                       "Siobhán", "Jean-Luc", "Ægir"]
AWKWARD_LAST_NAMES = ["O'Brien", "Núñez", "Smith-Jones", "D'Angelo", "Müller", "Łódź-Kowalski",
                      "de la Cruz", "St. John", "Nguyễn", "Ó Súilleabháin"]
CITIES = [
    ("Springfield", "IL", "627"), ("Austin", "TX", "787"), ("San Diego", "CA", "921"),
    ("Jacksonville", "FL", "322"), ("Columbus", "OH", "432"), ("Fayetteville", "NC", "283"),
    ("Tacoma", "WA", "984"), ("Colorado Springs", "CO", "809"), ("Norfolk", "VA", "235"),
    ("El Paso", "TX", "799"), ("Killeen", "TX", "765"), ("Clarksville", "TN", "370"),
    ("Anchorage", "AK", "995"), ("Honolulu", "HI", "968"), ("San Juan", "PR", "009"),
    ("Phoenix", "AZ", "850"), ("Atlanta", "GA", "303"), ("Boston", "MA", "021"),
    ("Denver", "CO", "802"), ("Omaha", "NE", "681"),
]
STREETS = ["Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Pine St", "Elm St", "Washington Blvd",
           "Lake Rd", "Hill St", "Park Ave", "Sunset Blvd", "River Rd", "Veterans Pkwy"]
INTERNATIONAL = [
    ("Germany", "Berlin", "10115"), ("Japan", "Tokyo", "100-0001"), ("Philippines", "Manila", "1000"),
    ("Mexico", "Guadalajara", "44100"), ("United Kingdom", "London", "SW1A 1AA"),
    ("Korea, Republic of", "Seoul", "04524"), ("Canada", "Toronto", "M5V 2T6"),
    ("Italy", "Vicenza", "36100"),
]
MILITARY = [("APO", "AE", "09"), ("FPO", "AP", "96"), ("APO", "AA", "340"), ("DPO", "AE", "09")]
DISABILITIES = [
    ("tinnitus", "3140", 6260), ("hearing loss", "3140", 6100), ("PTSD", "8989", 9411),
    ("lower back strain", "8997", 5237), ("left knee strain", "8997", 5260),
    ("right knee strain", "8997", 5260), ("migraines", "8969", 8100),
    ("sleep apnea", "8960", 6847), ("hypertension", "8968", 7101), ("asthma", "8935", 6602),
    ("plantar fasciitis", "8997", 5276), ("GERD", "8962", 7346),
    ("radiculopathy, left lower extremity", "8964", 8520),
    ("degenerative arthritis of the spine", "8997", 5242), ("traumatic brain injury", "8987", 8045),
    ("right shoulder impingement", "8997", 5201), ("depression", "8989", 9434),
    ("chronic sinusitis", "8935", 6513),
]
SECONDARY = ["depression", "erectile dysfunction", "radiculopathy", "insomnia",
             "left hip strain", "obesity", "anxiety"]
CENTERS = ["VA Medical Center Tampa", "Walter Reed National Military Medical Center",
           "Carl R. Darnall Army Medical Center", "Naval Hospital Camp Pendleton",
           "Brooke Army Medical Center", "Eisenhower Army Medical Center", "Local VA Clinic"]
BRANCHES = ["Army", "Navy", "Air Force", "Marine Corps", "Coast Guard", "Army Reserve",
            "Navy Reserve", "Air National Guard", "Army National Guard"]
BANKS = ["NAVY FEDERAL CREDIT UNION", "USAA FEDERAL SAVINGS BANK", "WELLS FARGO BANK",
         "BANK OF AMERICA", "PENTAGON FEDERAL CREDIT UNION", "JPMORGAN CHASE BANK"]
FLASHES = ["Homeless", "Hardship", "Terminally Ill", "POW", "Amyotrophic Lateral Sclerosis",
           "Priority Processing - Veteran over age 85"]
UPLOADS = [("private_medical_record.pdf", "L451"), ("DD214.pdf", "L023"),
           ("buddy_statement.pdf", "L015"), ("VA_21-4138.pdf", "L023"),
           ("audiogram.jpg", "L070"), ("MRI results.pdf", "L451")]
WORDS = [
    "pain", "while", "running", "during", "deployment", "the", "veteran", "reports", "constant", "ringing", "and",
    "stiffness", "in", "the", "morning", "after", "ruck", "marches", "treated", "at", "sick", "call", "with",
    "motrin", "and", "rest", "profile", "was", "issued", "for", "several", "weeks", "symptoms", "continued",
    "after", "separation",
]

# Sidekiq caller per job class (for bgjob_errors).
_CALLERS = {
    "SubmitForm526AllClaim": "EVSS::DisabilityCompensationForm::SubmitForm526AllClaim#perform",
    "SubmitForm526": "EVSS::DisabilityCompensationForm::SubmitForm526#perform",
    "BackupSubmission": "Sidekiq::Form526BackupSubmissionProcess::Submit#perform",
    "PollForm526Pdf": "Lighthouse::PollForm526Pdf#perform",
    "SubmitUploads": "EVSS::DisabilityCompensationForm::SubmitUploads#perform",
    "SubmitForm4142Job": "CentralMail::SubmitForm4142Job#perform",
    "SubmitForm0781": "EVSS::DisabilityCompensationForm::SubmitForm0781#perform",
    "SubmitForm8940": "EVSS::DisabilityCompensationForm::SubmitForm8940#perform",
    "UploadBddInstructions": "EVSS::DisabilityCompensationForm::UploadBddInstructions#perform",
    "SubmitForm526Cleanup": "EVSS::DisabilityCompensationForm::SubmitForm526Cleanup#perform",
    "Form526StatusPollingJob": "Form526StatusPollingJob#perform",
}

SUB_COLS = ("id", "user_uuid", "saved_claim_id", "submitted_claim_id", "workflow_complete",
            "created_at", "updated_at", "multiple_birls", "auth_headers_json", "form_json",
            "birls_ids_tried", "encrypted_kms_key", "user_account_id",
            "backup_submitted_claim_id", "aasm_state", "submit_endpoint",
            "backup_submitted_claim_status", "needs_kms_rotation")
JOB_COLS = ("id", "form526_submission_id", "job_id", "job_class", "status", "error_class",
            "error_message", "updated_at", "bgjob_errors")
REM_COLS = ("id", "form526_submission_id", "lifecycle", "success", "ignored_as_duplicate",
            "created_at", "updated_at", "remediation_type")
LABEL_COLS = ("submission_id", "scenario", "expected_state", "dupe_group")


@dataclass(frozen=True)
class SeedSummary:
    """What one ``seed`` call inserted (counts only, no PII)."""

    n: int
    seed: int
    as_of: datetime
    first_id: int
    last_id: int
    job_rows: int
    remediation_rows: int
    per_scenario: dict[str, int]
    per_state: dict[str, int]
    elapsed_seconds: float

    @property
    def failed_share(self) -> float:
        """Share of the seeded submissions labelled failed."""
        return self.per_state.get(FAILED, 0) / self.n if self.n else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly representation."""
        return {
            "n": self.n, "seed": self.seed, "as_of": self.as_of.isoformat(),
            "first_id": self.first_id, "last_id": self.last_id, "job_rows": self.job_rows,
            "remediation_rows": self.remediation_rows, "per_state": self.per_state,
            "per_scenario": self.per_scenario, "failed_share": round(self.failed_share, 4),
            "elapsed_seconds": round(self.elapsed_seconds, 2),
        }


# --------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------
def create_schema(conn: psycopg.Connection) -> None:
    """Create the vets-api source tables and ``synthetic.submission_labels`` (idempotent)."""
    apply_source_schema(conn)
    conn.execute(load_sql("labels.sql", Path(__file__).resolve().parent))


# --------------------------------------------------------------------------------------------
# Plan: which scenario each submission gets and when it was created
# --------------------------------------------------------------------------------------------
@dataclass(slots=True)
class _PlanItem:
    created_at: datetime
    scenario: str
    group: int | None = None  # index of the group (shared veteran) or None
    dupe: bool = False


def _group_members(kind: str, rng: random.Random) -> list[str]:
    """Scenario names of the members of one group, in creation order."""
    if kind == "dupe_failed_before_success":
        return ["dupe_failed_before_success"] * rng.randint(1, 3) + ["dupe_success_after_failed"]
    if kind == "dupe_success_then_failed":
        return ["dupe_success_first"] + ["dupe_failed_after_success"] * rng.randint(1, 2)
    if kind == "dupe_all_failed":
        return ["dupe_all_failed"] * rng.randint(2, 4)
    if kind == "dupe_ignored_as_duplicate":
        return ["dupe_ignored_original"] + ["dupe_ignored_as_duplicate"] * rng.randint(1, 2)
    if kind == "distinct_claims_same_veteran":
        members = ["distinct_claims_failed", "distinct_claims_success"]
        rng.shuffle(members)
        return members
    raise ValueError(f"unknown group kind {kind}")


def _days_ago(strategy: str, rng: random.Random) -> float:
    """Age in days (before as_of) for an age strategy; 'old' is always outside 21 days."""
    r = rng.random()
    if strategy == "any":
        return 0.01 + (HISTORY_DAYS - 0.01) * r
    if strategy == "any_2d":
        return 2.0 + (HISTORY_DAYS - 2.0) * r
    if strategy == "old":
        return 22.5 + (HISTORY_DAYS - 22.5) * r ** 0.8
    if strategy == "legacy":
        return 900.0 + (HISTORY_DAYS - 900.0) * r
    if strategy == "lighthouse":
        return 0.05 + (LIGHTHOUSE_DAYS - 0.05) * r
    if strategy == "lighthouse_old":
        return 22.5 + (LIGHTHOUSE_DAYS - 22.5) * r
    if strategy == "recent":
        return 0.02 + 20.3 * r
    if strategy == "last_day":
        return 0.005 + 0.9 * r
    if strategy == "last_days":
        return 1.1 + 1.9 * r
    if strategy == "pending":
        return 1.2 + 19.1 * r
    if strategy == "recent_failed":
        return 3.0 + 17.3 * r
    if strategy == "last_3_days":
        return 0.1 + 2.9 * r
    raise ValueError(f"unknown age strategy {strategy}")


def _allocate(n: int, rng: random.Random) -> list[list[str]]:
    """Units (lists of member scenarios) summing to exactly n submissions."""
    minimum = 1 if n >= _MIN_N_FOR_ALL_SCENARIOS else 0
    units: list[list[str]] = []
    for name, share in _SINGLE_SHARES.items():
        units.extend([name] for _ in range(max(minimum, int(share * n))))
    for kind, share in _GROUP_SHARES.items():
        units.extend([*_group_members(kind, rng), f"@{kind}"]
                     for _ in range(max(minimum, int(share * n))))
    total = sum(len(u) - (1 if u[-1].startswith("@") else 0) for u in units)
    while total > n:  # only for tiny n
        unit = units.pop()
        total -= len(unit) - (1 if unit[-1].startswith("@") else 0)
    units.extend([FILLER_SCENARIO] for _ in range(n - total))
    return units


def _plan(n: int, rng: random.Random, as_of: datetime) -> list[_PlanItem]:
    """Scenario and created_at of every submission, sorted by created_at (= id order)."""
    items: list[_PlanItem] = []
    group_no = 0
    for unit in _allocate(n, rng):
        if not unit[-1].startswith("@"):
            scenario = unit[0]
            age = _days_ago(SCENARIOS[scenario][1], rng)
            items.append(_PlanItem(as_of - timedelta(days=age), scenario))
            continue
        kind = unit[-1][1:]
        members = unit[:-1]
        if kind == "distinct_claims_same_veteran":
            t = as_of - timedelta(days=260 + (HISTORY_DAYS - 260) * rng.random())
            gaps = [timedelta(days=30 + 200 * rng.random()) for _ in members]
        else:  # duplicates: resubmitted within minutes to a few days
            t = as_of - timedelta(days=40 + (HISTORY_DAYS - 40) * rng.random())
            gaps = [timedelta(minutes=2 + 4300 * rng.random() ** 2) for _ in members]
        for scenario, gap in zip(members, gaps, strict=False):
            items.append(_PlanItem(t, scenario, group_no, kind in _DUPE_GROUP_KINDS))
            t += gap
        group_no += 1
    items.sort(key=lambda it: it.created_at)
    return items


# --------------------------------------------------------------------------------------------
# Row generation
# --------------------------------------------------------------------------------------------
def _ruby_inspect(entries: Sequence[dict[str, str]]) -> str:
    """EVSS error list as vets-api stored it: a Ruby ``inspect`` of an array of hashes."""
    return "[" + ", ".join(
        "{" + ", ".join(f"{json.dumps(k)}=>{json.dumps(v, ensure_ascii=False)}"
                        for k, v in e.items()) + "}"
        for e in entries
    ) + "]"


def _iso_z(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


_EPOCH = datetime(1970, 1, 1)


@dataclass(slots=True)
class _Veteran:
    user_uuid: str
    user_account_id: uuid.UUID
    first: str
    last: str
    ssn: str
    birls: str
    pid: str
    edipi: str
    birthdate: date
    gender: str
    email: str
    phone: tuple[str, str]
    address: dict[str, Any]
    csid: str


@dataclass(slots=True)
class _Sub:
    id: int
    scenario: str
    state: str
    created_at: datetime
    dupe_group: str | None
    endpoint: int | None = None
    submitted_claim_id: int | None = None
    backup_id: str | None = None
    backup_status: int | None = None
    aasm: str = "unprocessed"
    workflow_complete: bool = False
    last_touch: datetime | None = None
    jobs: list[tuple[Any, ...]] = field(default_factory=list)
    rems: list[tuple[Any, ...]] = field(default_factory=list)
    form_flags: dict[str, Any] = field(default_factory=dict)


class _Generator:
    """Stateful, deterministic row builder (one instance per ``seed`` call)."""

    def __init__(self, rng: random.Random, as_of: datetime, start: dict[str, int]) -> None:
        self.rng = rng
        self.as_of = as_of
        self.next_job_id = start["job"]
        self.next_rem_id = start["rem"]
        self.next_saved = start["saved"]
        self.next_claim = start["claim"]
        self.vet_seq = 0
        self.ssn_salt = rng.randrange(1_000_000)
        self.lighthouse_cutover = as_of - timedelta(days=LIGHTHOUSE_DAYS)

    # -- small helpers ------------------------------------------------------------------------
    def uuid4(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def digits(self, k: int) -> str:
        return f"{self.rng.randrange(10 ** k):0{k}d}"

    def clip(self, t: datetime) -> datetime:
        return min(t, self.as_of)

    def after(self, t: datetime, lo_s: float, hi_s: float) -> datetime:
        return self.clip(t + timedelta(seconds=self.rng.uniform(lo_s, hi_s)))

    def between(self, a: datetime, b: datetime, lo: float = 0.1, hi: float = 0.9) -> datetime:
        """A time strictly between a and b (assumes a < b)."""
        return a + (b - a) * self.rng.uniform(lo, hi)

    def words(self, k: int) -> str:
        return " ".join(self.rng.choice(WORDS) for _ in range(k))

    def long_text(self, chars: int) -> str:
        parts: list[str] = []
        size = 0
        while size < chars:
            sentence = self.words(12).capitalize() + ". "
            parts.append(sentence)
            size += len(sentence)
        return "".join(parts).strip()

    # -- veteran and blobs --------------------------------------------------------------------
    def veteran(self, awkward: str | None = None) -> _Veteran:
        rng = self.rng
        self.vet_seq += 1
        ssn = "000" + f"{(self.vet_seq * 7919 + self.ssn_salt) % 1_000_000:06d}"
        if awkward == "awkward_unicode_names":
            first, last = rng.choice(AWKWARD_FIRST_NAMES), rng.choice(AWKWARD_LAST_NAMES)
        else:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        r = rng.random()
        birls = ssn if r < 0.7 else (rng.choice("23") + self.digits(7) if r < 0.9 else "")
        kind = {"awkward_international_address": "INTERNATIONAL",
                "awkward_military_address": "MILITARY"}.get(awkward or "")
        if kind is None:
            r = rng.random()
            kind = "MILITARY" if r < 0.02 else "INTERNATIONAL" if r < 0.04 else "DOMESTIC"
        address = self.address(kind, plus4=awkward == "awkward_zip_plus4",
                               unicode_line=awkward == "awkward_unicode_names")
        birth = date(rng.randint(1935, 2004), rng.randint(1, 12), rng.randint(1, 28))
        email_user = f"{first[:1]}{last}".lower().replace("'", "").replace(" ", "")
        if awkward == "awkward_blank_identifiers":
            ssn, birls = "", ""
        return _Veteran(
            user_uuid=self.uuid4().hex, user_account_id=self.uuid4(), first=first, last=last,
            ssn=ssn, birls=birls, pid=str(rng.randint(600_000_000, 609_999_999)),
            edipi=str(rng.randint(1_000_000_000, 1_999_999_999)), birthdate=birth,
            gender=rng.choice(("MALE", "FEMALE")),
            email=f"{email_user}{rng.randint(1, 999)}@example.com",
            phone=(str(rng.randint(201, 989)), self.digits(7)), address=address,
            csid=rng.choice(("idme", "idme", "logingov", "dslogon")),
        )

    def address(self, kind: str, plus4: bool = False, unicode_line: bool = False) -> dict[str, Any]:
        rng = self.rng
        line1 = f"{rng.randint(1, 9999)} {rng.choice(STREETS)}"
        if unicode_line:
            line1 = f"{rng.randint(1, 99)} Calle Núñez, Apt. 5º"
        if kind == "MILITARY":
            post, state, zip_prefix = rng.choice(MILITARY)
            return {"country": "USA", "type": "MILITARY",
                    "addressLine1": f"PSC {rng.randint(1000, 9999)} Box {rng.randint(1, 9999)}",
                    "militaryPostOfficeTypeCode": post, "militaryStateCode": state,
                    "zipFirstFive": zip_prefix + self.digits(5 - len(zip_prefix))}
        if kind == "INTERNATIONAL":
            country, city, postal = rng.choice(INTERNATIONAL)
            return {"country": country, "type": "INTERNATIONAL", "addressLine1": line1,
                    "addressLine2": "Building 3" if rng.random() < 0.3 else "",
                    "city": city, "internationalPostalCode": postal}
        city, state, zip_prefix = rng.choice(CITIES)
        addr: dict[str, Any] = {"country": "USA", "type": "DOMESTIC", "addressLine1": line1,
                                "city": city, "state": state,
                                "zipFirstFive": zip_prefix + self.digits(2)}
        if rng.random() < 0.15:
            addr["addressLine2"] = f"Apt {rng.randint(1, 400)}"
        if plus4 or rng.random() < 0.1:
            addr["zipLastFour"] = self.digits(4)
        return addr

    def auth_headers(self, vet: _Veteran, created_at: datetime, awkward: str | None) -> str:
        if awkward == "awkward_empty_auth_bogus":
            return json.dumps({"bogus": None})
        if awkward == "awkward_empty_auth":
            return "{}"
        birth = f"{vet.birthdate.isoformat()}T00:00:00+00:00"
        authorization = {"authorizationResponse": {
            "status": "VETERAN", "idType": "SSN", "id": vet.ssn, "edi": vet.edipi,
            "firstName": vet.first, "lastName": vet.last, "birthDate": birth,
            "gender": vet.gender}}
        headers = {
            "va_eauth_csid": vet.csid, "va_eauth_authenticationmethod": vet.csid,
            "va_eauth_pnidtype": "SSN", "va_eauth_assurancelevel": "3",
            "va_eauth_firstName": vet.first, "va_eauth_lastName": vet.last,
            "va_eauth_issueinstant": created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "va_eauth_dodedipnid": vet.edipi, "va_eauth_birlsfilenumber": vet.birls,
            "va_eauth_pid": vet.pid, "va_eauth_pnid": vet.ssn, "va_eauth_birthdate": birth,
            "va_eauth_authorization": json.dumps(authorization, ensure_ascii=False),
            "va_eauth_service_transaction_id": f"vagov-{self.uuid4()}",
            "va_eauth_gender": vet.gender,
        }
        return json.dumps(headers, ensure_ascii=False)

    def _vet_block(self, vet: _Veteran) -> dict[str, Any]:
        """Identity fields the ancillary forms carry."""
        return {"veteranFullName": {"first": vet.first, "middle": "", "last": vet.last},
                "veteranSocialSecurityNumber": vet.ssn, "vaFileNumber": vet.birls,
                "veteranDateOfBirth": vet.birthdate.isoformat(), "email": vet.email,
                "veteranPhone": "".join(vet.phone)}

    def form(self, vet: _Veteran, created_at: datetime, awkward: str | None) -> dict[str, Any]:
        """The ``form_json`` document (EVSS-format claim plus ancillary forms)."""
        rng = self.rng
        disabilities = []
        for name, code, diag in rng.sample(DISABILITIES, rng.choice((1, 1, 2, 2, 3, 4))):
            action = rng.choice(("NEW", "NEW", "INCREASE", "SECONDARY"))
            d: dict[str, Any] = {"name": name, "classificationCode": code,
                                 "disabilityActionType": action}
            if action == "INCREASE":
                d["ratedDisabilityId"] = str(rng.randint(100000, 9999999))
                d["diagnosticCode"] = diag
                d["disabilityActionType"] = "INCREASE"
            else:
                d["serviceRelevance"] = ("Caused by an in-service event, injury, or exposure\n"
                                         + self.words(rng.randint(4, 14)))
            if action == "SECONDARY" or rng.random() < 0.1:
                d["disabilityActionType"] = "NEW" if action == "SECONDARY" else action
                d["secondaryDisabilities"] = [{
                    "name": rng.choice(SECONDARY), "disabilityActionType": "SECONDARY",
                    "serviceRelevance": f"Caused by a service-connected disability\n{name}"}]
            disabilities.append(d)
        if awkward == "awkward_long_text":
            disabilities[0]["name"] = "knee " + self.long_text(3000)
            disabilities[0]["serviceRelevance"] = self.long_text(5000)
        if awkward == "awkward_markup_text":
            disabilities[0]["name"] = "<b>Knee</b> & back"
            disabilities[0]["serviceRelevance"] = (
                "Caused by an in-service event, injury, or exposure\n"
                "<script>alert('x')</script> fell 10' off a \"deuce & a half\" <i>truck</i> &amp; more")
        treatments = [{
            "treatedDisabilityNames": [d["name"] for d in disabilities[: rng.randint(1, 2)]],
            "center": {"name": rng.choice(CENTERS), "country": "USA"},
            "startDate": {"year": str(rng.randint(2000, 2022)), "month": f"{rng.randint(1, 12):02d}"},
        } for _ in range(rng.choice((0, 1, 1, 2)))]
        periods = []
        end_year = rng.randint(1975, 2023)
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            start_year = end_year - rng.randint(2, 8)
            periods.append({"serviceBranch": rng.choice(BRANCHES),
                            "activeDutyBeginDate": f"{start_year}-{rng.randint(1, 12):02d}-01",
                            "activeDutyEndDate": f"{end_year}-{rng.randint(1, 12):02d}-28"})
            end_year = start_year - rng.randint(0, 3)
        service: dict[str, Any] = {"servicePeriods": periods}
        if rng.random() < 0.2:
            service["reservesNationalGuardService"] = {
                "unitName": f"{rng.randint(1, 399)}th Support Battalion",
                "obligationTermOfServiceFromDate": "2008-01-01",
                "obligationTermOfServiceToDate": "2014-01-01",
                "unitPhone": {"areaCode": vet.phone[0], "phoneNumber": self.digits(7)},
                "receivingInactiveDutyTrainingPay": rng.random() < 0.2}
        homeless: dict[str, Any] = {}
        if rng.random() < 0.03:
            homeless = {"pointOfContact": {"pointOfContactName": "Case Manager",
                                           "primaryPhone": {"areaCode": vet.phone[0],
                                                            "phoneNumber": self.digits(7)}},
                        "currentlyHomeless": {"homelessSituationType": "LIVING_IN_A_HOMELESS_SHELTER",
                                              "otherLivingSituation": ""}}
        veteran: dict[str, Any] = {
            "emailAddress": vet.email, "currentMailingAddress": vet.address,
            "daytimePhone": {"areaCode": vet.phone[0], "phoneNumber": vet.phone[1]},
            "homelessness": homeless, "currentlyVAEmployee": rng.random() < 0.03}
        if rng.random() < 0.08:
            city, state, zip_prefix = rng.choice(CITIES)
            veteran["changeOfAddress"] = {
                "country": "USA", "type": "DOMESTIC",
                "addressLine1": f"{rng.randint(1, 9999)} {rng.choice(STREETS)}",
                "city": city, "state": state, "zipFirstFive": zip_prefix + self.digits(2),
                "addressChangeType": "TEMPORARY",
                "beginningDate": (created_at + timedelta(days=30)).date().isoformat(),
                "endingDate": (created_at + timedelta(days=200)).date().isoformat()}
        bdd = rng.random() < 0.03
        inner: dict[str, Any] = {
            "veteran": veteran, "claimantCertification": True, "standardClaim": rng.random() < 0.1,
            "autoCestPDFGenerationDisabled": False,
            "applicationExpirationDate": _iso_z(created_at + timedelta(days=365)),
            "bddQualified": bdd, "claimSubmissionSource": "VA.gov",
            "claimDate": created_at.date().isoformat(),
            "directDeposit": {"accountType": rng.choice(("CHECKING", "SAVINGS")),
                              "accountNumber": self.digits(rng.randint(8, 12)),
                              "routingNumber": "0" + self.digits(8),
                              "bankName": rng.choice(BANKS)},
            "serviceInformation": service, "treatments": treatments,
            "disabilities": disabilities,
        }
        if rng.random() < 0.25:
            inner["servicePay"] = {
                "waiveVABenefitsToRetainTrainingPay": False,
                "waiveVABenefitsToRetainRetiredPay": False,
                "militaryRetiredPay": {"receiving": rng.random() < 0.5,
                                       "payment": {"serviceBranch": periods[0]["serviceBranch"]}}}
        if rng.random() < 0.05 or awkward == "awkward_long_text":
            inner["overflowText"] = self.long_text(6000 if awkward else rng.randint(80, 900))
        if awkward == "awkward_missing_claim_date" or rng.random() < 0.04:
            inner.pop("claimDate")
        uploads = [{"name": name, "confirmationCode": str(self.uuid4()), "attachmentId": code}
                   for name, code in rng.sample(UPLOADS, rng.randint(1, 3))] \
            if rng.random() < 0.35 else []
        all_ancillary = awkward == "awkward_ancillary_forms"
        form4142 = form0781 = form8940 = None
        if all_ancillary or rng.random() < 0.08:
            city, state, zip_prefix = rng.choice(CITIES)
            form4142 = {**self._vet_block(vet), "veteranAddress": vet.address,
                        "limitedConsent": "", "privacyAgreementAccepted": True,
                        "providerFacility": [{
                            "providerFacilityName": rng.choice(CENTERS),
                            "treatmentDateRange": [{"from": "2015-01-01", "to": "2016-06-30"}],
                            "providerFacilityAddress": {"street": f"{rng.randint(1, 999)} Clinic Way",
                                                        "city": city, "state": state,
                                                        "postalCode": zip_prefix + "01",
                                                        "country": "USA"}}]}
        if all_ancillary or rng.random() < 0.04:
            incident = {"incidentDate": f"{rng.randint(1990, 2020)}-0{rng.randint(1, 9)}-15",
                        "incidentDescription": self.words(20),
                        "incidentLocation": {"city": "Kandahar", "state": "", "country": "Afghanistan"},
                        "unitAssigned": "2nd Battalion", "medalsCitations": "",
                        "personsInvolved": []}
            form0781 = {"form0781": {**self._vet_block(vet), "incidents": [incident],
                                     "remarks": "", "additionalIncidentText": ""},
                        "form0781a": ({**self._vet_block(vet), "incidents": [dict(incident)],
                                       "remarks": ""}
                                      if all_ancillary or rng.random() < 0.5 else None)}
        if all_ancillary or rng.random() < 0.02:
            form8940 = {**self._vet_block(vet), "veteranAddress": vet.address,
                        "unemployability": {"mostIncome": rng.randint(0, 60000),
                                            "yearsOfEducation": rng.randint(8, 18),
                                            "disabilityPreventingEmployment": disabilities[0]["name"][:80],
                                            "underDoctorHopitalCarePast12M": rng.random() < 0.5}}
        flashes = rng.sample(FLASHES, rng.randint(1, 2)) if rng.random() < 0.1 else []
        return {"form526": {"form526": inner}, "form526_uploads": uploads, "form4142": form4142,
                "form0781": form0781, "form8940": form8940, "flashes": flashes}

    @staticmethod
    def dupe_copy(base: dict[str, Any], created_at: datetime) -> dict[str, Any]:
        """A resubmission of ``base``: identical content, fresh volatile keys."""
        inner = dict(base["form526"]["form526"])
        inner["applicationExpirationDate"] = _iso_z(created_at + timedelta(days=365))
        if "claimDate" in inner:
            inner["claimDate"] = created_at.date().isoformat()
        return {**base, "form526": {"form526": inner}}

    # -- errors -------------------------------------------------------------------------------
    def guid(self) -> str:
        return str(self.uuid4())

    def primary_error(self, fatal: bool, at: datetime) -> tuple[str, str]:
        """(error_class, error_message) of a primary-path failure."""
        rng = self.rng
        svc = "EVSS::DisabilityCompensationForm::ServiceException"
        if not fatal:
            kind = rng.choices(("timeout", "evss502", "outage", "bgs", "vetrecord"),
                               (30, 25, 15, 20, 10))[0]
            if kind == "timeout":
                return ("Common::Exceptions::GatewayTimeout",
                        "Did not receive a timely response from an upstream server")
            if kind == "evss502":
                return ("Common::Exceptions::BackendServiceException",
                        'BackendServiceException: {:status=>502, :detail=>nil, :code=>"EVSS502", '
                        ':source=>nil}')
            if kind == "outage":
                start = at - timedelta(minutes=rng.randint(5, 600))
                return ("Breakers::OutageException",
                        f"Outage detected on EVSS/DisabilityCompensationForm beginning at "
                        f"{start:%Y-%m-%d %H:%M:%S} UTC")
            if kind == "bgs":
                return (svc, _ruby_inspect([{
                    "key": "form526.submit.establishClaim.serviceError", "severity": "FATAL",
                    "text": f"Claim not established. System error with BGS. GUID: {self.guid()}"}]))
            return (svc, _ruby_inspect([{
                "key": "form526.submit.establishClaim.serviceError", "severity": "FATAL",
                "text": "Error calling external service to establish the claim during Submit. "
                        f"gov.va.vba.benefits.vdc.exceptions.VeteranRecordWsClientException "
                        f"GUID: {self.guid()}"}]))
        kind = rng.choices(("pif", "maxep", "payee", "validation", "unmapped", "birls", "nomethod"),
                           (25, 12, 10, 18, 10, 10, 15))[0]
        if kind == "pif":
            return (svc, _ruby_inspect([{
                "key": "form526.submit.save.draftForm.PIFInUse", "severity": "FATAL",
                "text": "Claim could not be established. Retries will fail."}]))
        if kind == "maxep":
            return (svc, _ruby_inspect([{
                "key": "form526.submit.save.draftForm.MaxEPCode", "severity": "FATAL",
                "text": "The maximum number of EP codes have been reached for this benefit "
                        "type claim code"}]))
        if kind == "payee":
            return (svc, _ruby_inspect([{
                "key": "form526.submit.establishClaim.serviceError", "severity": "FATAL",
                "text": "Benefit Type, Payee code or EP Code is not valid. "
                        f"GUID: {self.guid()}"}]))
        if kind == "validation":
            i, j = rng.randint(0, 3), rng.randint(0, 3)
            entries = [{"key": f"form526.treatments[{i}].treatedDisabilityNames.isInvalidValue",
                        "severity": "ERROR",
                        "text": "treatedDisabilityNames must match the name of a claimed disability"}]
            if rng.random() < 0.5:
                entries.append({"key": f"form526.disabilities[{j}].name.Pattern",
                                "severity": "ERROR",
                                "text": "must match \"([a-zA-Z0-9\\-'.,/()]([a-zA-Z0-9\\-',. ])?)+$\""})
            return (svc, _ruby_inspect(entries))
        if kind == "unmapped":
            return (svc, _ruby_inspect([{
                "key": "form526.submit.save.draftForm.UnmappedError", "severity": "FATAL",
                "text": f"Claim could not be established. GUID: {self.guid()}"}]))
        if kind == "birls":
            return (svc, _ruby_inspect([{
                "key": "form526.submit.establishClaim.serviceError", "severity": "FATAL",
                "text": "Claim not established. BIRLS ID does not match the file number of "
                        f"record. GUID: {self.guid()}"}]))
        return ("NoMethodError", "undefined method `[]' for nil:NilClass")

    def backup_error(self, fatal: bool) -> tuple[str, str]:
        """(error_class, error_message) of a backup-path (Benefits Intake) failure."""
        if fatal:
            return self.rng.choice((
                ("ArgumentError", "file number is invalid. It must be 8 or 9 digits"),
                ("ArgumentError", "file number is invalid. It must be 8 or 9 digits"),
                ("ArgumentError", "veteran first and last name are required"),
            ))
        return self.rng.choice((
            ("Common::Exceptions::GatewayTimeout",
             "Did not receive a timely response from an upstream server"),
            ("Common::Exceptions::BackendServiceException",
             'BackendServiceException: {:status=>500, :detail=>"generatePDF failed", '
             ':code=>"EVSS500", :source=>nil}'),
            ("Faraday::ServerError", "the server responded with status 503"),
        ))

    # -- rows ---------------------------------------------------------------------------------
    def job(self, s: _Sub, job_class: str, status: str, at: datetime,
            error: tuple[str, str] | None = None, retries: int = 0,
            history_error: tuple[str, str] | None = None) -> datetime:
        """Append one job status row; ``retries`` earlier failures go into bgjob_errors."""
        at = self.clip(at)
        errors: dict[str, Any] = {}
        hist = history_error or error
        if hist is not None:
            for k in range(retries, 0, -1):
                t = at - timedelta(minutes=17 * k * k + self.rng.randint(0, 9))
                if t < s.created_at:
                    continue
                errors[str(int((t - _EPOCH).total_seconds()))] = {
                    "caller_method": _CALLERS[job_class], "error_class": hist[0],
                    "error_message": hist[1], "timestamp": _iso_z(t)}
        if error is not None and status != "success":
            errors[str(int((at - _EPOCH).total_seconds()))] = {
                "caller_method": _CALLERS[job_class], "error_class": error[0],
                "error_message": error[1], "timestamp": _iso_z(at)}
        row_err = error if status != "success" else None
        s.jobs.append((self.next_job_id, s.id, f"{self.rng.getrandbits(96):024x}", job_class,
                       status, row_err[0] if row_err else None, row_err[1] if row_err else None,
                       at, json.dumps(errors)))
        self.next_job_id += 1
        s.last_touch = max(s.last_touch or at, at)
        return at

    def remediation(self, s: _Sub, at: datetime, success: bool, context: str,
                    ignored: bool = False, later: list[tuple[datetime, str]] | None = None) -> None:
        """Append one remediation row (lifecycle lines ``YYYY-mm-dd HH:MM:SS -- context``)."""
        at = self.clip(at)
        lifecycle = [f"{at:%Y-%m-%d %H:%M:%S} -- {context}"]
        updated = at
        for t, ctx in later or []:
            lifecycle.append(f"{t:%Y-%m-%d %H:%M:%S} -- {ctx}")
            updated = t
        s.rems.append((self.next_rem_id, s.id, lifecycle, success, ignored, at, updated,
                       1 if ignored else 0))
        self.next_rem_id += 1
        s.last_touch = max(s.last_touch or updated, updated)

    def era_endpoint(self, t: datetime) -> int:
        if t < self.lighthouse_cutover:
            return EVSS
        return CLAIMS_API if self.rng.random() < 0.85 else EVSS

    # -- building blocks ----------------------------------------------------------------------
    def primary_success(self, s: _Sub, retries: int = 0, legacy: bool = False,
                        endpoint: int | None = None) -> datetime:
        rng = self.rng
        s.endpoint = None if legacy else (endpoint if endpoint is not None
                                          else self.era_endpoint(s.created_at))
        job_class = "SubmitForm526" if legacy else "SubmitForm526AllClaim"
        t = s.created_at + timedelta(seconds=rng.uniform(2, 40))
        if retries:
            t += timedelta(minutes=17 * retries * retries + rng.randint(1, 30))
        t = self.job(s, job_class, "success", t, retries=retries,
                     history_error=self.primary_error(False, t) if retries else None)
        self.next_claim += rng.randint(1, 40)
        s.submitted_claim_id = self.next_claim
        s.workflow_complete = rng.random() < 0.97
        s.aasm = rng.choice(("delivered_to_primary", "finalized_as_successful", "unprocessed"))
        if s.endpoint == CLAIMS_API:
            self.job(s, "PollForm526Pdf", "success", self.after(t, 30, 3600))
        self.ancillary(s, t)
        return t

    def ancillary(self, s: _Sub, t: datetime, failures: int = 0) -> None:
        """Jobs that follow a primary success; ``failures`` of them fail (harmless)."""
        rng = self.rng
        classes = ["SubmitUploads"] * s.form_flags.get("uploads", 0)
        for flag, cls in (("4142", "SubmitForm4142Job"), ("0781", "SubmitForm0781"),
                          ("8940", "SubmitForm8940"), ("bdd", "UploadBddInstructions")):
            if s.form_flags.get(flag):
                classes.append(cls)
        while len(classes) < failures:
            classes.append(rng.choice(("SubmitUploads", "SubmitForm4142Job", "SubmitForm0781",
                                       "SubmitForm8940", "UploadBddInstructions")))
        failing = set(rng.sample(range(len(classes)), failures)) if failures else set()
        for i, cls in enumerate(classes):
            at = self.after(t, 5, 900)
            if i in failing:
                status, err = rng.choice((
                    ("non_retryable_error", ("Common::Exceptions::BackendServiceException",
                                             'BackendServiceException: {:status=>400, :detail=>'
                                             '"Document upload failed", :code=>"EVSS400", '
                                             ':source=>nil}')),
                    ("non_retryable_error", ("Common::Exceptions::UnprocessableEntity",
                                             "Unsupported File type (only PDFs are accepted)")),
                    ("exhausted", ("Common::Exceptions::GatewayTimeout",
                                   "Did not receive a timely response from an upstream server")),
                    ("retryable_error", ("Faraday::ConnectionFailed",
                                         "Failed to open TCP connection (execution expired)")),
                    ("non_retryable_error", ("NoMethodError",
                                             "undefined method `[]' for nil:NilClass")),
                ))
                self.job(s, cls, status, self.after(t, 3600, 90000), error=err,
                         retries=rng.randint(0, 4))
            else:
                self.job(s, cls, "success", at)
        if failures and rng.random() < 0.5:
            self.job(s, "SubmitForm526Cleanup", "non_retryable_error", self.after(t, 60, 600),
                     error=("ActiveRecord::RecordNotFound", "Couldn't find InProgressForm"))
        else:
            self.job(s, "SubmitForm526Cleanup", "success", self.after(t, 60, 600))

    def primary_failure(self, s: _Sub, fatal: bool | None = None) -> datetime:
        """Primary job ends exhausted (retryable errors) or non_retryable_error; returns end."""
        rng = self.rng
        if fatal is None:
            fatal = rng.random() < 0.35
        if s.endpoint is None:
            s.endpoint = self.era_endpoint(s.created_at)
        if fatal:
            t = self.after(s.created_at, 3, 120)
            self.job(s, "SubmitForm526AllClaim", "non_retryable_error", t,
                     error=self.primary_error(True, t), retries=rng.randint(0, 2))
        else:
            t = self.after(s.created_at, 20 * 3600, 30 * 3600)
            self.job(s, "SubmitForm526AllClaim", "exhausted", t,
                     error=self.primary_error(False, t), retries=rng.randint(3, 8))
        s.aasm = rng.choice(("failed_primary_delivery", "rejected_by_primary", "unprocessed"))
        return t

    def backup_upload(self, s: _Sub, t: datetime, status: int | None) -> datetime:
        """Successful BackupSubmission job: backup id set, status as given."""
        t = self.job(s, "BackupSubmission", "success", self.after(t, 30, 3600))
        s.backup_id = str(self.uuid4())
        s.backup_status = status
        s.endpoint = BENEFITS_INTAKE
        s.aasm = {ACCEPTED: "accepted_by_backup", REJECTED: "rejected_by_backup",
                  PARANOID_SUCCESS: "accepted_by_backup", None: "delivered_to_backup"}[status]
        return t

    def backup_failure(self, s: _Sub, t: datetime, fatal: bool | None = None) -> datetime:
        rng = self.rng
        if fatal is None:
            fatal = rng.random() < 0.4
        if fatal:
            return self.job(s, "BackupSubmission", "non_retryable_error", self.after(t, 30, 600),
                            error=self.backup_error(True))
        return self.job(s, "BackupSubmission", "exhausted", self.after(t, 20 * 3600, 30 * 3600),
                        error=self.backup_error(False), retries=rng.randint(2, 6))

    def black_hole(self, s: _Sub) -> None:
        t = self.primary_failure(s)
        if s.created_at >= self.lighthouse_cutover or self.rng.random() < 0.5:
            self.backup_failure(s, t)

    def rem_context(self, success: bool) -> str:
        if success:
            return self.rng.choice((
                "Manual remediation: PDF delivered to VBA via S3 presigned URL batch",
                "Remediated: claim established manually by VBA",
                "Remediated: uploaded to Benefits Intake from console"))
        return self.rng.choice((
            "Remediation failed: VBA could not establish the claim",
            "Marked unsuccessful: PDF missing pages, needs reprocessing",
            "Remediation reverted: upload was rejected downstream"))

    # -- per-scenario -------------------------------------------------------------------------
    def apply(self, s: _Sub, group_first_id: int | None) -> None:
        """Fill jobs, remediations and outcome columns for ``s.scenario``."""
        rng = self.rng
        sc = s.scenario
        if sc in ("primary_success", "dupe_success_after_failed", "dupe_success_first",
                  "dupe_ignored_original", "distinct_claims_success"):
            self.primary_success(s, retries=rng.randint(1, 3) if rng.random() < 0.05 else 0)
        elif sc == "primary_success_legacy_job":
            self.primary_success(s, legacy=True)
        elif sc == "primary_success_after_retries":
            self.primary_success(s, retries=rng.randint(1, 6))
        elif sc == "claims_api_poll_success":
            self.primary_success(s, endpoint=CLAIMS_API)
        elif sc in ("claims_api_no_poll_backup_accepted", "claims_api_no_poll_remediated",
                    "claims_api_no_poll"):
            s.endpoint = CLAIMS_API
            t = self.job(s, "SubmitForm526AllClaim", "success", self.after(s.created_at, 2, 40))
            self.next_claim += rng.randint(1, 40)
            s.submitted_claim_id = self.next_claim
            s.aasm = "delivered_to_primary"
            if sc != "claims_api_no_poll" or rng.random() < 0.7:
                status = rng.choice(("pdf_not_found", "exhausted"))
                t = self.job(s, "PollForm526Pdf", status, self.after(t, 3600, 86400 * 3),
                             error=("Lighthouse::PollForm526PdfError",
                                    "Poll for Form 526 PDF: PDF not found"),
                             retries=rng.randint(1, 5))
            if sc == "claims_api_no_poll_backup_accepted":
                self.backup_upload(s, t, ACCEPTED)
                s.endpoint = CLAIMS_API  # keep claims_api: success must come from the backup rule
            elif sc == "claims_api_no_poll_remediated":
                self.remediation(s, self.between(t, self.as_of), True, self.rem_context(True))
        elif sc in ("backup_accepted", "backup_paranoid_success"):
            t = self.primary_failure(s)
            self.backup_upload(s, t, ACCEPTED if sc == "backup_accepted" else PARANOID_SUCCESS)
        elif sc == "paranoid_success_without_backup_id":
            t = self.primary_failure(s)
            self.job(s, "BackupSubmission", "success", self.after(t, 30, 3600))
            s.backup_status = PARANOID_SUCCESS
        elif sc == "ancillary_failure_claim_succeeded":
            t = self.primary_success(s)
            s.jobs = [j for j in s.jobs if j[3] in ("SubmitForm526AllClaim", "PollForm526Pdf")]
            self.ancillary(s, t, failures=rng.choice((1, 1, 2)))
        elif sc in ("remediated_manual", "remediated_recent_no_ids"):
            if sc == "remediated_manual":
                self.black_hole(s)
            else:
                self.primary_failure(s, True)
            self.remediation(s, self.between(s.last_touch or s.created_at, self.as_of), True,
                             self.rem_context(True))
        elif sc == "remediated_after_failed_attempt":
            self.black_hole(s)
            t1 = self.between(s.last_touch or s.created_at, self.as_of)
            self.remediation(s, t1, False, self.rem_context(False))
            self.remediation(s, self.between(t1, self.as_of), True, self.rem_context(True))
        elif sc == "in_process_try_only":
            self.job(s, "SubmitForm526AllClaim", "try", self.after(s.created_at, 1, 20))
        elif sc == "in_process_retrying":
            t = self.after(s.created_at, 60, 3 * 3600)
            self.job(s, "SubmitForm526AllClaim", "retryable_error", t,
                     error=self.primary_error(False, t), retries=rng.randint(0, 3))
        elif sc == "in_process_no_jobs":
            pass
        elif sc == "in_process_backup_running":
            t = self.primary_failure(s, False)
            if rng.random() < 0.5:
                self.job(s, "BackupSubmission", "try", self.after(t, 30, 3600))
            else:
                self.job(s, "BackupSubmission", "retryable_error", self.after(t, 30, 3600),
                         error=self.backup_error(False), retries=rng.randint(0, 2))
        elif sc == "in_process_failed_remediation":
            self.primary_failure(s, True)
            self.remediation(s, self.between(s.last_touch or s.created_at, self.as_of), False,
                             self.rem_context(False))
        elif sc in ("pending_backup", "pending_backup_stale",
                    "pending_backup_with_failed_remediation"):
            t = self.primary_failure(s, rng.random() < 0.3)
            self.backup_upload(s, t, None)
            if sc == "pending_backup_with_failed_remediation":
                self.remediation(s, self.between(s.last_touch or s.created_at, self.as_of),
                                 False, self.rem_context(False))
        elif sc in ("black_hole_backup_exhausted", "dupe_all_failed",
                    "dupe_failed_before_success", "distinct_claims_failed"):
            t = self.primary_failure(s, False if sc == "black_hole_backup_exhausted" else None)
            if sc == "black_hole_backup_exhausted" or rng.random() < 0.5:
                self.backup_failure(s, t)
        elif sc == "black_hole_primary_exhausted":
            self.primary_failure(s, False)
        elif sc == "primary_non_retryable":
            t = self.primary_failure(s, True)
            if rng.random() < 0.4:
                self.backup_failure(s, t, True)
        elif sc == "backup_rejected":
            t = self.backup_upload(s, self.primary_failure(s), REJECTED)
            reason = rng.choice(("ZIP Code must be 5 or 9 digits",
                                 "Unsupported File type (only PDFs are accepted)",
                                 "ERR-EMMS-FAILED, Corrupted File detected."))
            at = self.after(t, 3600, 5 * 86400)
            # the downstream rejection reason, as recorded by the status polling job
            s.jobs.append((self.next_job_id, s.id, f"{rng.getrandbits(96):024x}",
                           "Form526StatusPollingJob", "success", None, None, at, json.dumps({
                               str(int((at - _EPOCH).total_seconds())): {
                                   "caller_method": _CALLERS["Form526StatusPollingJob"],
                                   "error_class": "BenefitsIntakeStatus::Error",
                                   "error_message": reason, "timestamp": _iso_z(at)}})))
            self.next_job_id += 1
            s.last_touch = max(s.last_touch or at, at)
        elif sc in ("backup_failed_recent", "backup_failed_last_days"):
            too_young_to_exhaust = self.as_of - s.created_at < timedelta(days=1.3)
            t = self.primary_failure(s, too_young_to_exhaust or rng.random() < 0.5)
            self.backup_failure(s, t, True if too_young_to_exhaust else None)
        elif sc == "never_attempted":
            pass
        elif sc == "stale_try_only":
            self.job(s, "SubmitForm526AllClaim", "try", self.after(s.created_at, 1, 20))
        elif sc == "no_longer_remediated":
            self.black_hole(s)
            t1 = self.between(s.last_touch or s.created_at, self.as_of)
            self.remediation(s, t1, True, self.rem_context(True))
            self.remediation(s, self.between(t1, self.as_of), False, self.rem_context(False))
        elif sc == "dupe_failed_after_success":
            t = self.after(s.created_at, 3, 60)
            self.job(s, "SubmitForm526AllClaim", "non_retryable_error", t, error=(
                "EVSS::DisabilityCompensationForm::ServiceException", _ruby_inspect([{
                    "key": "form526.submit.save.draftForm.PIFInUse", "severity": "FATAL",
                    "text": "Claim could not be established. Retries will fail."}])))
            s.endpoint = self.era_endpoint(s.created_at)
            s.aasm = "rejected_by_primary"
        elif sc == "dupe_ignored_as_duplicate":
            self.primary_failure(s, True)
            at = self.between(s.last_touch or s.created_at, self.as_of)
            self.remediation(s, at, True, f"Ignored as duplicate of submission {group_first_id}",
                             ignored=True)
        elif sc == "corrupt_form_json" or sc.startswith("awkward_"):
            self.black_hole(s)
            if sc in ("awkward_empty_auth_bogus", "awkward_empty_auth",
                      "awkward_blank_identifiers"):
                s.jobs = [j for j in s.jobs if j[3] != "BackupSubmission"]
                self.job(s, "BackupSubmission", "non_retryable_error",
                         self.after(s.last_touch or s.created_at, 30, 600),
                         error=("ArgumentError", "file number is invalid. It must be 8 or 9 digits"))
        else:  # pragma: no cover - every scenario is handled above
            raise AssertionError(f"unhandled scenario {sc}")


# --------------------------------------------------------------------------------------------
# Seeding
# --------------------------------------------------------------------------------------------
def _start_values(conn: psycopg.Connection) -> dict[str, int]:
    row = conn.execute(
        "SELECT (SELECT coalesce(max(id), 0) FROM form526_submissions),"
        " (SELECT coalesce(max(id), 0) FROM form526_job_statuses),"
        " (SELECT coalesce(max(id), 0) FROM form526_submission_remediations),"
        " (SELECT coalesce(max(saved_claim_id), 0) FROM form526_submissions),"
        " (SELECT coalesce(max(submitted_claim_id), 0) FROM form526_submissions),"
        " (SELECT coalesce(max(submission_id), 0) FROM synthetic.submission_labels)"
    ).fetchone()
    assert row is not None
    return {"sub": max(row[0], row[5]) + 1, "job": row[1] + 1, "rem": row[2] + 1,
            "saved": max(row[3], 100_000) + 1, "claim": max(row[4], 600_000_000)}


def _copy(cur: psycopg.Cursor, table: str, cols: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    if not rows:
        return
    with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)


def seed(
    conn: psycopg.Connection,
    n: int,
    seed: int = 42,
    as_of: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> SeedSummary:
    """Insert ``n`` labelled submissions (plus job status and remediation rows).

    Creates the schema if missing. Deterministic for (n, seed, as_of) on an empty database;
    on a non-empty one ids continue after the current maximum (seeding twice appends).
    ``as_of`` (default: now, UTC) anchors all timestamps; labels assume a 21-day window.
    Runs inside ``conn.transaction()``: on a non-autocommit connection with a transaction
    already open the caller commits. ``progress(done, total)`` is called after each batch.
    """
    if n <= 0:
        raise ValueError("n must be a positive integer")
    if batch_rows <= 0:
        raise ValueError("batch_rows must be a positive integer")
    started = time.monotonic()
    as_of = normalize_as_of(as_of) if as_of is not None else \
        datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    per_scenario: Counter[str] = Counter()
    per_state: Counter[str] = Counter()
    job_rows = rem_rows = 0
    with conn.transaction():
        create_schema(conn)
        conn.execute("LOCK TABLE form526_submissions, form526_job_statuses,"
                     " form526_submission_remediations, synthetic.submission_labels"
                     " IN SHARE ROW EXCLUSIVE MODE")
        start = _start_values(conn)
        first_id = start["sub"]
        rng = random.Random(seed if first_id == 1 else f"{seed}:{first_id}")
        plan = _plan(n, rng, as_of)
        gen = _Generator(rng, as_of, start)
        groups: dict[int, dict[str, Any]] = {}
        remaining: Counter[int] = Counter(it.group for it in plan if it.group is not None)
        cur = conn.cursor()
        for batch_start in range(0, n, batch_rows):
            subs: list[tuple[Any, ...]] = []
            jobs: list[tuple[Any, ...]] = []
            rems: list[tuple[Any, ...]] = []
            labels: list[tuple[Any, ...]] = []
            for offset, item in enumerate(plan[batch_start: batch_start + batch_rows]):
                sid = first_id + batch_start + offset
                state = SCENARIOS[item.scenario][0]
                awkward = item.scenario if item.scenario.startswith("awkward_") else None
                group = groups.get(item.group) if item.group is not None else None
                if item.group is not None and group is None:
                    group = {"first_id": sid, "vet": gen.veteran(), "form": None}
                    groups[item.group] = group
                vet = group["vet"] if group else gen.veteran(awkward)
                if group and item.dupe:
                    if group["form"] is None:
                        group["form"] = gen.form(vet, item.created_at, None)
                    form = gen.dupe_copy(group["form"], item.created_at)
                else:
                    form = gen.form(vet, item.created_at, awkward)
                s = _Sub(id=sid, scenario=item.scenario, state=state, created_at=item.created_at,
                         dupe_group=f"dupe-{group['first_id']}" if group and item.dupe else None)
                s.form_flags = {"uploads": len(form["form526_uploads"]),
                                "4142": form["form4142"] is not None,
                                "0781": form["form0781"] is not None,
                                "8940": form["form8940"] is not None,
                                "bdd": form["form526"]["form526"]["bddQualified"]}
                gen.apply(s, group["first_id"] if group else None)
                form_json = json.dumps(form, ensure_ascii=False)
                if item.scenario == "corrupt_form_json":
                    form_json = form_json[: len(form_json) // 2]
                auth = gen.auth_headers(vet, item.created_at, awkward)
                multiple_birls = rng.random() < 0.02
                birls_tried = (json.dumps({vet.birls or gen.digits(9): [_iso_z(item.created_at)],
                                           gen.digits(9): []}) if multiple_birls else None)
                kms = "vault:v1:" + base64.b64encode(
                    rng.getrandbits(384).to_bytes(48, "big")).decode()
                updated = max(item.created_at, gen.clip(s.last_touch or
                                                        gen.after(item.created_at, 1, 60)))
                gen.next_saved += 1
                subs.append((sid, vet.user_uuid, gen.next_saved, s.submitted_claim_id,
                             s.workflow_complete, item.created_at, updated,
                             multiple_birls if multiple_birls else rng.choice((None, False)),
                             auth, form_json, birls_tried, kms, vet.user_account_id,
                             s.backup_id, s.aasm, s.endpoint, s.backup_status, False))
                jobs.extend(s.jobs)
                rems.extend(s.rems)
                labels.append((sid, item.scenario, state, s.dupe_group))
                per_scenario[item.scenario] += 1
                per_state[state] += 1
                if item.group is not None:
                    remaining[item.group] -= 1
                    if remaining[item.group] == 0:
                        del groups[item.group]
            _copy(cur, "form526_submissions", SUB_COLS, subs)
            _copy(cur, "form526_job_statuses", JOB_COLS, jobs)
            _copy(cur, "form526_submission_remediations", REM_COLS, rems)
            _copy(cur, "synthetic.submission_labels", LABEL_COLS, labels)
            job_rows += len(jobs)
            rem_rows += len(rems)
            if progress is not None:
                progress(min(batch_start + batch_rows, n), n)
        for table in ("form526_submissions", "form526_job_statuses",
                      "form526_submission_remediations"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT coalesce(max(id), 1) FROM {table}))")
        conn.execute("ANALYZE form526_submissions, form526_job_statuses,"
                     " form526_submission_remediations, synthetic.submission_labels")
    return SeedSummary(
        n=n, seed=seed, as_of=as_of, first_id=first_id, last_id=first_id + n - 1,
        job_rows=job_rows, remediation_rows=rem_rows,
        per_scenario=dict(sorted(per_scenario.items())),
        per_state={st: per_state.get(st, 0) for st in (SUCCESS, IN_PROCESS, PENDING_BACKUP, FAILED)},
        elapsed_seconds=time.monotonic() - started,
    )


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _iso_datetime(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO date/time such as 2025-01-31T12:00:00, got {text!r}") from None
    return normalize_as_of(value)


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are a single line on stderr (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m tools.synthetic",
        description="Synthetic vets-api Form 526 source data with ground-truth labels.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_schema = sub.add_parser("schema", help="create the source tables and synthetic labels table")
    p_schema.add_argument("--dsn", required=True, help="libpq connection string of the target DB")
    p_seed = sub.add_parser("seed", help="create the schema if missing and insert N submissions")
    p_seed.add_argument("--dsn", required=True, help="libpq connection string of the target DB")
    p_seed.add_argument("--n", type=_positive_int, required=True, help="number of submissions")
    p_seed.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p_seed.add_argument("--as-of", type=_iso_datetime, default=None,
                        help="anchor time, ISO 8601 (default: now, UTC); naive means UTC")
    p_seed.add_argument("--batch-rows", type=_positive_int, default=DEFAULT_BATCH_ROWS,
                        help=f"submissions per COPY batch (default {DEFAULT_BATCH_ROWS})")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    try:
        with psycopg.connect(args.dsn) as conn:
            if args.command == "schema":
                create_schema(conn)
                conn.commit()
                print("schema ready", file=sys.stderr)
                return 0

            def report(done: int, total: int) -> None:
                print(f"seeded {done}/{total} submissions", file=sys.stderr, flush=True)

            summary = seed(conn, args.n, seed=args.seed, as_of=args.as_of, progress=report,
                           batch_rows=args.batch_rows)
            conn.commit()
    except psycopg.OperationalError as exc:
        # libpq messages name host/port/user but never the password or any row data
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else "connection failed"
        print(f"error: database unavailable: {first_line}", file=sys.stderr)
        return 1
    except psycopg.Error as exc:
        print(f"error: database error ({type(exc).__name__}); nothing was committed",
              file=sys.stderr)
        return 1
    print(json.dumps(summary.as_dict(), indent=2))
    print(f"done: {summary.n} submissions in {summary.elapsed_seconds:.1f}s, "
          f"failed share {summary.failed_share:.2%}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
