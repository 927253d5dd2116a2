"""Source mode ``encrypted``: the pipeline reads vets-api's Lockbox ciphertext columns and unwraps each row's
data key through KMS (moto's, on a server of its own so it can be stopped), as Rails wrote them.

The generator fills the ciphertext columns AND the plaintext stand-ins from the same values, so one seeded
database runs in both modes and the results can be compared.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile

import boto3
import psycopg
import pytest

from include.form526 import config
from include.form526.source.decryption import RowDecryptor
from tests import helpers as h
from tools.devservices import MotoS3, aws_conn_json

DAG_ID = "form526_backlog_resubmission"
CONF = {"batch_size": 100, "tolerated_failure_percent": 100}
N = 400


@pytest.fixture(scope="module")
def kms():
    server = MotoS3().start()  # moto serves KMS too; its own server, apart from the S3 one
    client = boto3.client("kms", endpoint_url=server.endpoint_url, aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")
    key_id = client.create_key(Description="vets-api lockbox CMK (test)")["KeyMetadata"]["KeyId"]
    yield server, client, key_id
    server.stop()


@pytest.fixture(scope="module")
def seeded(services, airflow_db, kms):
    from tools.synthetic import generator as synthetic

    _, client, key_id = kms
    h.reset_databases(services)
    h.empty_bucket(services)
    with psycopg.connect(services.source_dsn) as conn:
        synthetic.seed(conn, N, seed=17, encrypt_with=client, kms_key_id=key_id)
    return h.labels(services)


@pytest.fixture
def encrypted_mode(monkeypatch, kms):
    server, _, _ = kms
    monkeypatch.setattr(config, "SOURCE_MODE", "encrypted")
    monkeypatch.setenv("FORM526_SOURCE_MODE", "encrypted")
    monkeypatch.setenv("AIRFLOW_CONN_FORM526_KMS", aws_conn_json(server.endpoint_url, "testing", "testing"))


def packages(services) -> dict[int, bytes]:
    return {int(k.rsplit("/", 1)[1][:-4]): h.get_bytes(services, k) for k in h.list_keys(services)
            if k.endswith(".zip")}


def run(services) -> tuple[list[dict], dict]:
    run_id, state, tis, _ = h.run_dag(DAG_ID, CONF)
    assert state == "success", tis
    with psycopg.connect(services.ledger_dsn) as conn:
        key = conn.execute("SELECT run_key FROM form526_runs WHERE run_id = %s", (run_id,)).fetchone()[0]
    rows, summary = h.report_of(services, key)
    return [{k: v for k, v in r.items() if k != "s3_key"} for r in rows], summary


def test_plaintext_and_encrypted_modes_give_the_same_report_and_identical_packages(seeded, services,
                                                                                     encrypted_mode, monkeypatch):
    with monkeypatch.context() as plain:
        plain.setattr(config, "SOURCE_MODE", "plaintext")
        h.reset_ledger_and_bucket(services)
        plain_rows, plain_summary = run(services)
        plain_packages = packages(services)
    h.reset_ledger_and_bucket(services)
    enc_rows, enc_summary = run(services)
    assert plain_packages, "the plaintext run delivered packages"
    assert enc_rows == plain_rows
    assert enc_summary["by_status"] == plain_summary["by_status"]
    enc_packages = packages(services)
    assert enc_packages.keys() == plain_packages.keys()
    assert all(enc_packages[s] == plain_packages[s] for s in plain_packages), "packages differ between modes"


def _delivered(seeded) -> list[int]:
    return sorted(s for s, v in seeded.items() if v["delivery"] == "delivered")


def test_a_row_that_cannot_be_decrypted_fails_alone_with_its_code(seeded, services, encrypted_mode):
    a, b, c, d, e = _delivered(seeded)[:5]
    with psycopg.connect(services.source_dsn, autocommit=True) as conn:
        saved = {i: conn.execute("SELECT encrypted_kms_key, form_json_ciphertext FROM form526_submissions"
                                 " WHERE id = %s", (i,)).fetchone() for i in (a, c, d, e)}
        key_a, key_b = (conn.execute("SELECT encrypted_kms_key FROM form526_submissions WHERE id = %s",
                                     (i,)).fetchone()[0] for i in (a, b))
        # a's data key under b's id: KMS refuses the encryption context (model_id) -> decrypt_failed
        conn.execute("UPDATE form526_submissions SET encrypted_kms_key = %s WHERE id = %s", (key_b, a))
        # one flipped byte in c's ciphertext: the GCM tag no longer matches -> decrypt_failed
        raw = bytearray(base64.b64decode(conn.execute(
            "SELECT form_json_ciphertext FROM form526_submissions WHERE id = %s", (c,)).fetchone()[0]))
        raw[20] ^= 0x01
        conn.execute("UPDATE form526_submissions SET form_json_ciphertext = %s WHERE id = %s",
                     (base64.b64encode(bytes(raw)).decode(), c))
        conn.execute("UPDATE form526_submissions SET encrypted_kms_key = NULL WHERE id = %s", (d,))
        conn.execute("UPDATE form526_submissions SET encrypted_kms_key = %s WHERE id = %s",
                     ("x" + key_a.partition(":")[2], e))
    try:
        h.reset_ledger_and_bucket(services)
        rows, _ = run(services)
    finally:
        with psycopg.connect(services.source_dsn, autocommit=True) as conn:  # put the rows back for other tests
            for i, (kms_key, ciphertext) in saved.items():
                conn.execute("UPDATE form526_submissions SET encrypted_kms_key = %s, form_json_ciphertext = %s"
                             " WHERE id = %s", (kms_key, ciphertext, i))
    by_id = {int(r["submission_id"]): r for r in rows}
    assert (by_id[a]["status"], by_id[a]["error_code"]) == ("failed", "decrypt_failed")
    assert (by_id[c]["status"], by_id[c]["error_code"]) == ("failed", "decrypt_failed")
    assert (by_id[d]["status"], by_id[d]["error_code"]) == ("failed", "kms_key_missing")
    assert (by_id[e]["status"], by_id[e]["error_code"]) == ("failed", "kms_key_format")
    others = [s for s in _delivered(seeded) if s not in (a, b, c, d, e)]
    assert all(by_id[s]["status"] in ("uploaded", "failed") for s in others)
    assert sum(by_id[s]["status"] == "uploaded" for s in others) >= len(others) - 5


def test_kms_down_fails_the_batch_and_the_retry_delivers_once(seeded, services, encrypted_mode, kms, monkeypatch):
    server, _, _ = kms
    h.reset_ledger_and_bucket(services)
    original = RowDecryptor.submission
    calls = {"n": 0}

    def outage(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:  # the batch's first decrypt finds KMS gone: connections are refused
            server.stop()
            try:
                return original(self, *args, **kwargs)
            finally:
                server.start()  # same port, same keys: back for the retry
        return original(self, *args, **kwargs)

    monkeypatch.setattr(RowDecryptor, "submission", outage)
    _, state, tis, _ = h.run_dag(DAG_ID, {**CONF, "batch_size": 1000})
    assert state == "success", tis
    with psycopg.connect(services.ledger_dsn) as conn:
        states = dict(conn.execute("SELECT submission_id, state FROM form526_deliveries").fetchall())
    uploaded = {s for s, st in states.items() if st == "uploaded"}
    keys = [k for k in h.list_keys(services) if k.endswith(".zip")]
    assert len(keys) == len(uploaded) > 0, "one package per delivered submission, none twice"


def test_no_decrypted_value_reaches_logs_xcom_or_the_ledger(seeded, services, encrypted_mode):
    pii = h.seeded_pii(services)
    assert all(pii.values())
    h.reset_ledger_and_bucket(services)
    code, output = h.run_dag_cli(DAG_ID, CONF)
    assert code == 0 and "state=success" in output, output[-2000:]
    assert "kms_calls" in output, "the extract counts show the KMS calls"
    assert h.find_pii(output, pii) == []
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        values = [json.dumps(x.value, default=str) for x in
                  session.query(XComModel).filter(XComModel.dag_id == DAG_ID).all()]
    assert h.find_pii("\n".join(values), pii) == []
    with psycopg.connect(services.ledger_dsn) as conn:
        dump = []
        for (table,) in conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"):
            dump += [json.dumps(r, default=str) for r in conn.execute(f'SELECT * FROM "{table}"')]
    assert h.find_pii("\n".join(dump), pii) == []
    # and the packages do carry the decrypted identity: the data was really read
    some = next(iter(packages(services).values()))
    meta = json.loads(zipfile.ZipFile(io.BytesIO(some)).read("metadata.json"))
    assert meta["veteranLastName"]
