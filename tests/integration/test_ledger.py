"""The delivery ledger on a real PostgreSQL: migrations keep data, claims are exclusive and expire."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import psycopg
import pytest

from include.form526.delivery import ledger

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
