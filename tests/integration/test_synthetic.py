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

from include.form526.source import lockbox
from tools.synthetic import generator as synthetic
from tools.synthetic.evidence import sanitize_filename

ROOT = Path(__file__).resolve().parents[2]
AS_OF = datetime(2025, 6, 1, 12, 0, 0)
TABLES = ("form526_submissions", "form526_job_statuses", "form526_submission_remediations", "user_accounts",
          "form_attachments", "synthetic.submission_labels")
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
        assert tuple(c[0] for c in label_cols) == synthetic.LABEL_COLS
        for column in ("form_json_ciphertext", "auth_headers_json_ciphertext", "birls_ids_tried_ciphertext"):
            assert cols[column] == "text"
        att_cols = dict(conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_name = 'form_attachments'").fetchall())
        assert att_cols["guid"] == "uuid" and att_cols["type"] == "character varying"
        assert {"file_data", "file_data_ciphertext", "encrypted_kms_key", "needs_kms_rotation"} <= set(att_cols)
        acct_cols = dict(conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_name = 'user_accounts'").fetchall())
        assert acct_cols["id"] == "uuid" and "icn" in acct_cols
        indexes = {r[0] for r in conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename IN"
                                              " ('form_attachments', 'user_accounts')")}
        assert any("UNIQUE" in i and "(guid, type)" in i for i in indexes)
        assert any("UNIQUE" in i and "(icn)" in i for i in indexes)


def test_source_schema_file_holds_only_the_vets_api_tables() -> None:
    text = (ROOT / "include" / "form526" / "source" / "sql" / "source_schema.sql").read_text()
    tables = re.findall(r"CREATE TABLE IF NOT EXISTS (\S+)", text)
    assert tables == ["form526_submissions", "form526_job_statuses",
                      "form526_submission_remediations", "user_accounts", "form_attachments"]
    assert "synthetic" not in text
    for column in ("form_json", "auth_headers_json", "birls_ids_tried", "file_data"):
        assert f"{column} stands for {column}_ciphertext" in " ".join(text.split())


def test_labels_table_of_an_older_generator_is_upgraded(source_dsn: str) -> None:
    with psycopg.connect(source_dsn) as conn:
        conn.execute("CREATE SCHEMA synthetic")
        conn.execute("CREATE TABLE synthetic.submission_labels (submission_id integer PRIMARY KEY,"
                     " scenario text NOT NULL, expected_state text NOT NULL CHECK (expected_state IN"
                     " ('success', 'in_process', 'pending_backup', 'failed')), dupe_group text NULL)")
        conn.commit()
        summary = synthetic.seed(conn, 250, as_of=AS_OF)
        assert summary.per_state["established_no_pdf"] > 0
        assert conn.execute("SELECT count(*) FROM synthetic.submission_labels"
                            " WHERE veteran_key IS NOT NULL").fetchone() == (250,)


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
    assert set(summary.per_state) == set(synthetic.LABEL_STATES) and all(summary.per_state.values())
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


def _rows(dsn: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchall()


def test_duplicates_share_veteran_and_content(seeded_1000) -> None:
    dsn, _ = seeded_1000
    rows = _rows(dsn, "SELECT l.dupe_group, l.veteran_key, s.user_uuid, s.form_json, l.expected_state"
                      " FROM form526_submissions s JOIN synthetic.submission_labels l ON l.submission_id = s.id"
                      " WHERE l.dupe_group IS NOT NULL ORDER BY s.created_at, s.id")
    groups: dict[str, list] = defaultdict(list)
    for group, key, user_uuid, form_text, state in rows:
        inner = json.loads(form_text)
        for k in VOLATILE_KEYS:
            inner["form526"]["form526"].pop(k, None)
        groups[group].append((key, json.dumps(inner, sort_keys=True), state, user_uuid))
    assert len(groups) >= 8
    patterns = set()
    for members in groups.values():
        assert len(members) >= 2
        assert len({m[0] for m in members}) == 1  # one veteran
        assert len({m[1] for m in members}) == 1  # identical content
        patterns.add(tuple(m[2] for m in members))
    assert any(p[0] == "failed" and p[-1] == "success" for p in patterns)  # failed copies, then success
    assert any(p[0] == "success" and "failed" in p for p in patterns)  # success, then failed copies
    assert any(set(p) == {"failed"} for p in patterns)  # only failed copies
    assert any(p[0] == "established_no_pdf" and "failed" in p for p in patterns)
    assert any(len({m[3] for m in members}) == 2 for members in groups.values())  # across two credentials


def _entries(errors: dict) -> list[dict]:
    return [errors[k] for k in sorted(errors, key=int)]


def test_job_tracker_rows_as_the_jobs_leave_them(seeded_1000) -> None:
    dsn, _ = seeded_1000
    jobs = _rows(dsn, "SELECT job_class, status, error_class, error_message, bgjob_errors, form526_submission_id"
                      " FROM form526_job_statuses")
    classes = {j[0] for j in jobs}
    assert {"SubmitForm526AllClaim", "BackupSubmission", "PollForm526Pdf", "SubmitUploads",
            "SubmitForm526Cleanup"} <= classes
    assert "Form526StatusPollingJob" not in classes  # it only sets backup_submitted_claim_status
    tracked = [j for j in jobs if j[0] not in ("BackupSubmission", "PollForm526Pdf")]
    assert {"try", "success", "retryable_error", "non_retryable_error", "exhausted"} <= {j[1] for j in tracked}
    for job_class, status, error_class, message, errors, sid in tracked:
        for key, entry in errors.items():
            assert key.isdigit()
            assert set(entry) - {"form526_submission_id"} == {"caller_method", "error_class", "error_message",
                                                             "timestamp"}
        entries = _entries(errors)
        if status in ("try", "success"):
            assert error_class is None and message is None
        if status == "success":
            assert entries[-1]["error_class"] is None
        if status in ("retryable_error", "non_retryable_error"):
            assert (entries[-1]["error_class"], entries[-1]["error_message"]) == (error_class, message)
        if status == "exhausted":
            # exhaustion appends its own entry and leaves the columns as the last retry set them
            last, before = entries[-1], [e for e in entries[:-1] if e["error_class"]]
            assert last["form526_submission_id"] == sid
            assert last["caller_method"] == ("job_exhausted" if job_class == "SubmitForm526AllClaim" else "")
            assert error_class is not None and (before[-1]["error_class"], before[-1]["error_message"]) == (
                error_class, message)
    ancillary = {j[1] for j in tracked if j[0] in ("SubmitUploads", "SubmitForm4142Job", "SubmitForm0781",
                                                   "SubmitForm8940", "UploadBddInstructions")}
    assert "exhausted" in ancillary and "non_retryable_error" not in ancillary


def test_backup_rows_keep_errors_only_in_bgjob_errors(seeded_1000) -> None:
    dsn, _ = seeded_1000
    rows = _rows(dsn, "SELECT status, error_class, error_message, bgjob_errors FROM form526_job_statuses"
                      " WHERE job_class = 'BackupSubmission'")
    assert {r[0] for r in rows} == {"pending", "success", "retryable_error", "exhausted"}
    for status, error_class, message, errors in rows:
        assert error_class is None and message is None
        assert all(e["caller_method"] == "error_hash_for_job_status" and e["error_class"] for e in errors.values())
        if status in ("retryable_error", "exhausted"):
            assert errors
    messages = {e["error_message"] for r in rows for e in r[3].values()}
    assert "file number is invalid. It must be 8 or 9 digits" in messages


def test_poll_rows_follow_the_pdf_age_rules(seeded_1000) -> None:
    dsn, _ = seeded_1000
    rows = _rows(dsn, "SELECT j.status, j.error_class, j.error_message, %s - s.created_at, l.expected_state"
                      " FROM form526_job_statuses j JOIN form526_submissions s ON s.id = j.form526_submission_id"
                      " JOIN synthetic.submission_labels l ON l.submission_id = s.id"
                      " WHERE j.job_class = 'PollForm526Pdf'", (AS_OF,))
    statuses = {r[0] for r in rows}
    assert {"success", "pdf_not_found", "try"} <= statuses
    assert statuses & {"pdf_found_later", "pdf_success_on_backup_path", "pdf_manually_uploaded"}
    for status, error_class, message, age, state in rows:
        if status == "try" and error_class:
            assert error_class == "PollForm526PdfError" and "over 1 day old" in message
            assert timedelta(days=1) <= age <= timedelta(days=4, hours=1)
        if status != "success":  # a claim without confirmed PDF: established, or rescued by backup/remediation
            assert state in ("established_no_pdf", "success")
    assert any(m == "Poll for Form 526 PDF: Retries exhausted" for s, _, m, _, _ in rows if s == "pdf_not_found")


def test_established_lighthouse_claims_without_pdf_are_not_failures(seeded_1000) -> None:
    dsn, _ = seeded_1000
    rows = _rows(dsn, "SELECT s.submitted_claim_id, s.submit_endpoint, l.expected_delivery,"
                      " EXISTS (SELECT 1 FROM form526_job_statuses j WHERE j.form526_submission_id = s.id"
                      "         AND j.job_class = 'PollForm526Pdf' AND j.status = 'success'),"
                      " EXISTS (SELECT 1 FROM form526_job_statuses j WHERE j.form526_submission_id = s.id"
                      "         AND j.job_class = 'PollForm526Pdf')"
                      " FROM form526_submissions s JOIN synthetic.submission_labels l ON l.submission_id = s.id"
                      " WHERE l.expected_state = 'established_no_pdf'")
    assert len(rows) >= 5
    assert all(claim is not None and endpoint == 1 and delivery == "not_failed" and not poll_success
               for claim, endpoint, delivery, poll_success, _ in rows)
    assert any(not has_poll for *_, has_poll in rows) and any(has_poll for *_, has_poll in rows)


def test_three_remediation_types(seeded_1000) -> None:
    dsn, _ = seeded_1000
    rows = _rows(dsn, "SELECT r.remediation_type, r.success, r.ignored_as_duplicate, r.lifecycle, l.scenario"
                      " FROM form526_submission_remediations r"
                      " JOIN synthetic.submission_labels l ON l.submission_id = r.form526_submission_id")
    by_type = defaultdict(list)
    for rtype, *rest in rows:
        by_type[rtype].append(rest)
    assert set(by_type) == {0, 1, 2}
    assert all(success and lifecycle == ["Email failure notification sent"] and not ignored
               for success, ignored, lifecycle, _ in by_type[2])
    assert {sc for *_, sc in by_type[2]} >= {"email_notified_backup_exhausted", "email_notified_backup_rejected"}
    assert all(success and ignored for success, ignored, _, _ in by_type[1])
    line = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d -- .+")
    assert all(all(line.fullmatch(x) for x in lifecycle) for _, _, lifecycle, _ in by_type[0])
    assert {s for s, _, _, _ in by_type[0]} == {True, False}
    # mark_as_unsuccessful: the same row turns unsuccessful and gains a second lifecycle line
    assert any(not s and len(lc) == 2 and sc == "no_longer_remediated" for s, _, lc, sc in by_type[0])


def test_veterans_accounts_and_credentials(seeded_1000) -> None:
    dsn, _ = seeded_1000
    shared = _rows(dsn, "SELECT user_account_id, count(DISTINCT user_uuid) FROM form526_submissions"
                        " WHERE user_account_id IS NOT NULL GROUP BY 1 HAVING count(DISTINCT user_uuid) > 1")
    assert shared  # one veteran, two credentials, one account
    both = _rows(dsn, "SELECT user_uuid FROM form526_submissions GROUP BY 1"
                      " HAVING bool_or(user_account_id IS NULL) AND bool_or(user_account_id IS NOT NULL)")
    assert both  # older rows of a credential predate its account link
    older_null = _rows(dsn, "SELECT bool_and(n.created_at < a.created_at) FROM form526_submissions n"
                            " JOIN form526_submissions a ON a.user_uuid = n.user_uuid"
                            " WHERE n.user_account_id IS NULL AND a.user_account_id IS NOT NULL")
    assert older_null == [(True,)]
    dangling = _rows(dsn, "SELECT count(DISTINCT s.user_account_id) FROM form526_submissions s"
                          " LEFT JOIN user_accounts a ON a.id = s.user_account_id"
                          " WHERE s.user_account_id IS NOT NULL AND a.id IS NULL")[0][0]
    assert dangling >= 1
    assert _rows(dsn, "SELECT count(*) FROM user_accounts WHERE icn !~ '^[0-9]{10}V[0-9]{6}$'") == [(0,)]
    # veteran_key: the account of any submission of the same credential, else the credential
    expected = dict(_rows(dsn, """
        SELECT s.id, coalesce('acct:' || k.acct, 'uuid:' || s.user_uuid) FROM form526_submissions s
        LEFT JOIN (SELECT user_uuid, min(user_account_id::text) AS acct FROM form526_submissions
                   WHERE user_account_id IS NOT NULL GROUP BY 1) k ON k.user_uuid = s.user_uuid"""))
    assert dict(_rows(dsn, "SELECT submission_id, veteran_key FROM synthetic.submission_labels")) == expected


def test_form_attachments_for_uploads(seeded_1000) -> None:
    dsn, _ = seeded_1000
    uploads = {}
    for sid, form_text in _rows(dsn, "SELECT id, form_json FROM form526_submissions WHERE id IN"
                                     " (SELECT submission_id FROM synthetic.submission_labels"
                                     "  WHERE scenario <> 'corrupt_form_json')"):
        for item in json.loads(form_text)["form526_uploads"]:
            assert set(item) == {"confirmationCode", "name", "attachmentId", "size"}
            assert re.fullmatch(r"L\d{3}", item["attachmentId"])
            uploads[item["confirmationCode"]] = (sid, item["name"])
    rows = {str(g): (t, json.loads(fd))
            for g, t, fd in _rows(dsn, "SELECT guid, type, file_data FROM form_attachments")}
    assert set(rows) <= set(uploads)
    without_row = set(uploads) - set(rows)
    other_type = {g for g, (t, _) in rows.items() if t != "SupportingEvidenceAttachment"}
    assert without_row and other_type and len(without_row) + len(other_type) < 0.05 * len(uploads)
    converted = 0
    for guid, (_, data) in rows.items():
        name = uploads[guid][1]
        assert data["filename"] == sanitize_filename(name)
        if name.endswith(".tiff") or name == "scan0001.pdf":
            assert data["converted_filename"].startswith("converted_")
            converted += 1
        else:
            assert set(data) == {"filename"}
    assert converted
    awkward = _rows(dsn, "SELECT s.form_json FROM form526_submissions s JOIN synthetic.submission_labels l"
                         " ON l.submission_id = s.id WHERE l.scenario = 'awkward_evidence_rows'")
    items = json.loads(awkward[0][0])["form526_uploads"]
    assert items[0]["confirmationCode"] in without_row and items[1]["confirmationCode"] in other_type


def test_delivery_labels_follow_the_dupe_set_rule(seeded_1000) -> None:
    dsn, _ = seeded_1000
    lab = {r[0]: r[1:] for r in _rows(dsn, """
        SELECT l.submission_id, l.scenario, l.expected_state, l.dupe_group, l.veteran_key, l.expected_delivery,
               l.expected_duplicate_of, l.expected_delivery_with_email_notified,
               l.expected_duplicate_of_with_email_notified
        FROM synthetic.submission_labels l""")}
    for sid, (_, state, group, key, delivery, dup_of, _, _) in lab.items():
        assert (delivery != "not_failed") == (state == "failed"), sid
        assert (dup_of is not None) == (delivery == "skipped_duplicate")
        if dup_of is not None:  # a duplicate of an earlier (or the kept) member of the same set
            assert lab[dup_of][2] == group and lab[dup_of][3] == key
            assert lab[dup_of][4] == "delivered" or lab[dup_of][1] in ("success", "established_no_pdf")
    by_scenario = defaultdict(set)
    for v in lab.values():
        by_scenario[v[0]].add(v[4])
    assert by_scenario["dupe_failed_after_success"] == {"skipped_duplicate"}
    assert by_scenario["dupe_failed_after_established_no_pdf"] == {"skipped_duplicate"}
    assert by_scenario["dupe_all_failed"] == {"delivered", "skipped_duplicate"}
    assert by_scenario["dupe_cross_credential_failed"] == {"delivered", "skipped_duplicate"}
    # an e-mail notification establishes nothing: the later failed copy is delivered ...
    assert "delivered" in by_scenario["dupe_failed_after_email_notified"]
    assert by_scenario["dupe_email_notified_first"] == {"not_failed"}
    # ... unless e-mail-notified submissions count as failed again: then the first copy is
    firsts = [sid for sid, v in lab.items() if v[0] == "dupe_email_notified_first"]
    assert firsts and all(lab[sid][6] == "delivered" for sid in firsts)
    assert all(v[6] == "delivered" for v in lab.values() if v[0] == "email_notified_backup_exhausted")
    later = [v for v in lab.values() if v[0] == "dupe_failed_after_email_notified"]
    assert all(v[6] == "skipped_duplicate" and lab[v[7]][0] == "dupe_email_notified_first" for v in later)


def test_job_rows_spread_over_time(seeded_1000) -> None:
    dsn, _ = seeded_1000
    jobs = _rows(dsn, "SELECT error_message FROM form526_job_statuses WHERE error_message IS NOT NULL")
    failed_ages = [r[0] for r in _rows(dsn, "SELECT %s - s.created_at FROM form526_submissions s"
                                            " JOIN synthetic.submission_labels l ON l.submission_id = s.id"
                                            " WHERE l.expected_state = 'failed'", (AS_OF,))]
    messages = [m for (m,) in jobs]
    assert any(re.match(r'\[\{"key"=>"form526\.submit\.save\.draftForm\.PIFInUse", "severity"=>"FATAL"', m)
               for m in messages)
    assert any(re.search(r"GUID: [0-9a-f-]{36}", m) for m in messages)
    assert any(':code=>"EVSS502"' in m for m in messages) and any(':code=>"EVSS400"' in m for m in messages)
    primary_error_classes = {r[0] for r in _rows(
        dsn, "SELECT error_class FROM form526_job_statuses WHERE job_class = 'SubmitForm526AllClaim'"
             " AND status IN ('exhausted', 'non_retryable_error')")}
    assert len(primary_error_classes) >= 4
    assert any(age < timedelta(days=3) for age in failed_ages)
    assert any(age > timedelta(days=700) for age in failed_ages)
    assert all(timedelta(0) <= age <= timedelta(days=synthetic.HISTORY_DAYS + 1) for age in failed_ages)
    future = _rows(dsn, "SELECT count(*) FROM form526_job_statuses WHERE updated_at > %s", (AS_OF,))
    assert future == [(0,)]


# ------------------------------------------------------------------------------ encrypted mode


def test_encrypted_seeding_decrypts_back_with_lockbox(fresh_source_db: str) -> None:
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    with moto.mock_aws():
        kms = boto3.client("kms", region_name="us-east-1")
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        with psycopg.connect(fresh_source_db) as conn:
            summary = synthetic.seed(conn, 220, seed=5, as_of=AS_OF, encrypt_with=kms, kms_key_id=key_id)
            subs = conn.execute(
                "SELECT id, form_json, auth_headers_json, birls_ids_tried, form_json_ciphertext,"
                " auth_headers_json_ciphertext, birls_ids_tried_ciphertext, encrypted_kms_key, needs_kms_rotation"
                " FROM form526_submissions ORDER BY id").fetchall()
            atts = conn.execute("SELECT id, type, file_data, file_data_ciphertext, encrypted_kms_key"
                                " FROM form_attachments ORDER BY id").fetchall()
            plain_forms = [r[1] for r in subs]
            conn.execute("TRUNCATE " + ", ".join(TABLES) + " RESTART IDENTITY")
            conn.commit()
            synthetic.seed(conn, 220, seed=5, as_of=AS_OF)
            again = [r[0] for r in conn.execute("SELECT form_json FROM form526_submissions ORDER BY id")]
        cache = lockbox.DataKeyCache(lockbox.boto3_kms_decrypt(kms))
        assert summary.encrypted
        versions = set()
        for sid, form, auth, birls, c_form, c_auth, c_birls, kms_key, _ in subs:
            ctx = lockbox.encryption_context("Form526Submission", sid)
            assert c_form != form and cache.decrypt(c_form, kms_key, ctx) == form
            assert cache.decrypt(c_auth, kms_key, ctx) == auth
            assert (c_birls is None) == (birls is None) and cache.decrypt(c_birls, kms_key, ctx) == birls
            versions.add(lockbox.kms_key_version(kms_key))
        assert versions <= {1, 2023, 2024} and 2024 in versions
        assert any(rotate for *_, rotate in subs)  # a few rows missed the yearly rotation
        for aid, atype, file_data, cipher, kms_key in atts:
            assert cache.decrypt(cipher, kms_key, lockbox.encryption_context(atype, aid)) == file_data
        # the context binds the key to its row: another id cannot unwrap it
        sid, *_, c_form, _, _, kms_key, _ = subs[0]
        with pytest.raises(lockbox.DecryptError):
            lockbox.DataKeyCache(lockbox.boto3_kms_decrypt(kms)).decrypt(
                c_form, kms_key, lockbox.encryption_context("Form526Submission", sid + 1))
    assert again == plain_forms  # plaintext columns do not depend on the mode


# ------------------------------------------------------------------------------ evidence objects


def test_put_evidence_uploads_objects_with_a_few_missing_and_one_corrupt(fresh_source_db: str) -> None:
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    _seeded(fresh_source_db, 1200, seed=9)
    with moto.mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="evidence")
        with psycopg.connect(fresh_source_db) as conn:
            summary = synthetic.put_evidence(s3, "evidence", conn, seed=9)
            conn.commit()
            labels = {k: (kind, exp) for k, kind, exp in conn.execute(
                "SELECT s3_key, object_kind, expected FROM synthetic.evidence_labels")}
            rows = conn.execute("SELECT guid, file_data FROM form_attachments"
                                " WHERE type = 'SupportingEvidenceAttachment'").fetchall()
        keys = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket="evidence")
                for o in page.get("Contents", [])}
        bodies = {k: s3.get_object(Bucket="evidence", Key=k)["Body"].read() for k in keys}
    for guid, file_data in rows:
        key = f"disability_compensation_supporting_form/{guid}/{json.loads(file_data)['filename']}"
        assert (key in keys) == (labels[key][1] != "missing")
    assert summary.missing and len(summary.corrupt) == 1
    assert len(summary.missing) < 0.1 * len(keys)
    assert summary.uploaded == len(keys)
    magic = {"pdf": b"%PDF-", "png": b"\x89PNG", "jpg": b"\xff\xd8\xff", "tiff": b"II*\x00"}
    for key, body in bodies.items():
        kind, expected = labels[key]
        if kind in magic:
            assert body.startswith(magic[kind]), key
        if kind == "pdf":
            assert (b"%%EOF" in body[-64:]) == (expected != "corrupt"), key
    assert len(set(bodies.values())) <= 5 * 3 + 1  # drawn from a small pool (plus the corrupt one)


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
    assert "--evidence-bucket" in res.stdout and "--s3-endpoint" in res.stdout


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


