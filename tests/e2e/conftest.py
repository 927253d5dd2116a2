"""One live Airflow for the whole e2e package: the REST tests (test_live_airflow.py) and the browser tests
(test_browser.py) share it and its backlog run, so the browser adds little time.

Package scope: the processes stop after the last e2e test, before the integration and unit tests run.
In CI (``CI=true``) a missing Redis is a failure, never a skip: ``.ci/run`` installs it.
"""

from __future__ import annotations

import time
import uuid

import pytest

from tests import helpers as h
from tests.e2e.support import (
    BACKLOG_DAG_ID,
    BATCH_SIZE,
    RUN_TIMEOUT,
    LiveAirflow,
    N,
    Unavailable,
    console_template,
    group_members,
    skip_or_fail,
    start_broker,
    stop_procs,
)


@pytest.fixture(scope="package")
def live(services, tmp_path_factory):
    """A running Airflow for the e2e package; every process group is stopped afterwards, pass or fail."""
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
        skip_or_fail(f"no live Airflow: {exc}")
    airflow = LiveAirflow(dag_id=BACKLOG_DAG_ID, server_dsn=services.server_dsn,
                          connections=services.airflow_connections(), broker_url=broker.url, base=base,
                          extra_env={"FORM526_S3_CONSOLE_URL_TEMPLATE": console_template(services)})
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


@pytest.fixture(scope="package")
def triggered(live, services):
    """Seed a small source database, unpause and trigger the DAG over REST, wait for the run to end."""
    h.reset_databases(services)
    h.seed(services, N, seed=5)
    kept, _ = h.expected_plan(h.labels(services))
    prefix = f"e2e-{uuid.uuid4().hex[:8]}"

    dag = live.wait_for_dag()
    assert dag["is_paused"] is True  # paused at creation, as in the compose deployment
    r = live.api("PATCH", f"/dags/{BACKLOG_DAG_ID}", json={"is_paused": False})
    assert r.status_code == 200, r.text
    assert r.json()["is_paused"] is False

    conf = {"batch_size": BATCH_SIZE, "tolerated_failure_percent": 50, "key_prefix": prefix}
    started = time.monotonic()
    r = live.api("POST", f"/dags/{BACKLOG_DAG_ID}/dagRuns", json={"logical_date": None, "conf": conf})
    assert r.status_code == 200, r.text
    run_id = r.json()["dag_run_id"]
    run = live.wait_for_run(run_id, timeout=RUN_TIMEOUT)
    print(f"run {run_id} ended {run['state']} in {time.monotonic() - started:.0f}s")
    return {"run_id": run_id, "run": run, "kept": kept, "prefix": prefix,
            "tis": live.task_instances(run_id)}
