"""PII and least privilege: no veteran data in logs or XCom, a SELECT-only source role, encrypted objects,
no local files, presigned hand-off URLs. Real PostgreSQL, S3 over HTTP, the DAG under dag.test()."""

from __future__ import annotations

import json
import os
import re
import tempfile
import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
import requests

from include.form526.delivery.object_store import ObjectStore
from include.form526.scope import run_key
from include.form526.source import extraction
from tests import helpers as h
from tools.devservices import postgres_conn_json, with_database

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAG_ID = "form526_backlog_resubmission"
SOURCE_TABLES = ("form526_submissions", "form526_job_statuses", "form526_submission_remediations", "form_attachments")


@pytest.fixture(scope="module")
def seeded(services, airflow_db):
    h.reset_databases(services)
    h.empty_bucket(services)
    h.seed(services, 500, seed=31)
    return services


def test_a_full_run_leaks_no_pii_into_task_logs_or_xcom(seeded):
    """Everything a whole run prints (every task's log, library logs included) and every XCom it pushed."""
    pii = h.seeded_pii(seeded)
    assert all(pii.values()), "the seed should hold every kind of identity value"
    _, output = h.run_dag_cli(DAG_ID, {"batch_size": 40, "tolerated_failure_percent": 100})
    assert "batch 0001 summary" in output and "reconciliation report" in output, "task logs were not captured"
    assert "state=success" in output
    assert h.find_pii(output, pii) == []

    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        values = [json.dumps(x.value, default=str) for x in
                  session.query(XComModel).filter(XComModel.dag_id == DAG_ID).all()]
    assert len(values) >= 6, "the run should have pushed XComs"
    assert h.find_pii("\n".join(values), pii) == []


def test_every_object_written_is_encrypted(seeded):
    run_id, state, _, _ = h.run_dag(DAG_ID, {"batch_size": 40, "tolerated_failure_percent": 100,
                                             "redeliver": True, "vba_handoff": True})
    assert state == "success"
    s3 = seeded.boto3_client()
    keys = [k for k in h.list_keys(seeded) if run_key(run_id) in k]
    assert any(k.endswith(".zip") for k in keys) and any(k.endswith("manifest.csv") for k in keys)
    assert {k.rsplit("/", 1)[1] for k in keys if "/reports/" in k} == {
        "reconciliation.csv", "summary.json", "remaining.csv"}
    # presigned URLs are a secret: apart from the reports, under their own prefix
    assert [k for k in keys if k.endswith("vba_handoff.csv")] == [f"form526/handoff/{run_key(run_id)}/vba_handoff.csv"]
    for k in keys:
        assert s3.head_object(Bucket=h.BUCKET, Key=k).get("ServerSideEncryption") == "AES256", k


