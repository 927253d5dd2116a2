"""The backlog DAG on a live Airflow, driven only through the REST API v2, as on the compose deployment.

A real API server, scheduler, DAG processor and Celery worker run on this machine (metadata DB in
PostgreSQL, Redis as the broker; see ``tests/e2e/support.py``). The test logs in, unpauses the DAG,
triggers a run with a conf, waits for it (the ``live`` and ``triggered`` fixtures of ``conftest.py``, shared
with the browser tests), then checks what a user would: every mapped batch succeeded
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
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from include.form526 import config
from include.form526.scope import run_key
from tests import helpers as h
from tests.e2e.support import BACKLOG_DAG_ID, BATCH_SIZE, console_template, files_under, group_members

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(720)]

DAG_ID = BACKLOG_DAG_ID
LABEL = re.compile(r"^batch (\d{4}) · (\d+) submissions$")


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


def _links(live, run_id: str, task_id: str, map_index: int = -1, dag_id: str = DAG_ID) -> dict[str, str | None]:
    r = live.api("GET", f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}/links",
                 params={"map_index": map_index})
    assert r.status_code == 200, r.text
    return r.json()["extra_links"]


def test_extra_links_lead_to_what_the_tasks_wrote(live, triggered, services):
    """The task instance's extra links endpoint: each link is the URL template over the bucket and key the task
    wrote; following it lists exactly those objects on S3."""
    prefix, key = triggered["prefix"], run_key(triggered["run_id"])
    template = console_template(services)

    def url(k: str) -> str:
        return template.format(bucket=h.BUCKET, key=quote(k, safe=""))

    batch = _links(live, triggered["run_id"], "build_and_deliver", map_index=0)
    folder = f"{prefix}/deliveries/{key}/batch-0001/"
    assert batch == {"S3 batch folder": url(folder), "reconciliation.csv": None, "summary.json": None,
                     "triage.csv": None, "trend.png": None}
    assert _links(live, triggered["run_id"], "build_and_deliver", map_index=1)["S3 batch folder"] == url(
        f"{prefix}/deliveries/{key}/batch-0002/")
    report = _links(live, triggered["run_id"], "reconcile")
    assert report["reconciliation.csv"] == url(f"{prefix}/reports/{key}/reconciliation.csv")
    assert report["summary.json"] == url(f"{prefix}/reports/{key}/summary.json")
    assert report["S3 batch folder"] is None
    assert set(_links(live, triggered["run_id"], "begin_run").values()) == {None}

    # the targets are real: the batch folder lists the batch's packages, the report link its one object
    listing = requests.get(batch["S3 batch folder"], timeout=30).text
    packages = [k for k in h.list_keys(services, prefix=folder) if k.endswith(".zip")]
    assert packages and all(f"<Key>{k}</Key>" in listing for k in packages)
    listing = requests.get(report["reconciliation.csv"], timeout=30).text
    assert re.findall(r"<Key>([^<]+)</Key>", listing) == [f"{prefix}/reports/{key}/reconciliation.csv"]
