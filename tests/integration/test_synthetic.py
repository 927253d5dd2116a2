"""Tests of the synthetic Form 526 data generator (tools/synthetic/)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from include.form526.source.selection import STATES
from tools.synthetic import generator as synthetic

ROOT = Path(__file__).resolve().parents[2]
AS_OF = datetime(2025, 6, 1, 12, 0, 0)
TABLES = ("form526_submissions", "form526_job_statuses", "form526_submission_remediations",
          "synthetic.submission_labels")
VOLATILE_KEYS = ("claimDate", "applicationExpirationDate")


@pytest.fixture
def fresh_source_db(source_dsn: str) -> str:
    """An empty scratch database with the source schema and the labels table."""
    with psycopg.connect(source_dsn) as conn:
        synthetic.create_schema(conn)
    return source_dsn


def _dump(conn: psycopg.Connection) -> dict[str, list[tuple]]:
    return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in TABLES}


def _seeded(dsn: str, n: int, seed: int = 42) -> synthetic.SeedSummary:
    with psycopg.connect(dsn) as conn:
        return synthetic.seed(conn, n, seed=seed, as_of=AS_OF)


# ------------------------------------------------------------------------------ schema


def test_schema_is_idempotent_and_has_the_vets_api_columns(fresh_source_db: str) -> None:
    with psycopg.connect(fresh_source_db) as conn:
        synthetic.create_schema(conn)  # second time: no error
        cols = dict(conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_name = 'form526_submissions'").fetchall())
        assert cols["form_json"] == "text" and cols["auth_headers_json"] == "text"
        assert cols["submit_endpoint"] == "integer"
        assert cols["backup_submitted_claim_status"] == "integer"
        assert cols["user_account_id"] == "uuid"
        assert "submitted_claim_id" in cols and "backup_submitted_claim_id" in cols
        job_cols = dict(conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_name = 'form526_job_statuses'").fetchall())
        assert job_cols["bgjob_errors"] == "jsonb" and "created_at" not in job_cols
        rem_cols = dict(conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_name = 'form526_submission_remediations'").fetchall())
        assert rem_cols["lifecycle"] == "ARRAY" and rem_cols["id"] == "bigint"
        label_cols = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'synthetic'"
            " AND table_name = 'submission_labels' ORDER BY ordinal_position").fetchall()
        assert [c[0] for c in label_cols] == ["submission_id", "scenario", "expected_state",
                                               "dupe_group"]


def test_source_schema_file_holds_only_the_vets_api_tables() -> None:
    text = (ROOT / "include" / "form526" / "source" / "sql" / "source_schema.sql").read_text()
    tables = re.findall(r"CREATE TABLE IF NOT EXISTS (\S+)", text)
    assert tables == ["form526_submissions", "form526_job_statuses",
                      "form526_submission_remediations"]
    assert "synthetic" not in text


# ------------------------------------------------------------------------------ determinism


def test_same_seed_gives_identical_rows(fresh_source_db: str) -> None:
    with psycopg.connect(fresh_source_db) as conn:
        first_summary = synthetic.seed(conn, 600, seed=7, as_of=AS_OF, batch_rows=128)
        first = _dump(conn)
        conn.execute("TRUNCATE " + ", ".join(TABLES) + " RESTART IDENTITY")
        conn.commit()
        second_summary = synthetic.seed(conn, 600, seed=7, as_of=AS_OF, batch_rows=1000)
        second = _dump(conn)
        assert first == second
        assert first_summary.per_scenario == second_summary.per_scenario
        assert first_summary.first_id == 1 and first_summary.last_id == 600
        conn.execute("TRUNCATE " + ", ".join(TABLES) + " RESTART IDENTITY")
        conn.commit()
        synthetic.seed(conn, 600, seed=8, as_of=AS_OF)
        assert _dump(conn)["form526_submissions"] != first["form526_submissions"]


def test_seeding_twice_appends_and_resets_sequences(fresh_source_db: str) -> None:
    with psycopg.connect(fresh_source_db) as conn:
        a = synthetic.seed(conn, 250, as_of=AS_OF)
        b = synthetic.seed(conn, 250, as_of=AS_OF)
        assert (a.first_id, a.last_id, b.first_id, b.last_id) == (1, 250, 251, 500)
        assert conn.execute("SELECT count(*), count(DISTINCT user_uuid) > 400"
                            " FROM form526_submissions").fetchone() == (500, True)
        assert conn.execute("SELECT count(*) FROM synthetic.submission_labels").fetchone() == (500,)
        # serial sequences continue after the explicit ids
        new_id = conn.execute(
            "INSERT INTO form526_submissions (user_uuid, saved_claim_id, created_at, updated_at)"
            " VALUES ('x', 1, now(), now()) RETURNING id").fetchone()[0]
        assert new_id == 501
        max_job = conn.execute("SELECT max(id) FROM form526_job_statuses").fetchone()[0]
        job_id = conn.execute(
            "INSERT INTO form526_job_statuses (form526_submission_id, job_id, job_class, status,"
            " updated_at) VALUES (501, 'jid-test', 'SubmitForm526AllClaim', 'try', now())"
            " RETURNING id").fetchone()[0]
        assert job_id == max_job + 1
        conn.rollback()


def test_seed_rejects_non_positive_n(fresh_source_db: str) -> None:
    with psycopg.connect(fresh_source_db) as conn:
        for bad in (0, -3):
            with pytest.raises(ValueError):
                synthetic.seed(conn, bad, as_of=AS_OF)


# ------------------------------------------------------------------------------ content


@pytest.fixture
def seeded_1000(fresh_source_db: str) -> tuple[str, synthetic.SeedSummary]:
    return fresh_source_db, _seeded(fresh_source_db, 1000)


def test_every_scenario_present_and_labels_complete(seeded_1000) -> None:
    dsn, summary = seeded_1000
    assert set(summary.per_scenario) == set(synthetic.SCENARIOS)
    assert sum(summary.per_scenario.values()) == 1000
    assert set(summary.per_state) == set(STATES) and all(summary.per_state.values())
    assert 0.04 <= summary.failed_share <= 0.08
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM synthetic.submission_labels").fetchone() == (1000,)
        assert conn.execute(
            "SELECT count(*) FROM form526_submissions s"
            " JOIN synthetic.submission_labels l ON l.submission_id = s.id").fetchone() == (1000,)
        rows = conn.execute("SELECT scenario, expected_state, dupe_group"
                            " FROM synthetic.submission_labels").fetchall()
    for scenario, state, dupe_group in rows:
        assert synthetic.SCENARIOS[scenario][0] == state
        assert (dupe_group is not None) == scenario.startswith("dupe_")


def test_awkward_records_present(seeded_1000) -> None:
    dsn, _ = seeded_1000
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT l.scenario, s.form_json, s.auth_headers_json FROM form526_submissions s"
            " JOIN synthetic.submission_labels l ON l.submission_id = s.id"
            " WHERE l.scenario LIKE 'awkward%' OR l.scenario = 'corrupt_form_json'").fetchall()
    by = {scenario: (form, auth) for scenario, form, auth in rows}
    assert set(by) == {s for s in synthetic.SCENARIOS
                       if s.startswith("awkward_") or s == "corrupt_form_json"}
    assert json.loads(by["awkward_empty_auth_bogus"][1]) == {"bogus": None}
    assert json.loads(by["awkward_empty_auth"][1]) == {}
    with pytest.raises(json.JSONDecodeError):
        json.loads(by["corrupt_form_json"][0])

    def inner(scenario: str) -> dict:
        return json.loads(by[scenario][0])["form526"]["form526"]

    assert inner("awkward_international_address")["veteran"]["currentMailingAddress"]["type"] == "INTERNATIONAL"
    military = inner("awkward_military_address")["veteran"]["currentMailingAddress"]
    assert military["type"] == "MILITARY" and military["militaryPostOfficeTypeCode"] in ("APO", "FPO", "DPO")
    zip9 = inner("awkward_zip_plus4")["veteran"]["currentMailingAddress"]
    assert len(zip9["zipFirstFive"]) == 5 and len(zip9["zipLastFour"]) == 4
    assert "claimDate" not in inner("awkward_missing_claim_date")
    long_form = inner("awkward_long_text")
    assert len(long_form["disabilities"][0]["name"]) > 2000
    assert len(long_form["disabilities"][0]["serviceRelevance"]) > 4000
    assert len(long_form["overflowText"]) > 5000
    assert "<b>Knee</b> & back" in by["awkward_markup_text"][0]
    auth = json.loads(by["awkward_unicode_names"][1])
    assert auth["va_eauth_firstName"] in synthetic.AWKWARD_FIRST_NAMES
    assert auth["va_eauth_lastName"] in synthetic.AWKWARD_LAST_NAMES
    ancillary = json.loads(by["awkward_ancillary_forms"][0])
    assert ancillary["form4142"]["veteranFullName"]
    assert ancillary["form0781"]["form0781"] and ancillary["form0781"]["form0781a"]
    assert ancillary["form8940"]["unemployability"]
    blank = json.loads(by["awkward_blank_identifiers"][1])
    assert blank["va_eauth_pnid"] == "" and blank["va_eauth_birlsfilenumber"] == ""


def test_blobs_have_the_vets_api_shape(seeded_1000) -> None:
    dsn, _ = seeded_1000
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT s.form_json, s.auth_headers_json FROM form526_submissions s"
            " JOIN synthetic.submission_labels l ON l.submission_id = s.id"
            " WHERE l.scenario NOT LIKE 'awkward%' AND l.scenario <> 'corrupt_form_json'").fetchall()
    address_types = set()
    actions = set()
    for form_text, auth_text in rows:
        form = json.loads(form_text)
        assert set(form) == {"form526", "form526_uploads", "form4142", "form0781", "form8940", "flashes"}
        inner = form["form526"]["form526"]
        assert inner["claimantCertification"] is True
        assert inner["serviceInformation"]["servicePeriods"]
        assert 1 <= len(inner["serviceInformation"]["servicePeriods"]) <= 3
        assert {"accountType", "accountNumber", "routingNumber", "bankName"} <= set(inner["directDeposit"])
        address_types.add(inner["veteran"]["currentMailingAddress"]["type"])
        actions.update(d["disabilityActionType"] for d in inner["disabilities"])
        auth = json.loads(auth_text)
        assert re.fullmatch(r"000\d{6}", auth["va_eauth_pnid"])
        assert re.fullmatch(r"(\d{8,9})?", auth["va_eauth_birlsfilenumber"])
        assert auth["va_eauth_pnidtype"] == "SSN"
        assert re.fullmatch(r"vagov-[0-9a-f-]{36}", auth["va_eauth_service_transaction_id"])
        assert json.loads(auth["va_eauth_authorization"])["authorizationResponse"]["id"] == auth["va_eauth_pnid"]
        datetime.fromisoformat(auth["va_eauth_birthdate"])
    assert address_types == {"DOMESTIC", "MILITARY", "INTERNATIONAL"}
    assert {"NEW", "INCREASE"} <= actions


def test_duplicates_share_veteran_and_content(seeded_1000) -> None:
    dsn, _ = seeded_1000
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT l.dupe_group, s.user_uuid, s.form_json, l.expected_state, s.created_at"
            " FROM form526_submissions s JOIN synthetic.submission_labels l ON l.submission_id = s.id"
            " WHERE l.dupe_group IS NOT NULL ORDER BY s.id").fetchall()
    groups: dict[str, list] = defaultdict(list)
    for group, user_uuid, form_text, state, created_at in rows:
        inner = json.loads(form_text)
        for key in VOLATILE_KEYS:
            inner["form526"]["form526"].pop(key, None)
        groups[group].append((user_uuid, json.dumps(inner, sort_keys=True), state, created_at))
    assert len(groups) >= 4
    patterns = set()
    for members in groups.values():
        assert len(members) >= 2
        assert len({m[0] for m in members}) == 1
        assert len({m[1] for m in members}) == 1
        patterns.add(tuple(m[2] for m in members))
    assert any(p[0] == "failed" and p[-1] == "success" for p in patterns)  # failed copies, then success
    assert any(p[0] == "success" and "failed" in p for p in patterns)  # success, then failed copies
    assert any(set(p) == {"failed"} for p in patterns)  # only failed copies


def test_job_rows_carry_realistic_errors_spread_over_time(seeded_1000) -> None:
    dsn, _ = seeded_1000
    with psycopg.connect(dsn) as conn:
        jobs = conn.execute(
            "SELECT j.job_class, j.status, j.error_class, j.error_message, j.bgjob_errors"
            " FROM form526_job_statuses j").fetchall()
        failed_ages = [r[0] for r in conn.execute(
            "SELECT %s - s.created_at FROM form526_submissions s"
            " JOIN synthetic.submission_labels l ON l.submission_id = s.id"
            " WHERE l.expected_state = 'failed'", (AS_OF,)).fetchall()]
    messages = [m for _, _, _, m, _ in jobs if m]
    assert any(re.match(r'\[\{"key"=>"form526\.submit\.save\.draftForm\.PIFInUse", "severity"=>"FATAL"', m)
               for m in messages)
    assert any(re.search(r"GUID: [0-9a-f-]{36}", m) for m in messages)
    primary_error_classes = {c for jc, st, c, _, _ in jobs
                             if jc == "SubmitForm526AllClaim" and st in ("exhausted", "non_retryable_error")}
    assert len(primary_error_classes) >= 4
    statuses = {st for _, st, _, _, _ in jobs}
    assert {"try", "success", "retryable_error", "non_retryable_error", "exhausted"} <= statuses
    for *_, errors in jobs:
        for key, entry in errors.items():
            assert key.isdigit()
            assert set(entry) == {"caller_method", "error_class", "error_message", "timestamp"}
    assert {"BackupSubmission", "PollForm526Pdf", "SubmitUploads", "SubmitForm526Cleanup"} <= {j[0] for j in jobs}
    assert any(age < timedelta(days=3) for age in failed_ages)
    assert any(age < timedelta(days=21) for age in failed_ages)
    assert any(age > timedelta(days=700) for age in failed_ages)
    assert all(timedelta(0) <= age <= timedelta(days=synthetic.HISTORY_DAYS + 1) for age in failed_ages)


# ------------------------------------------------------------------------------ CLI


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tools.synthetic", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args", [
    ("seed", "--dsn", "dbname=unused", "--n", "0"),
    ("seed", "--dsn", "dbname=unused", "--n", "-5"),
    ("seed", "--dsn", "dbname=unused", "--n", "ten"),
    ("seed", "--dsn", "dbname=unused", "--n", "5", "--as-of", "yesterday"),
    ("seed", "--dsn", "dbname=unused", "--n", "5", "--frobnicate"),
    ("seed", "--n", "5"),
    ("explode",),
    (),
])
def test_cli_rejects_bad_arguments_with_one_line(args: tuple[str, ...]) -> None:
    res = _cli(*args)
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0]
    assert res.stdout == ""


def test_cli_help() -> None:
    res = _cli("--help")
    assert res.returncode == 0 and "seed" in res.stdout and "schema" in res.stdout
    res = _cli("seed", "--help")
    assert res.returncode == 0 and "--as-of" in res.stdout and "--batch-rows" in res.stdout


def test_cli_unreachable_database_is_one_line() -> None:
    res = _cli("seed", "--dsn", "host=127.0.0.1 port=1 dbname=x user=nobody password=hunter2 connect_timeout=2",
               "--n", "5")
    assert res.returncode == 1
    assert len(res.stderr.strip().splitlines()) == 1 and "hunter2" not in res.stderr


def test_cli_schema_and_seed_print_counts_only(source_dsn: str) -> None:
    res = _cli("schema", "--dsn", source_dsn)
    assert res.returncode == 0, res.stderr
    res = _cli("seed", "--dsn", source_dsn, "--n", "300", "--seed", "3", "--as-of", "2025-06-01T12:00:00Z",
               "--batch-rows", "100")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["n"] == 300 and summary["as_of"] == "2025-06-01T12:00:00"
    assert sum(summary["per_state"].values()) == 300
    for line in res.stderr.strip().splitlines():
        assert re.fullmatch(r"seeded \d+/300 submissions|done: 300 submissions in [\d.]+s, failed share [\d.]+%",
                            line), line
    with psycopg.connect(source_dsn) as conn:
        names = {r[0] for r in conn.execute(
            "SELECT auth_headers_json::json->>'va_eauth_lastName' FROM form526_submissions").fetchall() if r[0]}
    assert not any(name in res.stdout or name in res.stderr for name in names)
