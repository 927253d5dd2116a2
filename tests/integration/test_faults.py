"""Exactly-once delivery under faults: real PostgreSQL, S3 over HTTP, the DAG under dag.test().

Every test asserts against S3's listing and the ledger, never against log text:
* every kept submission ends ``uploaded`` (or ``failed`` for deliberately broken data),
* S3 holds exactly one package per submission, and
* no ledger row says ``uploaded`` without its object in S3.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime

import psycopg
import pytest

from include.form526 import pipeline
from include.form526.delivery.batch import BatchSpec, deliver_batch
from include.form526.delivery.object_store import ObjectStore
from include.form526.scope import run_key, validate_params
from tests import helpers as h

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAG_ID = "form526_backlog_resubmission"
CONF = {"batch_size": 5, "tolerated_failure_percent": 100}


@pytest.fixture
def fresh(services, airflow_db):
    h.reset_databases(services)
    h.empty_bucket(services)
    h.seed(services, 600, seed=23)
    kept, _ = h.expected_plan(h.labels(services))
    return kept


def packages_per_id(services) -> Counter:
    return Counter(int(k.rsplit("/", 1)[1][:-4]) for k in h.list_keys(services) if k.endswith(".zip"))


def ledger_rows(services) -> dict[int, tuple[str, str | None, str | None]]:
    with psycopg.connect(services.ledger_dsn) as conn:
        return {r[0]: (r[1], r[2], r[3]) for r in
                conn.execute("SELECT submission_id, state, s3_key, last_error_code FROM form526_deliveries")}


def assert_exactly_once(services, kept: set[int]) -> None:
    rows = ledger_rows(services)
    per_id = packages_per_id(services)
    keys = h.list_keys(services)
    uploaded = {sid for sid, (state, _, _) in rows.items() if state == "uploaded"}
    failed = {sid for sid, (state, _, _) in rows.items() if state == "failed"}
    assert uploaded | failed >= kept, f"missing: {sorted(kept - uploaded - failed)[:10]}"
    assert all(per_id[sid] == 1 for sid in uploaded), {s: n for s, n in per_id.items() if n != 1}
    assert set(per_id) == uploaded, "objects in S3 for submissions the ledger does not call uploaded"
    assert all(rows[sid][1] in keys for sid in uploaded)
    assert all(code != "batch_incomplete" for _, _, code in rows.values())


class Crash(RuntimeError):
    """Stands for a worker dying between two submissions."""


def test_crash_after_upload_before_record_is_resumed_by_the_retry(fresh, services, monkeypatch):
    """The 7th upload lands in S3, then the worker 'dies' before the ledger hears of it; the task retry
    must confirm that object instead of writing a second one, and finish the batch."""
    original = ObjectStore.put_confirmed
    calls = {"n": 0}

    def crashing(self, bucket, key, data, **kw):
        original(self, bucket, key, data, **kw)
        calls["n"] += 1
        if calls["n"] == 7:
            raise Crash("injected crash after an upload")

    monkeypatch.setattr(ObjectStore, "put_confirmed", crashing)
    _, state, tis, _ = h.run_dag(DAG_ID, CONF)
    assert state == "success", tis
    assert_exactly_once(services, fresh)


def test_dead_worker_claims_expire_and_the_next_run_finishes_without_duplicates(fresh, services, monkeypatch):
    """A batch dies mid-way on every try and cannot even release its claims (a killed worker). Once the
    claims expire, a new run delivers the rest, re-using the object the dead worker left behind."""
    original = ObjectStore.put_confirmed
    calls = {"n": 0}

    def dying(self, bucket, key, data, **kw):
        original(self, bucket, key, data, **kw)
        calls["n"] += 1
        if "batch-0002/" in key:
            raise Crash("worker killed")

    monkeypatch.setattr(ObjectStore, "put_confirmed", dying)
    monkeypatch.setattr("include.form526.delivery.ledger.release", lambda conn, worker: 0)
    _, state, tis, _ = h.run_dag(DAG_ID, CONF)
    assert state == "failed" and tis["build_and_deliver[1]"] == "failed"
    held = {sid for sid, (st, _, _) in ledger_rows(services).items() if st == "claimed"}
    assert held, "the dead batch should have left claims behind"

    monkeypatch.undo()
    # A second run before the claims expire must not touch them ...
    run2, _, _, _ = h.run_dag(DAG_ID, CONF)
    rows2, _ = h.report_of(services, run_key(run2))
    assert {int(r["submission_id"]) for r in rows2 if r["status"] == "skipped_in_progress"} == held
    # ... and once they expire (time passing, simulated), the next run takes them.
    with psycopg.connect(services.ledger_dsn, autocommit=True) as conn:
        conn.execute("UPDATE form526_deliveries SET claim_expires_at = now() - interval '1 minute'"
                     " WHERE state = 'claimed'")
    _, state3, tis3, _ = h.run_dag(DAG_ID, CONF)
    assert state3 == "success", tis3
    assert_exactly_once(services, fresh)


def test_s3_down_fails_the_batch_cleanly_and_the_next_run_delivers_the_rest(fresh, services, monkeypatch):
    original = ObjectStore.put_confirmed
    calls = {"n": 0}

    def outage(self, bucket, key, data, **kw):
        calls["n"] += 1
        if calls["n"] == 4:
            services.s3.stop()  # the endpoint goes away mid-batch: connections are refused
        return original(self, bucket, key, data, **kw)

    monkeypatch.setattr(ObjectStore, "put_confirmed", outage)
    try:
        _, state, tis, _ = h.run_dag(DAG_ID, CONF)
    finally:
        services.s3.start()  # same port, same buckets: S3 is back
    assert state == "failed"
    assert tis["build_and_deliver[0]"] == "failed"
    # nothing is marked uploaded that is not in S3
    keys = h.list_keys(services)
    for sid, (st, key, _) in ledger_rows(services).items():
        if st == "uploaded":
            assert key in keys, sid
    assert not any(st == "claimed" for st, _, _ in ledger_rows(services).values()), "claims were not released"

    monkeypatch.undo()
    _, state2, tis2, _ = h.run_dag(DAG_ID, CONF)
    assert state2 == "success", tis2
    assert_exactly_once(services, fresh)


def test_postgres_connection_dropped_mid_batch_is_retried_without_false_success(fresh, services, monkeypatch):
    original = ObjectStore.put_confirmed
    calls = {"n": 0}

    def drop_ledger_connections(self, bucket, key, data, **kw):
        original(self, bucket, key, data, **kw)
        calls["n"] += 1
        if calls["n"] == 3:
            with psycopg.connect(services.server_dsn, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                              " WHERE datname = %s AND pid <> pg_backend_pid()", (services.ledger_db,))

    monkeypatch.setattr(ObjectStore, "put_confirmed", drop_ledger_connections)
    _, state, tis, _ = h.run_dag(DAG_ID, CONF)
    assert state == "success", tis
    assert_exactly_once(services, fresh)


def _params(batch_size: int) -> dict:
    return {"batch_size": batch_size, "bucket": h.BUCKET, "key_prefix": "form526", "tolerated_failure_percent": 100,
            "dry_run": False, "redeliver": False, "max_submissions": None, "submission_ids": None,
            "submission_ids_s3_uri": None, "created_after": None, "created_before": None}


def _plan_run(services, run: str, batch_size: int, as_of: datetime | None = None) -> list[dict]:
    """Begin, extract, dedupe and plan one run in-process (what the whole-run tasks do); its batches."""
    params = _params(batch_size)
    scope = validate_params(params, params)
    as_of = as_of or datetime.now(UTC)
    with psycopg.connect(services.source_dsn, autocommit=True) as src, \
            psycopg.connect(services.ledger_dsn, autocommit=True) as led:
        pipeline.begin_run(led, run_id=run, dag_id=DAG_ID, as_of=as_of, params=params, known_params=params,
                           open_csv=lambda b, k: [])
        pipeline.extract(src, led, run_id=run, scope=scope, as_of=as_of)
        pipeline.dedupe(led, run_id=run)
        return pipeline.plan(led, run_id=run, run_key_=run_key(run), scope=scope)


def test_two_runs_at_the_same_time_never_deliver_an_id_twice(fresh, services):
    """Both runs plan the same submissions; their batches then race, interleaved, on two threads."""
    as_of = datetime.now(UTC)
    plans = {run: _plan_run(services, run, 4, as_of) for run in ("manual__A", "scheduled__B")}
    scope = validate_params(_params(4), _params(4))
    assert [b["count"] for b in plans["manual__A"]] == [b["count"] for b in plans["scheduled__B"]]

    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker(run: str) -> None:
        try:
            store = ObjectStore(services.boto3_client())
            with psycopg.connect(services.source_dsn, autocommit=True) as src, \
                    psycopg.connect(services.ledger_dsn, autocommit=True) as led:
                start.wait()
                for b in plans[run]:
                    spec = BatchSpec(run_id=run, run_key=b["run_key"], batch_no=b["batch_no"], bucket=h.BUCKET,
                                     key_prefix="form526")
                    deliver_batch(spec, source_conn=src, ledger_conn=led, store=store, flush_every=1)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(run,)) for run in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors

    reports = {}
    with psycopg.connect(services.source_dsn, autocommit=True) as src, \
            psycopg.connect(services.ledger_dsn, autocommit=True) as led:
        for run in plans:
            pipeline.reconcile(src, led, ObjectStore(services.boto3_client()), run_id=run, run_key_=run_key(run),
                               scope=scope, as_of=as_of)
            rows, _ = h.report_of(services, run_key(run))
            reports[run] = {int(r["submission_id"]) for r in rows if r["status"] == "uploaded"}
    assert reports["manual__A"].isdisjoint(reports["scheduled__B"])
    assert reports["manual__A"] and reports["scheduled__B"], "both runs should have won some submissions"
    assert_exactly_once(services, fresh)


def test_scheduled_sweep_after_a_manual_run_takes_only_the_remainder(fresh, services):
    first = sorted(fresh)[:6]
    manual, state, _, _ = h.run_dag(DAG_ID, {**CONF, "submission_ids": first})
    assert state == "success"
    manual_rows, _ = h.report_of(services, run_key(manual))
    delivered = {int(r["submission_id"]) for r in manual_rows if r["status"] == "uploaded"}
    assert delivered

    # the sweep runs with the defaults a scheduled run gets
    sweep, state, tis, _ = h.run_dag(DAG_ID, {"tolerated_failure_percent": 100})
    assert state == "success", tis
    rows, _ = h.report_of(services, run_key(sweep))
    by_status = {}
    for r in rows:
        by_status.setdefault(r["status"], set()).add(int(r["submission_id"]))
    assert by_status["skipped_already_delivered"] == delivered
    assert by_status["uploaded"].isdisjoint(delivered)
    assert by_status["uploaded"] | by_status.get("failed", set()) | delivered == fresh
    assert_exactly_once(services, fresh)


def test_the_next_package_renders_while_the_previous_one_uploads(fresh, services, monkeypatch):
    """The first upload is held until two packages after it have been rendered (three renders counting its
    own): with uploads one at a time, or only one ahead, the batch waits on it and the wait below times out;
    nothing is recorded uploaded before S3 confirmed it, and the batch still delivers every package once."""
    from include.form526.delivery import batch as batch_mod

    plans = _plan_run(services, "manual__overlap", 40)
    rendered = threading.Semaphore(0)
    original_build, original_put = batch_mod._build, ObjectStore.put_file_confirmed
    seen_uploaded_early: list[int] = []
    first = {"held": False}

    def counting_build(*a, **kw):
        pkg = original_build(*a, **kw)
        rendered.release()
        return pkg

    def held_put(self, bucket, key, *a, **kw):
        if not first["held"]:
            first["held"] = True
            for _ in range(3):  # its own render, then two more while this one is "on the wire"
                assert rendered.acquire(timeout=30), "the batch did not render ahead of a pending upload"
            with psycopg.connect(services.ledger_dsn) as conn:
                seen_uploaded_early.extend(r[0] for r in conn.execute(
                    "SELECT submission_id FROM form526_deliveries WHERE state = 'uploaded' AND s3_key = %s",
                    (key,)))
        return original_put(self, bucket, key, *a, **kw)

    monkeypatch.setattr(batch_mod, "_build", counting_build)
    monkeypatch.setattr(ObjectStore, "put_file_confirmed", held_put)
    b = plans[0]
    spec = BatchSpec(run_id="manual__overlap", run_key=b["run_key"], batch_no=b["batch_no"], bucket=h.BUCKET,
                     key_prefix="form526")
    with psycopg.connect(services.source_dsn, autocommit=True) as src, \
            psycopg.connect(services.ledger_dsn, autocommit=True) as led:
        res = deliver_batch(spec, source_conn=src, ledger_conn=led, store=ObjectStore(services.boto3_client()),
                            flush_every=1)
    assert first["held"] and seen_uploaded_early == []
    assert res.uploaded + res.failed == res.claimed == b["count"]
    rows = ledger_rows(services)
    uploaded = {sid for sid, (state, _, _) in rows.items() if state == "uploaded"}
    assert len(uploaded) == res.uploaded
    assert all(packages_per_id(services)[sid] == 1 for sid in uploaded)


@pytest.mark.parametrize("ahead", [0, 2])
def test_an_upload_failing_in_the_background_fails_the_batch_and_the_retry_delivers_once(fresh, services,
                                                                                        monkeypatch, ahead):
    """S3 refuses the 5th upload (on the upload thread when ``ahead`` > 0): the batch raises, nothing at or
    after it is recorded uploaded (though later uploads may have landed), and a second attempt of the same
    batch confirms what landed instead of writing it again and delivers every package once."""
    plans = _plan_run(services, f"manual__bg_fail_{ahead}", 30)
    original = ObjectStore.put_file_confirmed
    calls = {"n": 0, "failed_id": None}

    def failing(self, bucket, key, *a, **kw):
        calls["n"] += 1
        if calls["n"] == 5:
            calls["failed_id"] = int(key.rsplit("/", 1)[1][:-4])
            raise ConnectionError("injected: S3 unreachable")
        return original(self, bucket, key, *a, **kw)

    monkeypatch.setattr(ObjectStore, "put_file_confirmed", failing)
    b = plans[0]
    spec = BatchSpec(run_id=f"manual__bg_fail_{ahead}", run_key=b["run_key"], batch_no=b["batch_no"],
                     bucket=h.BUCKET, key_prefix="form526")
    store = ObjectStore(services.boto3_client())
    with psycopg.connect(services.source_dsn, autocommit=True) as src, \
            psycopg.connect(services.ledger_dsn, autocommit=True) as led:
        with pytest.raises(ConnectionError):
            deliver_batch(spec, source_conn=src, ledger_conn=led, store=store, flush_every=1, upload_ahead=ahead)
        rows = ledger_rows(services)
        keys = h.list_keys(services)
        uploaded_first = {sid for sid, (state, _, _) in rows.items() if state == "uploaded"}
        assert calls["failed_id"] is not None and uploaded_first
        assert all(sid < calls["failed_id"] for sid in uploaded_first), "recorded past the failed upload"
        assert all(rows[sid][1] in keys for sid in uploaded_first)
        landed_unrecorded = set(packages_per_id(services)) - uploaded_first
        res = deliver_batch(spec, source_conn=src, ledger_conn=led, store=store, flush_every=1, upload_ahead=ahead)
    rows = ledger_rows(services)
    batch_rows = {sid: r for sid, r in rows.items() if r[0] in ("uploaded", "failed")}
    assert len(batch_rows) == b["count"]
    assert all(n == 1 for n in packages_per_id(services).values())
    assert res.claimed == res.uploaded + res.failed and res.claimed < b["count"]
    assert res.already_in_s3 == len(landed_unrecorded)