# ------------------------------------------------------------------------------ backlog mode


@pytest.fixture
def backlog_1000(fresh_source_db: str) -> tuple[str, synthetic.SeedSummary]:
    with psycopg.connect(fresh_source_db) as conn:
        return fresh_source_db, synthetic.seed_backlog(conn, 1000, seed=11, as_of=AS_OF)


def test_backlog_has_exactly_n_failed_duplicates_and_a_minority_of_context(backlog_1000) -> None:
    dsn, summary = backlog_1000
    labels = _rows(dsn, "SELECT expected_state, expected_delivery, scenario, veteran_key, dupe_group"
                        " FROM synthetic.submission_labels")
    states = defaultdict(int)
    for state, *_ in labels:
        states[state] += 1
    assert states["failed"] == summary.per_state["failed"] == 1000
    assert sum(v for k, v in states.items() if k != "failed") == 200  # success_share 0.2
    assert summary.n == len(labels) == 1200
    skipped = [r for r in labels if r[0] == "failed" and r[1] == "skipped_duplicate"]
    assert 80 <= len(skipped) <= 200  # ~16% of failed are in duplicate groups; one of each set is delivered
    scenarios = {r[2] for r in labels}
    assert "dupe_cross_credential_failed" in scenarios and "dupe_all_failed" in scenarios
    assert {s for s in synthetic.SCENARIOS if s.startswith("awkward_")} <= scenarios
    # duplicates across credentials: one veteran (key) behind two user_uuids
    uuids_per_vet = _rows(dsn, "SELECT l.veteran_key, count(DISTINCT s.user_uuid) FROM synthetic.submission_labels l"
                               " JOIN form526_submissions s ON s.id = l.submission_id"
                               " WHERE l.scenario = 'dupe_cross_credential_failed' GROUP BY 1")
    assert uuids_per_vet and all(n == 2 for _, n in uuids_per_vet)


