"""Test session set-up: an isolated Airflow home, and one throwaway PostgreSQL + S3 (moto over HTTP).

Airflow reads its configuration when first imported, so the environment is set here, before any
test module imports it. Set FORM526_PG_DSN / FORM526_S3_ENDPOINT to use servers of your own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="form526-airflow-"))

os.environ.update(
    AIRFLOW_HOME=str(AIRFLOW_HOME),
    AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
    AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"),
    AIRFLOW__CORE__LOAD_EXAMPLES="False",
    AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
    AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(AIRFLOW_HOME / "logs"),
    # Fast retries in tests; production defaults live in include/form526/config.py.
    FORM526_TASK_RETRIES=os.environ.get("FORM526_TASK_RETRIES", "1"),
    FORM526_RETRY_DELAY_SECONDS=os.environ.get("FORM526_RETRY_DELAY_SECONDS", "1"),
    # vets-api's upload bucket on the session's S3 server (tools.devservices.DevServices.evidence_bucket)
    FORM526_EVIDENCE_BUCKET="vets-api-evidence",
)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools.devservices import DevServices, create_database, drop_database  # noqa: E402


@pytest.fixture(scope="session")
def services():
    """PostgreSQL and S3 for the whole session, exported as the three Airflow connections."""
    svc = DevServices().start()
    svc.export()
    try:
        yield svc
    finally:
        svc.stop()


def _scratch_db(services, prefix: str):
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    dsn = create_database(services.server_dsn, name)
    try:
        yield dsn
    finally:
        drop_database(services.server_dsn, name)


@pytest.fixture
def source_dsn(services):
    """DSN of an empty scratch database (dropped after the test)."""
    yield from _scratch_db(services, "scratch_src")


@pytest.fixture
def ledger_dsn(services):
    """DSN of another empty scratch database, for ledger tests."""
    yield from _scratch_db(services, "scratch_ledger")


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata database (SQLite in the session's AIRFLOW_HOME), migrated once."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True,
                   env=os.environ.copy(), timeout=300)
    return AIRFLOW_HOME


_KINDS = ("unit", "integration", "e2e")
_SERVICE_FIXTURES = {"services", "source_dsn", "ledger_dsn", "airflow_db"}


def pytest_collection_modifyitems(config, items):
    """Mark every test by its folder; a unit test may not ask for a database or S3."""
    for item in items:
        parts = Path(str(item.fspath)).resolve().relative_to(ROOT / "tests").parts
        kind = parts[0] if parts[0] in _KINDS else None
        if kind is None:
            continue
        item.add_marker(getattr(pytest.mark, kind))
        if kind == "unit" and _SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())):
            raise pytest.UsageError(f"{item.nodeid} is a unit test but needs a service: move it to tests/integration")
