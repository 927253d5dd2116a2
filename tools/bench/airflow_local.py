"""A real Airflow for the benchmark: API server + scheduler + DAG processor, LocalExecutor, PostgreSQL metadata.

Every process runs in its own session (process group), so ``stop()`` ends it with all its children.
The pipeline's connections (``AIRFLOW_CONN_*``) are in the scheduler's environment: LocalExecutor runs
the tasks as its children.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from tools.devservices import create_database, free_port, with_database

ROOT = Path(__file__).resolve().parents[2]
API = "/api/v2"
DAG_ID = "form526_backlog_resubmission"


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


def start_proc(name: str, args: list[str], *, env: dict[str, str], cwd: Path, log_dir: Path) -> Proc:
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{name}.log"
    with open(log, "ab") as out:
        popen = subprocess.Popen(args, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    return Proc(name, popen, log)


def stop_procs(procs: list[Proc], grace: float = 20.0) -> None:
    """SIGTERM each process group, wait, then SIGKILL what is left of the group."""
    for p in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.popen.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
    for p in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.popen.wait(timeout=10)


def parse_ts(value: str | None) -> float | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None


@dataclass
class LocalAirflow:
    server_dsn: str
    connections: dict[str, str]
    base: Path
    parallelism: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    metadata_db: str = "airflow_bench"
    username: str = "bench"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    procs: list[Proc] = field(default_factory=list)
    _session: requests.Session | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def home(self) -> Path:
        return self.base / "airflow-home"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__"))}
        sql = with_database(self.server_dsn, self.metadata_db).replace("postgresql://", "postgresql+psycopg://", 1)
        secret = base64.urlsafe_b64encode(os.urandom(32)).decode()
        env.update(
            AIRFLOW_HOME=str(self.home),
            AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
            AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="True",
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__PARALLELISM=str(self.parallelism),
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{self.url}/execution/",
            AIRFLOW__CORE__FERNET_KEY=secret,
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{self.username}:admin",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(self.base / "passwords.json"),
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=sql,
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API__PORT=str(self.port),
            AIRFLOW__API__WORKERS="1",
            AIRFLOW__API__SECRET_KEY=secret,
            AIRFLOW__API_AUTH__JWT_SECRET=secret,
            AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(self.home / "logs"),
            AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK="False",
            PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
            FORM526_SWEEP_SCHEDULE="none",
            FORM526_TRIAGE_SCHEDULE="none",
            FORM526_TASK_RETRIES="0",  # a failed task should fail the measurement, not wait for a retry
        )
        env.update(self.connections)
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 300.0) -> LocalAirflow:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.base / "passwords.json").write_text(json.dumps({self.username: self.password}))
        create_database(self.server_dsn, self.metadata_db, drop_first=True)
        env = self.env()
        airflow = [sys.executable, "-m", "airflow"]
        res = subprocess.run([*airflow, "db", "migrate"], env=env, cwd=self.home, capture_output=True, text=True,
                             timeout=600)
        if res.returncode:
            raise RuntimeError(f"airflow db migrate failed:\n{res.stdout[-1500:]}\n{res.stderr[-1500:]}")
        kw = dict(env=env, cwd=self.home, log_dir=self.base / "process-logs")
        self.procs.append(start_proc("api-server", [*airflow, "api-server", "--host", "127.0.0.1", "--port",
                                                    str(self.port), "--workers", "1"], **kw))
        self.procs.append(start_proc("scheduler", [*airflow, "scheduler", "--skip-serve-logs"], **kw))
        self.procs.append(start_proc("dag-processor", [*airflow, "dag-processor"], **kw))
        deadline = time.monotonic() + timeout
        health: Any = None
        while time.monotonic() < deadline:
            self.check_alive()
            with contextlib.suppress(requests.RequestException, ValueError):
                health = requests.get(f"{self.url}{API}/monitor/health", timeout=5).json()
                if all(health.get(p, {}).get("status") == "healthy" for p in ("metadatabase", "scheduler",
                                                                                "dag_processor")):
                    return self
            time.sleep(1)
        raise RuntimeError(f"Airflow not healthy after {timeout:.0f}s: {health}\n{self.diagnostics()}")

    def stop(self) -> None:
        stop_procs(self.procs)
        self.procs.clear()

    def pid(self, name: str) -> int:
        return next(p.popen.pid for p in self.procs if p.name == name)

    def check_alive(self) -> None:
        dead = [p for p in self.procs if not p.alive]
        if dead:
            raise RuntimeError("\n".join(f"{p.name} exited ({p.popen.returncode}):\n{p.tail()}" for p in dead))

    def diagnostics(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.tail()}" for p in self.procs)

    # ---- REST v2

    def api(self, method: str, path: str, **kw) -> requests.Response:
        if self._session is None:
            r = requests.post(f"{self.url}/auth/token", json={"username": self.username, "password": self.password},
                              timeout=30)
            r.raise_for_status()
            self._session = requests.Session()
            self._session.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        kw.setdefault("timeout", 60)
        return self._session.request(method, f"{self.url}{API}{path}", **kw)

    def wait_for_dag(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if self.api("GET", f"/dags/{DAG_ID}").status_code == 200:
                r = self.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})
                r.raise_for_status()
                return
            time.sleep(1)
        raise RuntimeError(f"DAG not registered: {self.api('GET', '/importErrors').text}\n{self.diagnostics()}")

    def trigger(self, conf: dict[str, Any]) -> str:
        r = self.api("POST", f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": conf})
        r.raise_for_status()
        return r.json()["dag_run_id"]

    def wait_for_run(self, run_id: str, timeout: float, poll: float = 0.5) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        run: dict[str, Any] = {}
        while time.monotonic() < deadline:
            self.check_alive()
            with contextlib.suppress(requests.RequestException, ValueError):
                run = self.api("GET", f"/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}").json()
                if run.get("state") in ("success", "failed"):
                    return run
            time.sleep(poll)
        raise TimeoutError(f"run {run_id} still {run.get('state')} after {timeout:.0f}s")

    def task_instances(self, run_id: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            r = self.api("GET", f"/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}/taskInstances",
                         params={"limit": 100, "offset": len(out)})
            r.raise_for_status()
            page = r.json()["task_instances"]
            out += page
            if len(page) < 100:
                return out