def test_backlog_evidence_follows_the_stated_mix(backlog_1000) -> None:
    dsn, _ = backlog_1000
    forms = []
    for (text,) in _rows(dsn, "SELECT form_json FROM form526_submissions ORDER BY id"):
        try:
            forms.append(json.loads(text))
        except ValueError:
            continue
    with_uploads = [f["form526_uploads"] for f in forms if f["form526_uploads"]]
    assert 0.34 <= len(with_uploads) / len(forms) <= 0.46  # evidence_share 0.4
    counts = [len(u) for u in with_uploads]
    assert set(counts) <= {1, 2, 3, 4} and 1.7 <= sum(counts) / len(counts) <= 2.3
    kinds = defaultdict(int)
    for item in (i for u in with_uploads for i in u):
        kinds[item["name"].rsplit(".", 1)[-1].lower()] += 1
    total = sum(kinds.values())
    assert 0.48 <= kinds["pdf"] / total <= 0.62 and 0.23 <= (kinds["jpg"] + kinds["jpeg"]) / total <= 0.37
    assert kinds["png"] and kinds["txt"] and set(kinds) <= {"pdf", "jpg", "jpeg", "png", "txt"}
    guids = {g for (g,) in _rows(dsn, "SELECT CAST(guid AS text) FROM form_attachments"
                                      " WHERE type = 'SupportingEvidenceAttachment'")}
    uploads = {i["confirmationCode"] for u in with_uploads for i in u}  # a duplicate repeats its original's
    assert len(guids & uploads) >= 0.97 * len(uploads)  # a few have no row or a row of another type


