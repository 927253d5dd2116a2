"""The whole-run steps stream in chunks: their outputs do not depend on the chunk size.

Real PostgreSQL and S3 over HTTP. The same seeded source is run twice through include.form526.pipeline
(extract, dedupe, plan, deliver, reconcile) on fresh ledgers, once with chunks of 100 and once with one
chunk; the reports must be byte-identical. Also the streaming multipart writer of the object store.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
from datetime import UTC, datetime

import psycopg
import pytest

from include.form526 import pipeline
from include.form526.delivery import ledger
from include.form526.delivery.batch import BatchSpec, deliver_batch
from include.form526.delivery.object_store import MIN_PART_SIZE, ObjectStore
from include.form526.delivery.report import load_rows, reconciliation_csv
from include.form526.scope import run_key, validate_params
from include.form526.source.extraction import failed_ids
from tests import helpers as h

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RUN = "manual__chunks"
PARAMS = {"batch_size": 40, "bucket": h.BUCKET, "key_prefix": "form526", "tolerated_failure_percent": 100,
          "dry_run": False, "redeliver": False, "max_submissions": 200, "submission_ids": None,
          "submission_ids_s3_uri": None, "created_after": None, "created_before": None}


@pytest.fixture(scope="module")
def seeded(services, airflow_db):
    h.reset_databases(services)
    h.empty_bucket(services)
    h.seed(services, 6000, seed=31)
    return datetime.now(UTC)


def whole_run(services, as_of: datetime, chunk_size: int) -> dict:
    """One run on a fresh ledger and bucket; one upload is deleted and one overwritten before reconcile."""
    h.reset_ledger_and_bucket(services)
    scope = validate_params(PARAMS, PARAMS)
    store = ObjectStore(services.boto3_client())
    key = run_key(RUN)
    with psycopg.connect(services.source_dsn, autocommit=True) as src, \
            psycopg.connect(services.ledger_dsn, autocommit=True) as led:
        pipeline.begin_run(led, run_id=RUN, dag_id="d", as_of=as_of, params=PARAMS, known_params=PARAMS,
                           open_csv=lambda b, k: [])
        pipeline.extract(src, led, run_id=RUN, scope=scope, as_of=as_of)
        deduped = pipeline.dedupe(led, run_id=RUN, chunk_size=chunk_size)
        batches = pipeline.plan(led, run_id=RUN, run_key_=key, scope=scope)
        for b in batches:
            deliver_batch(BatchSpec(run_id=RUN, run_key=key, batch_no=b["batch_no"], bucket=h.BUCKET,
                                    key_prefix="form526"), source_conn=src, ledger_conn=led, store=store)
        packages = sorted(k for k in h.list_keys(services, prefix="form526/deliveries/") if k.endswith(".zip"))
        s3 = services.boto3_client()
        s3.delete_object(Bucket=h.BUCKET, Key=packages[3])  # missing: the listing shows it is gone
        size = h.list_keys(services)[packages[-2]]
        s3.put_object(Bucket=h.BUCKET, Key=packages[-2], Body=b"x" * size)  # same size, other bytes: a HEAD says so
        summary = pipeline.reconcile(src, led, store, run_id=RUN, run_key_=key, scope=scope, as_of=as_of,
                                     handoff_expiry_hours=1, chunk_size=chunk_size)
        in_memory = reconciliation_csv(load_rows(led, RUN))
        expected_remaining = sorted(failed_ids(src, as_of, pipeline.config.PENDING_WINDOW_DAYS)
                                    - ledger.done_ids(led))
    base = f"form526/reports/{key}/"
    return {"deduped": deduped, "batches": batches, "summary": summary, "in_memory": in_memory,
            "expected_remaining": expected_remaining, "broken": {packages[3], packages[-2]},
            "reconciliation": h.get_bytes(services, base + "reconciliation.csv"),
            "remaining": h.get_bytes(services, base + "remaining.csv"),
            "handoff": h.get_bytes(services, f"form526/handoff/{key}/vba_handoff.csv")}


def test_reports_do_not_depend_on_the_chunk_size(seeded, services):
    small = whole_run(services, seeded, chunk_size=100)
    whole = whole_run(services, seeded, chunk_size=1_000_000)

    rows = list(csv.DictReader(io.StringIO(small["reconciliation"].decode())))
    remaining = list(csv.DictReader(io.StringIO(small["remaining"].decode())))
    # enough of everything that chunks of 100 really cut each stream
    assert small["deduped"]["kept"] > 200 and len(rows) > 200 and len(remaining) > 100
    assert sum(r["status"] == "uploaded" for r in rows) > 100
    assert small["summary"]["by_status"]["deferred"] > 0

    assert small["reconciliation"] == whole["reconciliation"]
    assert small["remaining"] == whole["remaining"]
    assert small["deduped"] == whole["deduped"] and small["batches"] == whole["batches"]
    assert small["summary"] == whole["summary"]
    # the streamed report is what the in-memory builder makes of the same ledger
    assert small["reconciliation"] == small["in_memory"]
    assert [int(r["submission_id"]) for r in remaining] == small["expected_remaining"]
    # the two broken uploads were found, in the listing and by a HEAD
    unconfirmed = {r["s3_key"] or r["submission_id"] for r in rows if r["error_code"] == "not_confirmed_in_s3"}
    assert len(unconfirmed) == 2 and small["summary"]["by_error_code"]["not_confirmed_in_s3"] == 2
    handoff = [list(csv.reader(io.StringIO(x["handoff"].decode())))[1:] for x in (small, whole)]
    assert [r[0] for r in handoff[0]] == [r[0] for r in handoff[1]]  # URLs carry their signing time
    assert [r[0] for r in handoff[0]] == [r["submission_id"] for r in rows if r["status"] == "uploaded"]


def _open_uploads(services) -> list:
    return services.boto3_client().list_multipart_uploads(Bucket=h.BUCKET).get("Uploads", [])


def test_a_large_body_goes_up_in_checksummed_parts(services):
    store = ObjectStore(services.boto3_client())
    body = hashlib.sha256(b"seed").digest() * (11 * MIN_PART_SIZE // 32 // 5 + 3)  # a little over 2 parts
    key = "probe/streamed-large.csv"
    with store.writer(h.BUCKET, key, content_type="text/csv", part_size=MIN_PART_SIZE) as w:
        for i in range(0, len(body), 700_001):  # pieces that do not line up with the parts
            w.write(body[i:i + 700_001])
    assert w.parts == 3 and w.size == len(body)
    assert h.get_bytes(services, key) == body
    info = store.head(h.BUCKET, key)
    assert info.size == len(body) and info.encryption == "AES256"
    parts = [body[i:i + MIN_PART_SIZE] for i in range(0, len(body), MIN_PART_SIZE)]
    composite = base64.b64encode(hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts)).digest())
    assert info.sha256_b64 in (None, composite.decode(), f"{composite.decode()}-3")  # moto leaves out "-3"
    assert not [u for u in _open_uploads(services) if u["Key"] == key]


def test_a_tiny_body_is_one_put(services):
    store = ObjectStore(services.boto3_client())
    key = "probe/streamed-tiny.csv"
    with store.writer(h.BUCKET, key, content_type="text/csv") as w:
        w.write(b"submission_id\n")
        w.write(b"1\n")
    assert w.parts == 0
    assert h.get_bytes(services, key) == b"submission_id\n1\n"
    assert store.matches(h.BUCKET, key, 16, hashlib.sha256(b"submission_id\n1\n").hexdigest())


def test_an_error_while_writing_leaves_no_object_and_no_open_upload(services):
    store = ObjectStore(services.boto3_client())
    key = "probe/streamed-aborted.csv"
    with pytest.raises(RuntimeError, match="report source broke"), \
            store.writer(h.BUCKET, key, content_type="text/csv", part_size=MIN_PART_SIZE) as w:
        w.write(b"x" * (MIN_PART_SIZE + 10))  # one part is already up
        assert w.parts == 1
        raise RuntimeError("report source broke")
    assert store.head(h.BUCKET, key) is None
    assert not [u for u in _open_uploads(services) if u["Key"] == key]
