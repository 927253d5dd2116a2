"""The backlog DAG on a live Airflow, driven only through the REST API v2, as on the compose deployment.

A real API server, scheduler, DAG processor and Celery worker run on this machine (metadata DB in
PostgreSQL, Redis as the broker; see ``tests/e2e/support.py``). The test logs in, unpauses the DAG,
triggers a run with a conf, waits for it, then checks what a user would: every mapped batch succeeded
under its readable label, the batch and reconcile logs carry their summaries, and the report and
packages are in S3. The worker runs in its own directories, as if on another machine, so nothing can
reach the test except through S3 and the API.
"""

from __future__ import annotations

import io
import math
import os
import re
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

import pytest
import requests

from include.form526 import config
from include.form526.scope import run_key
from tests import helpers as h
from tests.e2e.support import LiveAirflow, Unavailable, files_under, group_members, start_broker, stop_procs

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(720)]

DAG_ID = "form526_backlog_resubmission"
N = 1200
BATCH_SIZE = 40
RUN_TIMEOUT = 300
LABEL = re.compile(r"^batch (\d{4}) · (\d+) submissions$")


@pytest.fixture(scope="module")
def live(services, tmp_path_factory):
    """A running Airflow for this module; every process group is stopped afterwards, pass or fail."""
    try:  # what the Celery provider imports; celery 5.7 removed it
        from celery.backends.database import retry  # noqa: F401
    except ImportError:
        import celery

        pytest.fail(f"celery {celery.__version__} cannot run apache-airflow-providers-celery (it imports "
                    "celery.backends.database.retry, gone in celery 5.7): pin celery==5.6.3 in the lock")
    base = tmp_path_factory.mktemp("live-airflow")
    try:
        broker = start_broker(base)
    except Unavailable as exc:
        print(f"skipping the live Airflow test: {exc}")
        pytest.skip(str(exc))
    airflow = LiveAirflow(dag_id=DAG_ID, server_dsn=services.server_dsn, connections=services.airflow_connections(),
                          broker_url=broker.url, base=base)
    started = time.monotonic()
    try:
        airflow.start()
        print(f"live Airflow healthy in {time.monotonic() - started:.0f}s on {airflow.url}, broker {broker.url}")
        yield airflow
    finally:
        procs = [*airflow.procs, *([broker.proc] if broker.proc else [])]
        airflow.stop()
        stop_procs([broker.proc] if broker.proc else [], grace=5)
        left = {p.name: group_members(p.popen.pid) for p in procs if group_members(p.popen.pid)}
        assert not left, f"processes still running after stop: {left}"


