"""Selection and dedup as vets-api writes the data: generator ground truth vs. what the DAG delivers.

The expected sets come from the generator's own labels (tools/synthetic, computed without the project's
SQL); the delivered set is read back from S3 and the ledger.
"""

from __future__ import annotations

import psycopg
import pytest

from tests import helpers as h

DAG_ID = "form526_backlog_resubmission"
N = 1200


@pytest.fixture(scope="module")
def seeded(services, airflow_db):
    h.reset_databases(services)
    h.empty_bucket(services)
    h.seed(services, N, seed=31)
    return h.labels(services)


def delivered_ids(services) -> set[int]:
    return {int(k.rsplit("/", 1)[1][:-4]) for k in h.list_keys(services) if k.endswith(".zip")}


def scenario_ids(lab, name: str) -> list[int]:
    return sorted(sid for sid, v in lab.items() if v["scenario"] == name)


@pytest.fixture(scope="module")
def default_run(seeded, services):
    run_id, state, tis, _ = h.run_dag(DAG_ID, {"batch_size": 200, "tolerated_failure_percent": 100})
    assert state == "success", tis
    rows, summary = h.report_of(services, _recorded_key(services, run_id))
    return {"rows": {int(r["submission_id"]): r for r in rows}, "summary": summary,
            "delivered": delivered_ids(services)}


def _recorded_key(services, run_id: str) -> str:
    with psycopg.connect(services.ledger_dsn) as conn:
        return conn.execute("SELECT run_key FROM form526_runs WHERE run_id = %s", (run_id,)).fetchone()[0]


def test_the_uploaded_set_is_the_failed_and_deduplicated_set_of_the_labels(seeded, default_run):
    kept, skipped = h.expected_plan(seeded)
    rows = default_run["rows"]
    delivered_or_failed = {sid for sid, r in rows.items() if r["status"] in ("uploaded", "failed")}
    assert delivered_or_failed == kept
    assert {sid for sid, r in rows.items() if r["status"] == "skipped_duplicate"} == set(skipped)
    assert {sid: int(rows[sid]["duplicate_of"]) for sid in skipped} == skipped
    # every package in S3 is one the labels say to deliver
    assert default_run["delivered"] <= kept


def test_an_established_lighthouse_claim_is_never_delivered(seeded, default_run, services):
    established = [sid for sid, v in seeded.items() if v["state"] == "established_no_pdf"]
    assert established, "the generator wrote established Lighthouse claims without a PDF"
    assert not set(established) & default_run["delivered"]
    # asked for by id, it comes back not_eligible with a reason that says why
    sid = established[0]
    run_id, _, tis, _ = h.run_dag(DAG_ID, {"submission_ids": [sid], "tolerated_failure_percent": 100})
    assert tis["reconcile"] == "success", tis
    rows, _ = h.report_of(services, _recorded_key(services, run_id))
    row = next(r for r in rows if int(r["submission_id"]) == sid)
    assert row["status"] == "not_eligible"
    assert "claim already established" in row["error_detail"]


def test_a_later_failure_after_an_email_notified_first_member_is_delivered(seeded, default_run):
    notified = scenario_ids(seeded, "dupe_email_notified_first")
    later = scenario_ids(seeded, "dupe_failed_after_email_notified")
    assert notified and later, "the generator wrote e-mail-notified dupe sets"
    groups = {seeded[sid]["dupe_group"] for sid in later}
    for group in groups:
        members = sorted((v["created_at"], sid) for sid, v in seeded.items() if v["dupe_group"] == group)
        first_failed_later = next(sid for _, sid in members if sid in later)
        assert default_run["rows"][first_failed_later]["status"] == "uploaded", group
    assert not set(notified) & default_run["delivered"], "e-mail-notified submissions are remediated"


def test_two_credentials_of_one_veteran_are_one_veteran(seeded, default_run):
    cross = scenario_ids(seeded, "dupe_cross_credential_failed")
    assert cross, "the generator wrote veterans with two credentials"
    by_group: dict[str, list[int]] = {}
    for sid in cross:
        by_group.setdefault(seeded[sid]["dupe_group"], []).append(sid)
    checked = 0
    for group in by_group:
        members = [sid for sid, v in seeded.items() if v["dupe_group"] == group]
        users = {seeded[sid]["user"] for sid in members}
        if len(users) < 2:
            continue
        statuses = sorted(default_run["rows"][sid]["status"] for sid in members
                          if seeded[sid]["state"] == "failed")
        assert statuses.count("uploaded") == 1 and "skipped_duplicate" in statuses, (group, statuses)
        checked += 1
    assert checked, "no dupe set spans two credentials"


def test_include_email_notified_brings_those_submissions_back(seeded, services):
    h.reset_ledger_and_bucket(services)
    run_id, state, tis, _ = h.run_dag(DAG_ID, {"batch_size": 200, "tolerated_failure_percent": 100,
                                               "include_email_notified": True})
    assert state == "success", tis
    rows, _ = h.report_of(services, _recorded_key(services, run_id))
    kept, skipped = h.expected_plan(seeded, include_email_notified=True)
    got = {int(r["submission_id"]) for r in rows if r["status"] in ("uploaded", "failed")}
    assert got == kept
    assert {int(r["submission_id"]) for r in rows if r["status"] == "skipped_duplicate"} == set(skipped)
    notified = set(scenario_ids(seeded, "email_notified_backup_exhausted"))
    assert notified and notified <= got
