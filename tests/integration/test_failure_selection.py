"""Tests of the failure definition (source/sql/submission_state.sql and source/selection.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from include.form526.source import selection
from include.form526.source.selection import (
    DEFAULT_PENDING_WINDOW_DAYS,
    STATES,
    SUBMISSION_STATE_SQL,
    apply_source_schema,
    load_sql,
    state_params,
)
from tools.synthetic import generator as synthetic

AS_OF = datetime(2025, 6, 1, 12, 0, 0)
OLD = AS_OF - timedelta(days=200)
RECENT = AS_OF - timedelta(days=5)
EVSS, CLAIMS_API, BENEFITS_INTAKE = 0, 1, 2
ACCEPTED, REJECTED, PARANOID = 0, 1, 2


@pytest.fixture
def fresh_source_db(source_dsn: str) -> str:
    """An empty scratch database with the source schema (and the synthetic labels table)."""
    with psycopg.connect(source_dsn) as conn:
        synthetic.create_schema(conn)
    return source_dsn


def _states(conn: psycopg.Connection, as_of: datetime = AS_OF,
            window: int = DEFAULT_PENDING_WINDOW_DAYS) -> dict[int, str]:
    rows = conn.execute(f"WITH s AS ({SUBMISSION_STATE_SQL}) SELECT id, state FROM s",
                        state_params(as_of, window)).fetchall()
    return dict(rows)


# ------------------------------------------------------------------------------ module basics


def test_module_constants_and_sql_shape() -> None:
    assert STATES == ("success", "established_no_pdf", "in_process", "pending_backup", "failed")
    assert DEFAULT_PENDING_WINDOW_DAYS == 21
    assert SUBMISSION_STATE_SQL.lstrip().startswith(("--", "SELECT"))
    assert not SUBMISSION_STATE_SQL.rstrip().endswith(";")
    last_line = SUBMISSION_STATE_SQL.rstrip().splitlines()[-1]
    assert "--" not in last_line  # safe to wrap as "WITH s AS (<sql>) ..."
    assert "%(as_of)s" in SUBMISSION_STATE_SQL and "%(pending_window_days)s" in SUBMISSION_STATE_SQL
    assert load_sql("submission_state.sql").strip() == SUBMISSION_STATE_SQL
    with pytest.raises(ValueError):
        load_sql("../synthetic.py")


def test_state_params_normalises_aware_datetimes() -> None:
    aware = datetime(2025, 6, 1, 8, 0, tzinfo=timezone(timedelta(hours=-4)))
    assert state_params(aware) == {"as_of": AS_OF, "pending_window_days": 21, "include_email_notified": False}
    assert state_params(AS_OF, 7)["pending_window_days"] == 7


def test_apply_source_schema_is_idempotent(source_dsn: str) -> None:
    with psycopg.connect(source_dsn) as conn:
        apply_source_schema(conn)
        apply_source_schema(conn)
        tables = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
    assert tables == {"form526_submissions", "form526_job_statuses", "form526_submission_remediations",
                      "user_accounts", "form_attachments"}


# ------------------------------------------------------------------------------ seeded data


def test_selects_exactly_the_labelled_states_on_seeded_data(fresh_source_db: str) -> None:
    with psycopg.connect(fresh_source_db) as conn:
        summary = synthetic.seed(conn, 2000, seed=42, as_of=AS_OF)
        labels = dict(conn.execute(
            "SELECT submission_id, expected_state FROM synthetic.submission_labels").fetchall())
        states = _states(conn)
        failed_sql = {r[0] for r in conn.execute(
            f"WITH s AS ({SUBMISSION_STATE_SQL}) SELECT id FROM s WHERE state = 'failed'",
            state_params(AS_OF)).fetchall()}
        columns = [d.name for d in conn.execute(
            f"WITH s AS ({SUBMISSION_STATE_SQL}) SELECT * FROM s LIMIT 0", state_params(AS_OF)).description]
    assert columns == ["id", "user_uuid", "veteran_key", "user_account_id", "created_at", "state", "established",
                       "remediation"]
    assert failed_sql == {i for i, st in labels.items() if st == "failed"}
    assert len(failed_sql) == summary.per_state["failed"] > 0
    mismatches = {i: (labels[i], states.get(i)) for i in labels if labels[i] != states.get(i)}
    assert not mismatches
    assert set(states.values()) == set(STATES)


def test_as_of_limits_rows_and_moves_the_window(fresh_source_db: str) -> None:
    with psycopg.connect(fresh_source_db) as conn:
        synthetic.seed(conn, 400, seed=1, as_of=AS_OF)
        earlier = AS_OF - timedelta(days=60)
        expected = {r[0] for r in conn.execute(
            "SELECT id FROM form526_submissions WHERE created_at <= %s", (earlier,)).fetchall()}
        states = _states(conn, as_of=earlier)
        later = _states(conn, as_of=AS_OF + timedelta(days=60))
    assert set(states) == expected and len(expected) < 400
    # 60 days later nothing is in flight any more
    assert "in_process" not in later.values() and "pending_backup" not in later.values()


# ------------------------------------------------------------------------------ hand-built cases


@dataclass
class Case:
    expected: str
    created_at: datetime
    claim_id: bool = False
    endpoint: int | None = EVSS
    backup_id: bool = False
    backup_status: int | None = None
    jobs: list[tuple[str, str]] = field(default_factory=list)
    remediations: list[bool] = field(default_factory=list)  # success flags, oldest first


CASES: dict[str, Case] = {
    "evss_claim_id": Case("success", OLD, claim_id=True, jobs=[("SubmitForm526AllClaim", "success")]),
    "legacy_null_endpoint_claim_id": Case("success", OLD, claim_id=True, endpoint=None,
                                          jobs=[("SubmitForm526", "success")]),
    "claims_api_with_poll_success": Case("success", OLD, claim_id=True, endpoint=CLAIMS_API,
                                         jobs=[("SubmitForm526AllClaim", "success"), ("PollForm526Pdf", "success")]),
    "claims_api_without_poll_success": Case("established_no_pdf", OLD, claim_id=True, endpoint=CLAIMS_API,
                                            jobs=[("SubmitForm526AllClaim", "success"),
                                                  ("PollForm526Pdf", "pdf_not_found")]),
    "claims_api_no_poll_row_recent": Case("established_no_pdf", RECENT, claim_id=True, endpoint=CLAIMS_API,
                                          jobs=[("SubmitForm526AllClaim", "success")]),
    "claims_api_no_poll_backup_accepted": Case("success", OLD, claim_id=True, endpoint=CLAIMS_API,
                                               backup_id=True, backup_status=ACCEPTED,
                                               jobs=[("PollForm526Pdf", "exhausted")]),
    "claims_api_no_poll_remediated": Case("success", OLD, claim_id=True, endpoint=CLAIMS_API,
                                          remediations=[True]),
    "backup_accepted": Case("success", OLD, backup_id=True, backup_status=ACCEPTED,
                            jobs=[("SubmitForm526AllClaim", "exhausted"), ("BackupSubmission", "success")]),
    "backup_rejected_old": Case("failed", OLD, backup_id=True, backup_status=REJECTED,
                                jobs=[("SubmitForm526AllClaim", "exhausted"), ("BackupSubmission", "success")]),
    "backup_rejected_recent": Case("failed", RECENT, backup_id=True, backup_status=REJECTED,
                                   jobs=[("BackupSubmission", "success")]),
    "paranoid_success": Case("success", OLD, backup_id=True, backup_status=PARANOID),
    "paranoid_success_without_backup_id": Case("success", OLD, backup_status=PARANOID),
    "remediated": Case("success", OLD, jobs=[("SubmitForm526AllClaim", "exhausted")], remediations=[True]),
    "remediated_after_failed_attempt": Case("success", OLD, remediations=[False, True]),
    "no_longer_remediated": Case("failed", OLD, jobs=[("SubmitForm526AllClaim", "exhausted")],
                                 remediations=[True, False]),
    "in_process_try_only": Case("in_process", RECENT, jobs=[("SubmitForm526AllClaim", "try")]),
    "too_old_try_only": Case("failed", AS_OF - timedelta(days=30), jobs=[("SubmitForm526AllClaim", "try")]),
    "in_process_edge_inside_window": Case("in_process", AS_OF - timedelta(days=20, hours=23)),
    "too_old_edge_outside_window": Case("failed", AS_OF - timedelta(days=21, minutes=1)),
    "in_process_backup_retrying": Case("in_process", RECENT, jobs=[("SubmitForm526AllClaim", "exhausted"),
                                                                   ("BackupSubmission", "retryable_error")]),
    "recent_backup_exhausted": Case("failed", RECENT, jobs=[("SubmitForm526AllClaim", "exhausted"),
                                                            ("BackupSubmission", "exhausted")]),
    "recent_backup_non_retryable": Case("failed", RECENT, jobs=[("BackupSubmission", "non_retryable_error")]),
    "in_process_after_failed_remediation": Case("in_process", RECENT, remediations=[False]),
    "remediated_recent_no_ids": Case("success", RECENT, remediations=[True]),
    "pending_backup": Case("pending_backup", RECENT, backup_id=True, jobs=[("BackupSubmission", "success")]),
    "pending_backup_too_old": Case("failed", OLD, backup_id=True, jobs=[("BackupSubmission", "success")]),
    "pending_backup_with_remediation_row": Case("failed", RECENT, backup_id=True, remediations=[False]),
    "never_attempted_old": Case("failed", OLD),
    "never_attempted_recent": Case("in_process", RECENT),
    "ancillary_only_failures": Case("success", OLD, claim_id=True,
                                    jobs=[("SubmitForm526AllClaim", "success"),
                                          ("SubmitUploads", "non_retryable_error"),
                                          ("SubmitForm4142Job", "exhausted"),
                                          ("SubmitForm0781", "retryable_error"),
                                          ("SubmitForm526Cleanup", "non_retryable_error")]),
    "primary_non_retryable_old": Case("failed", OLD, jobs=[("SubmitForm526AllClaim", "non_retryable_error")]),
}


def _insert_cases(conn: psycopg.Connection, cases: dict[str, Case]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for n, (name, case) in enumerate(cases.items(), start=1):
        sid = conn.execute(
            "INSERT INTO form526_submissions (user_uuid, saved_claim_id, submitted_claim_id, created_at,"
            " updated_at, submit_endpoint, backup_submitted_claim_id, backup_submitted_claim_status,"
            " form_json, auth_headers_json)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, '{}', '{}') RETURNING id",
            (f"user-{n}", 1000 + n, 600_000_000 + n if case.claim_id else None, case.created_at,
             case.created_at, case.endpoint, f"bi-{n}" if case.backup_id else None, case.backup_status),
        ).fetchone()[0]
        ids[name] = sid
        for k, (job_class, status) in enumerate(case.jobs):
            conn.execute(
                "INSERT INTO form526_job_statuses (form526_submission_id, job_id, job_class, status, updated_at)"
                " VALUES (%s, %s, %s, %s, %s)",
                (sid, f"jid-{n}-{k}", job_class, status, case.created_at + timedelta(minutes=k + 1)))
        for k, success in enumerate(case.remediations):
            at = case.created_at + timedelta(days=1, hours=k)
            conn.execute(
                "INSERT INTO form526_submission_remediations (form526_submission_id, lifecycle, success,"
                " created_at, updated_at) VALUES (%s, %s, %s, %s, %s)",
                (sid, [f"{at:%Y-%m-%d %H:%M:%S} -- test"], success, at, at))
    return ids


def test_hand_built_cases_cover_every_branch(fresh_source_db: str) -> None:
    with psycopg.connect(fresh_source_db) as conn:
        ids = _insert_cases(conn, CASES)
        # a submission created after as_of is not returned at all
        future = conn.execute(
            "INSERT INTO form526_submissions (user_uuid, saved_claim_id, created_at, updated_at)"
            " VALUES ('future', 99999, %s, %s) RETURNING id",
            (AS_OF + timedelta(seconds=1), AS_OF + timedelta(seconds=1))).fetchone()[0]
        states = _states(conn)
    wrong = {name: (case.expected, states.get(ids[name])) for name, case in CASES.items()
             if states.get(ids[name]) != case.expected}
    assert not wrong, f"expected vs got: {wrong}"
    assert future not in states
    assert set(states.values()) == set(STATES)


def test_pending_window_parameter(fresh_source_db: str) -> None:
    cases = {
        "ten_days_no_jobs": Case("in_process", AS_OF - timedelta(days=10)),
        "ten_days_pending_backup": Case("pending_backup", AS_OF - timedelta(days=10), backup_id=True),
        "three_days_no_jobs": Case("in_process", AS_OF - timedelta(days=3)),
    }
    with psycopg.connect(fresh_source_db) as conn:
        ids = _insert_cases(conn, cases)
        default = _states(conn)
        week = _states(conn, window=7)
    assert {n: default[i] for n, i in ids.items()} == {n: c.expected for n, c in cases.items()}
    assert week[ids["ten_days_no_jobs"]] == "failed"
    assert week[ids["ten_days_pending_backup"]] == "failed"
    assert week[ids["three_days_no_jobs"]] == "in_process"


def test_latest_remediation_wins_by_created_at_not_id(fresh_source_db: str) -> None:
    with psycopg.connect(fresh_source_db) as conn:
        ids = _insert_cases(conn, {"x": Case("failed", OLD)})
        sid = ids["x"]
        # inserted newest-first: the success row has the higher id but the older created_at
        for success, at in ((False, OLD + timedelta(days=9)), (True, OLD + timedelta(days=2))):
            conn.execute(
                "INSERT INTO form526_submission_remediations (form526_submission_id, success, created_at,"
                " updated_at) VALUES (%s, %s, %s, %s)", (sid, success, at, at))
        assert _states(conn)[sid] == "failed"


def test_modules_do_not_import_airflow() -> None:
    import inspect
    import re

    for module in (selection, synthetic):
        assert not re.search(r"^\s*(import|from)\s+airflow", inspect.getsource(module), re.M)


def _state_rows(conn, **params) -> dict[int, tuple]:
    rows = conn.execute(f"WITH s AS ({SUBMISSION_STATE_SQL}) SELECT id, state, established, remediation, veteran_key"
                        " FROM s", state_params(AS_OF, **params)).fetchall()
    return {r[0]: r[1:] for r in rows}


@pytest.mark.parametrize(("rem_type", "success", "default", "established"), [
    (0, True, "success", True),                # manual, successful: an establishment
    (0, False, "failed", False),               # manual, marked unsuccessful
    (1, True, "success", False),               # ignored_as_duplicate: remediated, established nothing
    (2, True, "success", False),               # email_notified: remediated for vets-api, established nothing
    (7, True, "success", False),               # an unknown type: counted as remediated, never established
])
def test_remediation_types(fresh_source_db: str, rem_type, success, default, established) -> None:
    with psycopg.connect(fresh_source_db) as conn:
        sid = _insert_cases(conn, {"x": Case("failed", OLD)})["x"]
        conn.execute("INSERT INTO form526_submission_remediations (form526_submission_id, success,"
                     " remediation_type, created_at, updated_at) VALUES (%s, %s, %s, %s, %s)",
                     (sid, success, rem_type, OLD + timedelta(days=3), OLD + timedelta(days=3)))
        state, est, remediation, _ = _state_rows(conn)[sid]
        assert (state, est) == (default, established)
        assert remediation == {0: "manual", 1: "ignored_as_duplicate", 2: "email_notified"}.get(rem_type,
                                                                                               f"unknown:{rem_type}")
        # include_email_notified: only e-mail-notified submissions come back into the failure scope
        back = _state_rows(conn, include_email_notified=True)[sid][0]
        assert back == ("failed" if rem_type == 2 else default)


def test_the_veteran_key_links_credentials_through_any_row_with_an_account(fresh_source_db: str) -> None:
    account = "6f1c1b7e-2a9e-4c1e-9a55-0d3c7b0e9a11"
    with psycopg.connect(fresh_source_db) as conn:
        ids = _insert_cases(conn, {"old_idme": Case("failed", OLD), "new_idme": Case("failed", OLD),
                                   "logingov": Case("failed", OLD), "other": Case("failed", OLD)})
        conn.execute("UPDATE form526_submissions SET user_uuid = 'idme-1' WHERE id IN (%s, %s)",
                     (ids["old_idme"], ids["new_idme"]))
        # the older ID.me row has no account (older rows often don't); the newer one and Login.gov's have it
        conn.execute("UPDATE form526_submissions SET user_account_id = %s WHERE id IN (%s, %s)",
                     (account, ids["new_idme"], ids["logingov"]))
        keys = {name: _state_rows(conn)[sid][3] for name, sid in ids.items()}
    assert keys["old_idme"] == keys["new_idme"] == keys["logingov"] == f"acct:{account}"
    assert keys["other"].startswith("uuid:")