def test_pool_server_serves_every_backlog_upload_from_the_pool(backlog_1000, tmp_path: Path) -> None:
    boto3 = pytest.importorskip("boto3")
    import threading

    from include.form526.source.attachments import EvidenceStore
    from tools.synthetic import pool

    dsn, _ = backlog_1000
    small = {"pdf": 2, "jpg": 2, "png": 1, "txt": 1}
    written = pool.write_pool(tmp_path / "pool", seed=11, counts=small)
    assert [len(written[k]) for k in small] == list(small.values())
    server = pool.PoolServer(("127.0.0.1", 0), tmp_path / "pool", "evidence")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{server.server_address[1]}", region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        rows = _rows(dsn, "SELECT CAST(guid AS text), file_data FROM form_attachments"
                          " WHERE type = 'SupportingEvidenceAttachment' ORDER BY id")
        store = EvidenceStore(s3, "evidence")
        magic = {"pdf": b"%PDF-", "png": b"\x89PNG", "jpg": b"\xff\xd8\xff", "txt": b"Statement in support"}
        found = missing = 0
        for guid, file_data in rows:
            name = json.loads(file_data)["filename"]
            key = f"disability_compensation_supporting_form/{guid}/{name}"
            body, reason = store.open(key, 10 * 1024 * 1024)
            if pool.choose(written, 11, guid, name) is None:
                assert body is None and reason == "evidence_not_found", key
                missing += 1
                continue
            with body:
                assert body.read(32).startswith(magic[pool.kind_of_name(name)]), key
            found += 1
        assert found > 300 and 0 < missing < 0.06 * len(rows)
        assert server.stats["get"] == found and server.stats["not_found"] == missing
    finally:
        server.shutdown()
        server.server_close()