def test_sse_kms_is_used_when_a_key_id_is_configured(seeded, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_FORM526_SSE_KMS_KEY_ID", "alias/form526-test")
    run_id, state, _, _ = h.run_dag(DAG_ID, {"batch_size": 40, "tolerated_failure_percent": 100,
                                             "redeliver": True})
    assert state == "success"
    s3 = seeded.boto3_client()
    keys = [k for k in h.list_keys(seeded) if run_key(run_id) in k]
    assert keys
    for k in keys:
        head = s3.head_object(Bucket=h.BUCKET, Key=k)
        assert head.get("ServerSideEncryption") == "aws:kms", k
        assert head.get("SSEKMSKeyId", "").endswith("form526-test"), k


def test_keys_hold_ids_only(seeded):
    pii = h.seeded_pii(seeded)
    keys = "\n".join(h.list_keys(seeded))
    assert h.find_pii(keys, pii) == []
    for k in h.list_keys(seeded):
        if k.endswith(".zip"):
            assert re.fullmatch(r"form526/deliveries/[A-Za-z0-9._-]+/batch-\d{4}/\d+\.zip", k), k


def test_vba_handoff_urls_fetch_the_package_and_expire(seeded):
    run_id, state, _, _ = h.run_dag(DAG_ID, {"batch_size": 40, "tolerated_failure_percent": 100,
                                             "redeliver": True, "vba_handoff": True,
                                             "vba_handoff_expiry_hours": 6})
    assert state == "success"
    rows = h.get_bytes(seeded, f"form526/handoff/{run_key(run_id)}/vba_handoff.csv").decode().splitlines()
    assert rows[0] == "submission_id,url" and len(rows) > 1
    _, url = rows[1].split(",", 1)
    query = parse_qs(urlsplit(url).query)
    if "X-Amz-Expires" in query:  # SigV4
        assert query["X-Amz-Expires"] == [str(6 * 3600)]
    else:  # SigV2: an absolute epoch
        assert abs(int(query["Expires"][0]) - (datetime.now(UTC).timestamp() + 6 * 3600)) < 120
    body = requests.get(url, timeout=10).content
    assert body[:2] == b"PK"  # a zip


@pytest.mark.parametrize("conf", [{"vba_handoff_expiry_hours": 169}, {"vba_handoff_expiry_hours": 0}])
def test_handoff_expiry_is_bounded(conf, airflow_db):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        h.get_dag(DAG_ID).test(run_conf=conf)


@pytest.fixture
def reader_role(seeded):
    """A login role with SELECT on the source tables (user_accounts: the id column only) and nothing else."""
    role = f"form526_reader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(seeded.source_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
        admin.execute(f'GRANT CONNECT ON DATABASE "{seeded.source_db}" TO "{role}"')
        admin.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
        admin.execute(f'GRANT SELECT ON {", ".join(SOURCE_TABLES)} TO "{role}"')
        # user_accounts: only the id (to count submissions whose account points nowhere), never the ICN
        admin.execute(f'GRANT SELECT (id) ON user_accounts TO "{role}"')
    dsn = with_database(seeded.server_dsn.replace("postgres@", f"{role}@"), seeded.source_db)
    yield role, dsn
    with psycopg.connect(seeded.source_dsn, autocommit=True) as admin:
        admin.execute(f'REVOKE ALL ON {", ".join(SOURCE_TABLES)} FROM "{role}"')
        admin.execute(f'REVOKE ALL (id) ON user_accounts FROM "{role}"')
        admin.execute(f'REVOKE ALL ON SCHEMA public FROM "{role}"')
        admin.execute(f'REVOKE ALL ON DATABASE "{seeded.source_db}" FROM "{role}"')
        admin.execute(f'DROP ROLE "{role}"')


def test_extraction_runs_as_a_select_only_role_and_writes_fail(reader_role):
    _, dsn = reader_role
    with psycopg.connect(dsn, autocommit=True) as conn:
        flt = extraction.ScopeFilter(as_of=datetime.now(UTC), pending_window_days=21, ids=None,
                                     created_after=None, created_before=None)
        assert sum(1 for _ in extraction.stream_candidates(conn, flt)) > 0
        assert extraction.failed_ids(conn, datetime.now(UTC), 21)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE form526_submissions SET workflow_complete = true WHERE id = 1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE sneaky (id int)")


def test_read_only_transaction_refuses_writes_even_for_a_superuser(seeded):
    with psycopg.connect(seeded.source_dsn, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction), extraction.read_only(conn):
            conn.execute("UPDATE form526_submissions SET workflow_complete = true WHERE id = 1")


def test_the_whole_dag_runs_with_the_select_only_source_role(reader_role, monkeypatch):
    _, dsn = reader_role
    monkeypatch.setenv("AIRFLOW_CONN_FORM526_SOURCE", postgres_conn_json(dsn))
    _, state, tis, _ = h.run_dag(DAG_ID, {"batch_size": 40, "tolerated_failure_percent": 100, "redeliver": True})
    assert state == "success", tis


def test_a_failing_batch_leaves_no_local_files(seeded, monkeypatch):
    """Packages are built in memory: a batch that dies half-way leaves nothing in the temp dir."""
    cwd = tempfile.mkdtemp(prefix="form526-cwd-")
    private = tempfile.mkdtemp(prefix="form526-tmp-")
    os.chmod(private, 0o700)
    monkeypatch.setenv("TMPDIR", private)
    monkeypatch.setattr(tempfile, "tempdir", private)
    monkeypatch.chdir(cwd)

    original = ObjectStore.put_confirmed
    calls = {"n": 0}

    def dying(self, *a, **kw):
        calls["n"] += 1
        if calls["n"] >= 3:
            raise RuntimeError("worker lost")
        return original(self, *a, **kw)

    monkeypatch.setattr(ObjectStore, "put_confirmed", dying)
    _, state, _, _ = h.run_dag(DAG_ID, {"batch_size": 40, "tolerated_failure_percent": 100, "redeliver": True})
    assert calls["n"] >= 3
    assert os.listdir(private) == [] and os.listdir(cwd) == []
    assert state == "failed"


def test_ledger_error_details_hold_no_pii(seeded):
    """A PackageError's detail is what reaches the ledger and the report: it must not carry PII."""
    pii = h.seeded_pii(seeded)
    with psycopg.connect(seeded.ledger_dsn) as conn:
        details = [r[0] or "" for r in conn.execute("SELECT last_error_detail FROM form526_deliveries")]
    assert details and h.find_pii("\n".join(details), pii) == []


def test_bank_account_numbers_are_in_the_package_and_in_no_report_or_manifest(seeded):
    """The full account number goes to VBA inside the package (the 21-526EZ prints it); the reports, the
    manifests and the keys never carry it."""
    import io
    import zipfile

    from pypdf import PdfReader

    accounts = h.seeded_pii(seeded)["bank_account"]
    assert accounts, "the seed holds direct-deposit accounts"
    _, state, _, _ = h.run_dag(DAG_ID, {"batch_size": 40, "tolerated_failure_percent": 100, "redeliver": True})
    assert state == "success"
    keys = list(h.list_keys(seeded))  # every object the module's runs wrote
    texts = [h.get_bytes(seeded, k).decode() for k in keys if k.endswith((".csv", ".json"))]
    assert any(k.endswith("manifest.csv") for k in keys) and any(k.endswith("summary.json") for k in keys)
    assert h.find_pii("\n".join(texts + keys), {"bank_account": accounts}) == []
    found = 0
    zips = [k for k in keys if k.endswith(".zip")][:20]
    for k in zips:
        pdf = zipfile.ZipFile(io.BytesIO(h.get_bytes(seeded, k))).read("21-526EZ.pdf")
        text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
        found += any(a in text for a in accounts)
    assert zips and found, "the 21-526EZ prints the full account number"
