"""Hostile input and unlucky operators, through the whole DAG: no run stalls, no bucket is chosen by a trigger."""

from __future__ import annotations

import io
import time
import zipfile

import psycopg
import pytest
from pypdf import PdfReader

from include.form526 import config
from include.form526.source.selection import apply_source_schema
from tests import helpers as h
from tools import samples

DAG_ID = "form526_backlog_resubmission"


@pytest.fixture
def source(services, airflow_db):
    h.reset_databases(services)
    h.empty_bucket(services)
    with psycopg.connect(services.source_dsn, autocommit=True) as conn:
        apply_source_schema(conn)
        yield conn


def nested(depth: int) -> str:
    """The typical form's text with a value nested ``depth`` levels deep (json.dumps itself would recurse)."""
    import json

    form = samples.typical_form()
    form["form526"]["form526"]["veteran"]["extra"] = "DEEP"
    return json.dumps(form).replace('"DEEP"', '{"x": [' * depth + '"bottom"' + "]}" * depth)


def test_a_trigger_naming_another_bucket_is_refused_before_any_work(services, airflow_db):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        h.run_dag(DAG_ID, {"bucket": "attacker-owned-bucket"})
    with pytest.raises(ParamValidationError):
        h.run_dag(DAG_ID, {"key_prefix": "form526\n"})


def test_a_thousand_level_form_fails_alone_and_as_dedup_context_changes_nothing(source, services):
    auth = samples.typical_auth()
    # a veteran's successful submission pulled in as dedup context, nested 1,000 levels deep
    h.insert_submission(source, 1, nested(1000), auth, user_uuid="vet-a", submitted_claim_id=5551)
    h.insert_submission(source, 2, samples.typical_form(), auth, user_uuid="vet-a")
    # a failed submission nested 1,000 levels deep
    h.insert_submission(source, 3, nested(1000), auth, user_uuid="vet-b")
    h.insert_submission(source, 4, samples.typical_form(), auth, user_uuid="vet-c")
    run_id, state, tis, _ = h.run_dag(DAG_ID, {"batch_size": 10, "tolerated_failure_percent": 50})
    assert state == "success", tis
    with psycopg.connect(services.ledger_dsn) as conn:
        rows = dict(conn.execute("SELECT submission_id, coalesce(last_error_code, state) FROM form526_deliveries"))
        counts = conn.execute("SELECT counts FROM form526_runs WHERE run_id = %s", (run_id,)).fetchone()[0]
    assert rows == {2: "uploaded", 3: "form_json_too_deep", 4: "uploaded"}
    assert counts["by_status"] == {"uploaded": 2, "failed": 1}


def test_a_one_megabyte_field_renders_within_the_batch_with_its_last_words(source, services):
    form = samples.typical_form()
    words = "The veteran describes the incident in detail. " * 22_000
    form["form526"]["form526"]["overflowText"] = words + "LAST-WORDS-OF-THE-STATEMENT"
    assert len(form["form526"]["form526"]["overflowText"]) > 1_000_000
    h.insert_submission(source, 7, form, samples.typical_auth())
    _, state, tis, _ = h.run_dag(DAG_ID, {"batch_size": 10})
    assert state == "success", tis
    key = next(k for k in h.list_keys(services) if k.endswith("/7.zip"))
    pdf = zipfile.ZipFile(io.BytesIO(h.get_bytes(services, key))).read("21-526EZ.pdf")
    reader = PdfReader(io.BytesIO(pdf))
    assert "LAST-WORDS-OF-THE-STATEMENT" in reader.pages[-1].extract_text() + reader.pages[-2].extract_text()


def test_a_batch_over_its_budget_releases_its_claims_and_the_next_run_delivers(source, services, monkeypatch):
    from include.form526.delivery import batch

    for sid in range(11, 17):
        h.insert_submission(source, sid, samples.typical_form(), samples.typical_auth())
    original = batch._build

    def slow(*args, **kwargs):
        time.sleep(1.0)
        return original(*args, **kwargs)

    monkeypatch.setattr(batch, "_build", slow)
    monkeypatch.setattr(config, "BATCH_TIMEOUT_MINUTES", 2.5 / 60)  # the budget: 2.5 s for 6 x 1 s of work
    _, state, tis, _ = h.run_dag(DAG_ID, {"batch_size": 10})
    assert state == "failed" and tis["build_and_deliver[0]"] == "failed", tis
    with psycopg.connect(services.ledger_dsn) as conn:
        left = dict(conn.execute("SELECT state, count(*) FROM form526_deliveries GROUP BY state").fetchall())
    assert "claimed" not in left, f"the timed-out batch kept its claims: {left}"

    monkeypatch.undo()
    _, state2, tis2, _ = h.run_dag(DAG_ID, {"batch_size": 10})
    assert state2 == "success", tis2
    zips = [k for k in h.list_keys(services) if k.endswith(".zip")]
    assert sorted(int(k.rsplit("/", 1)[1][:-4]) for k in zips) == list(range(11, 17))