@pytest.fixture(scope="module")
def triggered(live, services):
    """Seed a small source database, unpause and trigger the DAG over REST, wait for the run to end."""
    h.reset_databases(services)
    h.seed(services, N, seed=5)
    kept, _ = h.expected_plan(h.labels(services))
    prefix = f"e2e-{uuid.uuid4().hex[:8]}"

    dag = live.wait_for_dag()
    assert dag["is_paused"] is True  # paused at creation, as in the compose deployment
    r = live.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})
    assert r.status_code == 200, r.text
    assert r.json()["is_paused"] is False

    conf = {"batch_size": BATCH_SIZE, "tolerated_failure_percent": 50, "key_prefix": prefix}
    started = time.monotonic()
    r = live.api("POST", f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": conf})
    assert r.status_code == 200, r.text
    run_id = r.json()["dag_run_id"]
    run = live.wait_for_run(run_id, timeout=RUN_TIMEOUT)
    print(f"run {run_id} ended {run['state']} in {time.monotonic() - started:.0f}s")
    return {"run_id": run_id, "run": run, "kept": kept, "prefix": prefix,
            "tis": live.task_instances(run_id)}


def test_the_api_wants_a_real_login(live):
    r = requests.post(f"{live.url}/auth/token", json={"username": live.username, "password": "wrong"}, timeout=30)
    assert r.status_code == 401, r.text
    assert requests.get(f"{live.url}/api/v2/dags", timeout=30).status_code == 401


def test_bad_conf_is_refused_with_400_naming_the_param(live):
    live.wait_for_dag()
    before = live.api("GET", f"/dags/{DAG_ID}/dagRuns").json()["total_entries"]
    r = live.api("POST", f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": {"batch_size": -5}})
    assert r.status_code == 400, r.text
    assert "batch_size" in r.text
    assert live.api("GET", f"/dags/{DAG_ID}/dagRuns").json()["total_entries"] == before


def test_run_succeeds_with_every_batch_labelled(live, triggered):
    states = live.task_states(triggered["run_id"])
    assert triggered["run"]["state"] == "success", f"{states}\n{live.diagnostics()}"
    mapped = sorted((t for t in triggered["tis"] if t["task_id"] == "build_and_deliver"),
                    key=lambda t: t["map_index"])
    assert len(mapped) == math.ceil(len(triggered["kept"]) / BATCH_SIZE) > 1
    assert all(t["state"] == "success" for t in mapped), states
    labels = [LABEL.match(t["rendered_map_index"] or "") for t in mapped]
    assert all(labels), [t["rendered_map_index"] for t in mapped]
    assert [int(m.group(1)) for m in labels] == list(range(1, len(mapped) + 1))
    assert sum(int(m.group(2)) for m in labels) == len(triggered["kept"])
    assert mapped[0]["rendered_map_index"] == f"batch 0001 · {BATCH_SIZE} submissions"


def test_tasks_reading_vets_api_ran_in_the_source_pool(live, triggered):
    """The launcher created the pool as a deployment must; the API shows every vets-api reader used it."""
    pools = {(t["task_id"], t["map_index"]): t["pool"] for t in triggered["tis"]}
    readers = {k for k, pool in pools.items() if pool == config.SOURCE_DB_POOL}
    assert {task for task, _ in readers} == {"extract", "build_and_deliver", "reconcile"}, pools
    assert {k for k in pools if k[0] == "build_and_deliver"} <= readers
    assert pools[("begin_run", -1)] == "default_pool"
    r = live.api("GET", f"/pools/{config.SOURCE_DB_POOL}")
    assert r.status_code == 200 and r.json()["slots"] == config.SOURCE_DB_POOL_SLOTS, r.text


def test_batch_log_has_its_summary_served_by_the_worker(live, triggered):
    ti = next(t for t in triggered["tis"] if t["task_id"] == "build_and_deliver" and t["map_index"] == 0)
    text, sources = live.task_log(triggered["run_id"], "build_and_deliver", ti["try_number"], map_index=0)
    assert "batch 0001 summary: uploaded=" in text, text[-2000:]
    # the API server has no copy of the file: it read it from the worker's log server over HTTP
    assert any(f":{live.log_server_port}/log/" in s for s in sources), sources


def test_reconcile_log_has_the_run_summary(live, triggered):
    ti = next(t for t in triggered["tis"] if t["task_id"] == "reconcile")
    text, _ = live.task_log(triggered["run_id"], "reconcile", ti["try_number"])
    assert "reconciliation report" in text, text[-2000:]
    assert "considered" in text and "failure share" in text


def test_report_and_packages_come_back_from_s3(services, triggered):
    prefix, kept = triggered["prefix"], triggered["kept"]
    rows, summary = h.report_of(services, run_key(triggered["run_id"]), prefix=prefix)
    uploaded = {int(r["submission_id"]) for r in rows if r["status"] == "uploaded"}
    failed = {int(r["submission_id"]) for r in rows if r["status"] == "failed"}
    assert uploaded | failed == kept
    assert summary["by_status"]["uploaded"] == len(uploaded) > 0.9 * len(kept)
    packages = {k: size for k, size in h.list_keys(services, prefix=f"{prefix}/deliveries/").items()
                if k.endswith(".zip")}
    assert {int(k.rsplit("/", 1)[1].removesuffix(".zip")) for k in packages} == uploaded
    with zipfile.ZipFile(io.BytesIO(h.get_bytes(services, min(packages)))) as z:
        names = z.namelist()
    assert any(n.endswith(".pdf") for n in names) and "metadata.json" in names, names


def test_worker_shares_no_disk_with_the_test(live, triggered, tmp_path):
    worker = live.proc("celery-worker")
    assert worker.cwd == live.worker_dir != Path.cwd()
    assert worker.env["TMPDIR"] == str(live.worker_tmp) != tempfile.gettempdir()
    assert worker.env["AIRFLOW_HOME"] != os.environ["AIRFLOW_HOME"]
    # the Celery worker and its pool processes really run there (/proc; setproctitle hides their environ)
    members = group_members(worker.popen.pid)
    assert len(members) > 1 and {Path(os.readlink(f"/proc/{pid}/cwd")) for pid in members} == {live.worker_dir}
    # the pipeline's connections exist only on the worker, so the run's success shows the tasks ran there
    assert all(k in worker.env for k in live.connections)
    for name in ("api-server", "scheduler", "dag-processor"):
        assert not [k for k in live.proc(name).env if k.startswith("AIRFLOW_CONN_")], name
    # packages were built in memory and went to S3: no zip or PDF on any disk Airflow or the test uses
    assert files_under(live.base, tmp_path, suffixes=(".zip", ".pdf")) == []
    # task logs stayed on the worker's disk; the control plane holds none
    task_logs = [p for p in (live.control_home / "logs").rglob("*") if f"dag_id={DAG_ID}" in str(p)]
    assert task_logs == []
    assert list((live.worker_home / "logs").rglob("*task_id=build_and_deliver*"))



def test_no_task_log_file_holds_pii(live, triggered, services):
    """Real task logging: every log file the worker wrote for the run, scanned for seeded identity values."""
    pii = h.seeded_pii(services)
    logs = [p for p in (live.worker_home / "logs").rglob("*") if p.is_file()]
    run_logs = [p for p in logs if run_key(triggered["run_id"]) in str(p) or triggered["run_id"] in str(p)]
    assert len(run_logs) >= 6, [str(p) for p in logs][:20]
    text = "\n".join(p.read_text(errors="replace") for p in logs)
    assert "batch 0001 summary" in text
    assert h.find_pii(text, pii) == []
