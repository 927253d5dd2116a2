"""The delivery ledger on a real PostgreSQL: migrations keep data, claims are exclusive and expire."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from include.form526.delivery import ledger
from include.form526.delivery.batching import PlanError, batch_size_for, plan_batches

pytestmark = pytest.mark.integration


@pytest.fixture
def led(ledger_dsn):
    with psycopg.connect(ledger_dsn, autocommit=True) as conn:
        yield conn


def _queue(conn, ids, run="run-1"):
    ledger.start_run(conn, run_id=run, dag_id="d", run_key=run, as_of=datetime.now(UTC), params={})
    ledger.record_plan(conn, run, batches=[ids], already_delivered=[], deferred=[], dry_run=False)


def _claim(conn, ids, worker, run="run-1", ttl=30, redeliver=False):
    return ledger.claim(conn, ids=ids, worker=worker, run_id=run, batch_id="0001", bucket="b",
                        key_prefix=f"p/{run}/", ttl_minutes=ttl, redeliver=redeliver)


def test_migrations_are_idempotent_and_keep_data(led):
    first = sorted(ledger.MIGRATIONS_DIR.glob("*.sql"))[0]
    led.execute("CREATE TABLE form526_ledger_migrations (version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())")
    led.execute(first.read_text())
    led.execute("INSERT INTO form526_ledger_migrations (version, name) VALUES (1, %s)", (first.name,))
    led.execute("INSERT INTO form526_deliveries (submission_id, state, first_run_id, last_run_id)"
                " VALUES (7, 'uploaded', 'old', 'old')")
    applied = ledger.migrate(led)
    assert applied and first.name not in applied
    assert ledger.migrate(led) == []
    assert led.execute("SELECT state, md5 FROM form526_deliveries WHERE submission_id = 7").fetchone() == (
        "uploaded", None)


def test_a_claim_is_exclusive_and_its_key_is_recorded_before_upload(led):
    ledger.migrate(led)
    _queue(led, [1, 2, 3])
    mine = _claim(led, [1, 2, 3], "w1")
    assert set(mine) == {1, 2, 3} and mine[1].key == "p/run-1/1.zip" and not mine[1].may_exist
    assert _claim(led, [1, 2, 3], "w2") == {}
    again = _claim(led, [1, 2, 3], "w1")  # the same batch retrying
    assert set(again) == {1, 2, 3} and again[1].may_exist


def test_rows_locked_by_another_claimer_are_skipped_not_waited_for(ledger_dsn, led):
    ledger.migrate(led)
    _queue(led, [1, 2])
    with psycopg.connect(ledger_dsn) as other:
        other.execute("SELECT 1 FROM form526_deliveries WHERE submission_id = 1 FOR UPDATE")
        result: dict = {}
        t = threading.Thread(target=lambda: result.update(_claim(led, [1, 2], "w1")))
        t.start()
        t.join(10)
        assert not t.is_alive(), "the claim waited on a locked row"
        other.rollback()
    assert set(result) == {2}


def test_expired_claims_are_taken_again_and_keep_their_key(led):
    ledger.migrate(led)
    _queue(led, [5])
    first = _claim(led, [5], "dead-worker")
    led.execute("UPDATE form526_deliveries SET claim_expires_at = now() - interval '1 second'")
    _queue(led, [5], run="run-2")
    taken = _claim(led, [5], "w2", run="run-2")
    assert taken[5].key == first[5].key  # the dead worker may have uploaded there: one object, ever


def test_outcomes_need_the_claim_and_release_gives_it_back(led):
    ledger.migrate(led)
    _queue(led, [1, 2, 3])
    _claim(led, [1, 2, 3], "w1")
    ledger.record_outcomes(led, "intruder", [ledger.Uploaded(1, "s", 10, "m")], [])
    ledger.record_outcomes(led, "w1", [ledger.Uploaded(2, "s", 10, "m")], [ledger.Failed(3, "bad", "why")])
    assert ledger.release(led, "w1") == 1
    states = dict(led.execute("SELECT submission_id, state FROM form526_deliveries").fetchall())
    assert states == {1: "queued", 2: "uploaded", 3: "failed"}
    assert ledger.done_ids(led) == {2}


def _kept(conn, run, created: dict[int, datetime]):
    ledger.start_run(conn, run_id=run, dag_id="d", run_key=run, as_of=datetime.now(UTC), params={})
    ledger.record_dedup(conn, run, sorted(created.items()), [])


def test_plan_run_cuts_the_same_batches_as_plan_batches_in_sql(led):
    ledger.migrate(led)
    _queue(led, [3])
    _claim(led, [3], "w1")
    ledger.record_outcomes(led, "w1", [ledger.Uploaded(3, "s", 10, "m")], [])
    # oldest first: created_at runs backwards to the ids, and 5 and 6 tie (the id breaks it)
    created = {i: datetime(2024, 1, 1) - timedelta(days=i) for i in range(1, 11)}
    created[6] = created[5]
    _kept(led, "run-2", created)

    def size_for(n):
        return batch_size_for(n, 2, max_batches=3, max_batch_size=10)

    p = ledger.plan_run(led, "run-2", redeliver=False, max_submissions=7, dry_run=False, size_for=size_for)
    order = sorted((i for i in created if i != 3), key=lambda i: (created[i], i))
    expected = plan_batches(order[:7], 2, max_batches=3, max_batch_size=10)
    assert (p.batch_counts, p.batch_size, p.grown) == ([len(b) for b in expected.batches], 3, True)
    assert (p.already_delivered, p.deferred) == (1, 2)
    assert [ledger.batch_ids(led, "run-2", no) for no in (1, 2, 3)] == [sorted(b) for b in expected.batches]
    items = dict(led.execute("SELECT submission_id, status FROM form526_run_items WHERE run_id = 'run-2'").fetchall())
    assert items[3] == "skipped_already_delivered" and {items[i] for i in order[7:]} == {"deferred"}
    states = dict(led.execute("SELECT submission_id, state FROM form526_deliveries").fetchall())
    assert states == {3: "uploaded", **{i: "queued" for i in order[:7]}}


def test_plan_run_beyond_the_limits_records_nothing(led):
    ledger.migrate(led)
    _kept(led, "run-1", {i: datetime(2024, 1, 1) for i in range(1, 6)})

    def too_big(n):
        return batch_size_for(n, 1, max_batches=1, max_batch_size=2)

    with pytest.raises(PlanError):
        ledger.plan_run(led, "run-1", redeliver=False, max_submissions=None, dry_run=False, size_for=too_big)
    statuses = {r[0] for r in led.execute("SELECT status FROM form526_run_items WHERE run_id = 'run-1'")}
    assert statuses == {"candidate"}
    assert led.execute("SELECT count(*) FROM form526_deliveries").fetchone()[0] == 0


def test_dedup_verdicts_are_written_in_chunks_within_one_transaction(led):
    ledger.migrate(led)
    ledger.start_run(led, run_id="run-1", dag_id="d", run_key="run-1", as_of=datetime.now(UTC), params={})
    ledger.write_candidates(led, "run-1", [
        ledger.Candidate(i, f"acct:{i % 7}", datetime(2024, 1, 1) + timedelta(hours=i), "failed", "h", True)
        for i in range(1, 51)])
    seen: list[str] = []

    def decide(cands):
        for c in cands:
            seen.append(c.veteran_key)
            yield c, None if c.submission_id <= 7 else (c.submission_id - 1) % 7 + 1

    def breaks(cands):
        for n, pair in enumerate(decide(cands)):
            if n == 20:
                raise RuntimeError("dedup died")
            yield pair

    with pytest.raises(RuntimeError):
        ledger.apply_dedup(led, "run-1", breaks, chunk_size=6)  # three chunks were written, then rolled back
    assert led.execute("SELECT count(*) FROM form526_run_items").fetchone()[0] == 0
    assert led.execute("SELECT count(*) FROM form526_deliveries").fetchone()[0] == 0
    seen.clear()
    assert ledger.apply_dedup(led, "run-1", decide, chunk_size=6) == (7, 43)
    assert seen == sorted(seen)  # dupe set order
    rows = dict(led.execute("SELECT submission_id, duplicate_of FROM form526_run_items WHERE run_id = 'run-1'"))
    assert len(rows) == 50 and rows[50] == 1 and rows[7] is None
    assert led.execute("SELECT count(*) FROM form526_deliveries WHERE state = 'duplicate'").fetchone()[0] == 43
