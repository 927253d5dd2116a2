"""The backlog DAG end to end with dag.test(): real PostgreSQL, S3 over HTTP, Airflow's task runner.

The tests of this module share one seeded database and run in file order: a dry run, the real run,
a second run that must deliver nothing new, then explicit ids and bad input.
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from pypdf import PdfReader

from include.form526.scope import run_key
from tests import helpers as h

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAG_ID = "form526_backlog_resubmission"
N = 800


@pytest.fixture(scope="module")
def seeded(services, airflow_db):
    h.reset_databases(services)
    h.empty_bucket(services)
    h.seed(services, N, seed=11)
    lab = h.labels(services)
    kept, skipped = h.expected_plan(lab)
    return {"labels": lab, "kept": kept, "skipped": skipped}


@pytest.fixture(scope="module")
def first_run(seeded, services):
    """The real run every later test builds on (after a dry run, which must change nothing)."""
    dry_id, dry_state, _, _ = h.run_dag(DAG_ID, {"dry_run": True, "batch_size": 50, "tolerated_failure_percent": 100})
    dry_rows, dry_summary = h.report_of(services, run_key(dry_id))
    packages_after_dry = [k for k in h.list_keys(services) if k.endswith(".zip")]
    run_id, state, tis, labels = h.run_dag(DAG_ID, {"batch_size": 50, "tolerated_failure_percent": 50})
    rows, summary = h.report_of(services, run_key(run_id))
    return {"dry": (dry_state, dry_rows, dry_summary, packages_after_dry), "run_id": run_id, "state": state,
            "tis": tis, "labels": labels, "rows": rows, "summary": summary}


def test_dry_run_plans_but_writes_no_package(first_run, seeded):
    state, rows, summary, packages = first_run["dry"]
    assert state == "success"
    assert packages == []
    planned = {int(r["submission_id"]) for r in rows if r["status"] == "planned"}
    assert planned == seeded["kept"]
    assert summary["dry_run"] is True


def test_uploaded_set_is_the_failed_deduplicated_set(first_run, seeded):
    assert first_run["state"] == "success", first_run["tis"]
    rows = first_run["rows"]
    by_status: dict[str, set[int]] = {}
    for r in rows:
        by_status.setdefault(r["status"], set()).add(int(r["submission_id"]))
    uploaded, failed = by_status.get("uploaded", set()), by_status.get("failed", set())
    assert uploaded | failed == seeded["kept"]
    # only deliberately broken records may fail to package
    for sid in failed:
        assert seeded["labels"][sid]["scenario"].startswith(("awkward", "corrupt")), seeded["labels"][sid]
    assert len(uploaded) > 0.9 * len(seeded["kept"])
    dupes = {int(r["submission_id"]): int(r["duplicate_of"]) for r in rows if r["status"] == "skipped_duplicate"}
    assert dupes == seeded["skipped"]


def test_failed_rows_carry_error_codes_and_leave_nothing_on_s3(first_run, services):
    failed = [r for r in first_run["rows"] if r["status"] == "failed"]
    assert failed, "the seeded awkward records should make some submissions fail"
    assert all(r["error_code"] and r["error_detail"] and not r["s3_key"] for r in failed)
    assert first_run["summary"]["by_error_code"]
    names = {k.rsplit("/", 1)[1] for k in h.list_keys(services)}
    assert not {f"{r['submission_id']}.zip" for r in failed} & names


def test_report_and_s3_listing_agree(first_run, services):
    rk = run_key(first_run["run_id"])
    listing = h.list_keys(services, prefix=f"form526/deliveries/{rk}/")
    packages = {k: size for k, size in listing.items() if k.endswith(".zip")}
    uploaded = {r["s3_key"]: int(r["bytes"]) for r in first_run["rows"] if r["status"] == "uploaded"}
    assert packages == uploaded
    manifests = [k for k in listing if k.endswith("manifest.csv")]
    assert len(manifests) == first_run["summary"]["batches"]
    for r in first_run["rows"]:
        if r["status"] == "uploaded":
            assert r["s3_key"] == f"form526/deliveries/{rk}/batch-{r['batch_id']}/{r['submission_id']}.zip"


def test_every_package_opens_and_names_the_submission_and_veteran(first_run, services):
    import hashlib

    uploaded = [r for r in first_run["rows"] if r["status"] == "uploaded"]
    last_names = h.last_names(services, [int(r["submission_id"]) for r in uploaded])
    for r in uploaded:
        data = h.get_bytes(services, r["s3_key"])
        assert hashlib.sha256(data).hexdigest() == r["sha256"]
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            assert {"21-526EZ.pdf", "metadata.json", "mappings.json"} <= set(z.namelist())
            meta = json.loads(z.read("metadata.json"))
            text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(z.read("21-526EZ.pdf"))).pages)
        assert r["submission_id"] in text
        assert meta["docType"] == "21-526EZ"
        assert last_names[int(r["submission_id"])] in " ".join(text.split())


def test_mapped_batches_have_readable_labels(first_run):
    labels = first_run["labels"]
    assert labels and all(v and v.startswith("batch ") and "submissions" in v for v in labels.values()), labels


def test_ledger_matches_report(first_run, services):
    states = h.ledger_states(services)
    for r in first_run["rows"]:
        if r["status"] == "uploaded":
            assert states[int(r["submission_id"])] == "uploaded"
        if r["status"] == "skipped_duplicate":
            assert states[int(r["submission_id"])] == "duplicate"


def test_second_run_uploads_nothing_new(first_run, services):
    before = h.list_keys(services)
    run_id, _, _, _ = h.run_dag(DAG_ID, {"batch_size": 50, "tolerated_failure_percent": 100})
    rows, summary = h.report_of(services, run_key(run_id))
    after = h.list_keys(services)
    new = {k for k in set(after) - set(before) if "/deliveries/" in k}
    assert new == set()
    delivered_before = {int(r["submission_id"]) for r in first_run["rows"] if r["status"] == "uploaded"}
    skipped = {int(r["submission_id"]) for r in rows if r["status"] == "skipped_already_delivered"}
    assert skipped == delivered_before
    assert summary["by_status"].get("uploaded", 0) == 0


def test_explicit_ids_not_failed_are_not_eligible_and_unknown_not_found(first_run, seeded, services):
    lab = seeded["labels"]
    success = sorted(s for s, v in lab.items() if v["state"] == "success")[:3]
    in_flight = sorted(s for s, v in lab.items() if v["state"] == "in_process")[:1]
    run_id, state, _, _ = h.run_dag(DAG_ID, {"submission_ids": [*success, *in_flight, 99_999_999],
                                             "tolerated_failure_percent": 100})
    rows, _ = h.report_of(services, run_key(run_id))
    status = {int(r["submission_id"]): r for r in rows}
    assert state == "success"
    for sid in [*success, *in_flight]:
        assert status[sid]["status"] == "not_eligible"
        assert "not failed" in status[sid]["error_detail"]
    assert status[99_999_999]["status"] == "not_found"
    assert len(rows) == len(success) + len(in_flight) + 1


def test_ids_from_s3_csv_union_with_param(first_run, seeded, services):
    kept = sorted(seeded["kept"])
    s3 = services.boto3_client()
    s3.put_object(Bucket=h.BUCKET, Key="inputs/ids.csv",
                  Body=f"note,submission_id\nx,{kept[0]}\ny,{kept[1]}\n".encode())
    run_id, state, _, _ = h.run_dag(DAG_ID, {"submission_ids_s3_uri": f"s3://{h.BUCKET}/inputs/ids.csv",
                                             "submission_ids": [kept[2]], "redeliver": True,
                                             "tolerated_failure_percent": 100})
    rows, _ = h.report_of(services, run_key(run_id))
    assert {int(r["submission_id"]) for r in rows} == set(kept[:3])
    assert state == "success"


@pytest.mark.parametrize("conf", [
    {"batch_size": -1},
    {"batch_size": 10_000_000},
    {"submission_ids": ["12a"]},
    {"submission_ids": [0]},
    {"submission_ids_s3_uri": "http://bucket/key.csv"},
    {"submission_ids_s3_uri": "s3://bucket/../etc/passwd"},
    {"key_prefix": "/absolute"},
    {"key_prefix": "a/../b"},
    {"created_after": "2024-13-45x"},
    {"tolerated_failure_percent": 101},
])
def test_bad_params_are_rejected_before_any_run(conf, airflow_db):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        h.get_dag(DAG_ID).test(run_conf=conf)


@pytest.mark.parametrize("conf", [
    {"created_after": "2024-05-01", "created_before": "2024-01-01"},
    {"surprise": 1},
    {"submission_ids_s3_uri": f"s3://{h.BUCKET}/inputs/missing.csv"},
    {"submission_ids_s3_uri": f"s3://{h.BUCKET}/inputs/no-column.csv"},
])
def test_bad_scope_fails_the_first_task_and_does_no_work(conf, first_run, services):
    services.boto3_client().put_object(Bucket=h.BUCKET, Key="inputs/no-column.csv", Body=b"id,name\n1,x\n")
    before = h.list_keys(services)
    _, state, tis, _ = h.run_dag(DAG_ID, conf)
    assert state == "failed"
    assert tis["begin_run"] == "failed"
    assert tis.get("extract") in ("upstream_failed", None)
    assert set(h.list_keys(services)) == set(before)


def test_bad_scope_is_explained_in_one_sentence_in_the_task_log(first_run):
    rc, output = h.run_dag_cli(DAG_ID, {"created_after": "2024-05-01", "created_before": "2024-01-01"})
    assert "created_after must be earlier than created_before" in output
    assert "DagRun Finished" in output and "state=failed" in output
    assert rc == 0 or rc == 1