def test_pool_is_deterministic_and_its_spec_is_cheap(tmp_path: Path) -> None:
    from tools.synthetic import pool

    assert pool.pool_spec(5) == pool.pool_spec(5) != pool.pool_spec(6)
    spec = pool.pool_spec(5)
    assert sum(len(v) for v in spec.values()) == sum(pool.POOL_COUNTS.values())
    sizes = [f.target for k, v in spec.items() if k != "txt" for f in v]
    assert min(sizes) >= pool.MIN_BYTES and max(sizes) <= pool.MAX_BYTES
    one = {"pdf": 1, "jpg": 1, "png": 1, "txt": 1}
    a = pool.write_pool(tmp_path / "a", seed=5, counts=one)
    b = pool.write_pool(tmp_path / "b", seed=5, counts=one)
    assert a == b and all((tmp_path / "a" / f.name).read_bytes() == (tmp_path / "b" / f.name).read_bytes()
                          for files in a.values() for f in files)


def test_cli_seeds_a_backlog(source_dsn: str) -> None:
    res = _cli("seed", "--dsn", source_dsn, "--failed", "250", "--seed", "3", "--as-of", "2025-06-01T12:00:00Z",
               "--evidence-share", "0.5", "--success-share", "0.1")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["per_state"]["failed"] == 250 and summary["n"] == 275
    res = _cli("seed", "--dsn", source_dsn, "--failed", "10", "--n", "10")
    assert res.returncode == 2 and "not allowed with" in res.stderr
