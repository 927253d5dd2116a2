"""A real Airflow on this machine, for the end-to-end test and the benchmark, and a REST client to drive it.

``LocalAirflow`` runs the API server, scheduler and DAG processor (the control plane) as separate
processes, each in its own session (process group) so ``stop()`` ends it with all its children, with the
metadata database in a fresh PostgreSQL database. Two executors:

* ``LocalExecutor``: tasks run as children of the scheduler, so the pipeline's connections
  (``AIRFLOW_CONN_*``) are in the control plane's environment.
* ``CeleryExecutor`` (give ``broker_url``; see ``start_broker``): one Celery worker, set apart as if it
  ran on another machine: its own AIRFLOW_HOME, working directory and TMPDIR, a private queue, and the only
  process holding the connections. Its task logs reach the API server over the worker's log server.

``start()`` migrates the metadata database and creates the pipeline's pools (``airflow pools set``, as
every deployment must) before any component starts.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from include.form526 import config
from tools.devservices import create_database, drop_database, free_port, with_database

ROOT = Path(__file__).resolve().parents[1]
API = "/api/v2"
BACKLOG_DAG_ID = "form526_backlog_resubmission"


class Unavailable(RuntimeError):
    """Something a live Airflow needs is missing on this machine (e.g. no Redis for Celery)."""


def loopback_hostname() -> str:
    """``[core] hostname_callable`` of the local processes: the API server asks 127.0.0.1 for worker logs."""
    return "127.0.0.1"


def parse_ts(value: str | None) -> float | None:
    """Epoch seconds of a REST timestamp (None stays None)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None


def project_pools() -> dict[str, tuple[int, str]]:
    """The pools the DAGs need, by name: (slots, description). A task whose pool is missing is never scheduled."""
    return {config.SOURCE_DB_POOL: (config.SOURCE_DB_POOL_SLOTS, config.SOURCE_DB_POOL_DESCRIPTION)}


def create_pools(env: dict[str, str], cwd: Path, pools: dict[str, tuple[int, str]] | None = None) -> None:
    """``airflow pools set`` for every pool (idempotent: an existing pool gets these slots)."""
    for name, (slots, description) in (project_pools() if pools is None else pools).items():
        res = subprocess.run([sys.executable, "-m", "airflow", "pools", "set", name, str(slots), description],
                             env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
        if res.returncode:
            raise RuntimeError(f"airflow pools set {name} failed:\n{res.stdout[-1500:]}\n{res.stderr[-1500:]}")


# --------------------------------------------------------------------------- processes


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path
    env: dict[str, str]
    cwd: Path

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it if the launching process dies without running its finalizers."""
    import ctypes

    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def start_proc(name: str, args: list[str], *, env: dict[str, str], cwd: Path, log_dir: Path) -> Proc:
    """Start ``args`` in a new session (so its whole process group can be stopped), output to a log file."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{name}.log"
    with open(log, "ab") as out:
        popen = subprocess.Popen(args, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent)
    return Proc(name, popen, log, env, cwd)


def stop_procs(procs: Iterable[Proc], grace: float = 20.0) -> None:
    """SIGTERM every process group, wait up to ``grace`` seconds, then SIGKILL whatever is left."""
    procs = list(procs)
    for p in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.popen.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
    for p in procs:  # the leader may be gone while children of its group linger
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.popen.wait(timeout=10)


def group_members(pgid: int) -> list[int]:
    """Pids still in process group ``pgid`` (from /proc)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                if os.getpgid(int(d.name)) == pgid:
                    out.append(int(d.name))
    return out


# --------------------------------------------------------------------------- Redis (Celery broker)


def redis_answers(port: int, host: str = "127.0.0.1") -> bool:
    """True when a Redis on host:port answers PING without authentication."""
    try:
        with socket.create_connection((host, port), timeout=1.0) as s:
            s.settimeout(1.0)
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class Broker:
    url: str
    proc: Proc | None = None


def start_broker(base: Path, db: int = 5) -> Broker:
    """Redis on 127.0.0.1:6379 (database ``db``) when it answers, else a private ``redis-server``."""
    if redis_answers(6379):
        return Broker(f"redis://127.0.0.1:6379/{db}")
    exe = shutil.which("redis-server")
    if not exe:
        raise Unavailable("no Redis answers on 127.0.0.1:6379 and no redis-server binary to start one")
    port = free_port()
    data = base / "redis"
    data.mkdir(parents=True, exist_ok=True)
    proc = start_proc("redis", [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                                "no", "--dir", str(data)], env=dict(os.environ), cwd=data, log_dir=base / "logs")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and proc.alive:
        if redis_answers(port):
            return Broker(f"redis://127.0.0.1:{port}/{db}", proc)
        time.sleep(0.1)
    stop_procs([proc], grace=2)
    raise Unavailable(f"redis-server did not answer on 127.0.0.1:{port}: {proc.tail(3)}")


def forget_queue(broker_url: str, queue: str) -> None:
    """Remove what Celery keeps in Redis for a one-off queue."""
    import redis

    with contextlib.suppress(Exception):
        client = redis.Redis.from_url(broker_url, socket_timeout=2)
        names = list(client.scan_iter(match=f"*{queue}*", count=1000))  # the queue and kombu's bindings of it
        if names:
            client.delete(*names)
        client.close()


# --------------------------------------------------------------------------- Airflow


@dataclass
class LocalAirflow:
    """API server + scheduler + DAG processor (+ one Celery worker), PostgreSQL metadata; REST helpers for
    ``dag_id``."""

    server_dsn: str
    connections: dict[str, str]
    base: Path
    dag_id: str = BACKLOG_DAG_ID
    executor: str = "LocalExecutor"
    broker_url: str | None = None
    parallelism: int = 4
    worker_concurrency: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    log_server_port: int = field(default_factory=free_port)
    queue: str = field(default_factory=lambda: f"form526-local-{uuid.uuid4().hex[:8]}")
    username: str = "form526-local"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    metadata_db: str = field(default_factory=lambda: f"airflow_local_{uuid.uuid4().hex[:10]}")
    fernet_key: str = field(default_factory=lambda: base64.urlsafe_b64encode(os.urandom(32)).decode())
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    procs: list[Proc] = field(default_factory=list)
    _session: requests.Session | None = None

    def __post_init__(self) -> None:
        if self.executor not in ("LocalExecutor", "CeleryExecutor"):
            raise ValueError(f"unsupported executor {self.executor}")
        if self.executor == "CeleryExecutor" and not self.broker_url:
            raise ValueError("the CeleryExecutor needs broker_url (see start_broker)")

    # ---- layout: the control plane and the worker share nothing on disk

    @property
    def celery(self) -> bool:
        return self.executor == "CeleryExecutor"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def control_home(self) -> Path:
        return self.base / "control" / "airflow-home"

    @property
    def worker_dir(self) -> Path:
        """The Celery worker's working directory."""
        return self.base / "worker" / "cwd"

    @property
    def worker_tmp(self) -> Path:
        return self.base / "worker" / "tmp"

    @property
    def worker_home(self) -> Path:
        return self.base / "worker" / "airflow-home"

    @property
    def process_logs(self) -> Path:
        return self.base / "process-logs"

    def _env(self, home: Path) -> dict[str, str]:
        # nothing of the caller's Airflow set-up (config, connections) leaks in
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_")}
        sql = with_database(self.server_dsn, self.metadata_db)
        env.update(
            AIRFLOW_HOME=str(home),
            AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
            AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="True",
            AIRFLOW__CORE__EXECUTOR=self.executor,
            AIRFLOW__CORE__PARALLELISM=str(self.parallelism),
            AIRFLOW__CORE__HOSTNAME_CALLABLE="tools.airflow_local.loopback_hostname",
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{self.url}/execution/",
            AIRFLOW__CORE__FERNET_KEY=self.fernet_key,
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{self.username}:admin",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(self.base / "control" / "passwords.json"),
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=sql.replace("postgresql://", "postgresql+psycopg://", 1),
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API__PORT=str(self.port),
            AIRFLOW__API__WORKERS="1",
            AIRFLOW__API__SECRET_KEY=self.secret,
            AIRFLOW__API_AUTH__JWT_SECRET=self.secret,
            AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(home / "logs"),
            AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK="False",
            PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
            # no scheduled run next to the runs the caller triggers
            FORM526_SWEEP_SCHEDULE="none",
            FORM526_TRIAGE_SCHEDULE="none",
        )
        if self.celery:
            env.update(
                AIRFLOW__CELERY__BROKER_URL=self.broker_url,
                AIRFLOW__CELERY__RESULT_BACKEND="db+" + sql,
                AIRFLOW__CELERY__WORKER_CONCURRENCY=str(self.worker_concurrency),
                AIRFLOW__OPERATORS__DEFAULT_QUEUE=self.queue,
                AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(self.log_server_port),
            )
        env.update(self.extra_env)
        return env

    def control_env(self) -> dict[str, str]:
        """API server, scheduler, DAG processor (and, with the LocalExecutor, the tasks: so the connections)."""
        env = self._env(self.control_home)
        if not self.celery:
            env.update(self.connections)
        return env

    def worker_env(self) -> dict[str, str]:
        env = self._env(self.worker_home)
        env.update(self.connections)
        env["TMPDIR"] = str(self.worker_tmp)
        return env

    # ---- lifecycle

    def start(self, timeout: float = 300.0) -> LocalAirflow:
        dirs = [self.control_home, *((self.worker_dir, self.worker_tmp, self.worker_home) if self.celery else ())]
        for d in dirs:
            d.mkdir(parents=True, exist_ok=True)
        (self.base / "control" / "passwords.json").write_text(json.dumps({self.username: self.password}))
        create_database(self.server_dsn, self.metadata_db, drop_first=True)
        control = self.control_env()
        airflow = [sys.executable, "-m", "airflow"]
        migrate = subprocess.run([*airflow, "db", "migrate"], env=control, cwd=self.control_home,
                                 capture_output=True, text=True, timeout=600)
        if migrate.returncode:
            raise RuntimeError(f"airflow db migrate failed:\n{migrate.stdout[-2000:]}\n{migrate.stderr[-2000:]}")
        create_pools(control, self.control_home)
        kw = dict(env=control, cwd=self.control_home, log_dir=self.process_logs)
        self.procs.append(start_proc("api-server", [*airflow, "api-server", "--host", "127.0.0.1", "--port",
                                                    str(self.port), "--workers", "1"], **kw))
        self.procs.append(start_proc("scheduler", [*airflow, "scheduler", "--skip-serve-logs"], **kw))
        self.procs.append(start_proc("dag-processor", [*airflow, "dag-processor"], **kw))
        if self.celery:
            self.procs.append(start_proc(
                "celery-worker", [*airflow, "celery", "worker", "--concurrency", str(self.worker_concurrency),
                                  "--queues", self.queue, "--without-gossip", "--without-mingle"],
                env=self.worker_env(), cwd=self.worker_dir, log_dir=self.process_logs))
        self._wait_healthy(timeout)
        return self

    def stop(self) -> None:
        """Stop every process group, forget the Celery queue, drop the metadata database."""
        stop_procs(self.procs)
        if self.celery and self.broker_url:
            forget_queue(self.broker_url, self.queue)
        with contextlib.suppress(Exception):
            drop_database(self.server_dsn, self.metadata_db)

    def proc(self, name: str) -> Proc:
        return next(p for p in self.procs if p.name == name)

    def pid(self, name: str) -> int:
        return self.proc(name).popen.pid

    def check_alive(self) -> None:
        dead = [p for p in self.procs if not p.alive]
        if dead:
            raise RuntimeError("\n\n".join(f"{p.name} exited with {p.popen.returncode}:\n{p.tail()}" for p in dead))

    def diagnostics(self) -> str:
        return "\n\n".join(f"--- {p.name} ({'running' if p.alive else p.popen.returncode})\n{p.tail(25)}"
                           for p in self.procs)

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        health: Any = None
        while time.monotonic() < deadline:
            self.check_alive()
            with contextlib.suppress(requests.RequestException, ValueError):
                health = requests.get(f"{self.url}{API}/monitor/health", timeout=5).json()
                if all((health.get(part) or {}).get("status") == "healthy"
                       for part in ("metadatabase", "scheduler", "dag_processor")):
                    return
            time.sleep(1)
        raise RuntimeError(f"Airflow not healthy after {timeout:.0f}s: {health}\n{self.diagnostics()}")

    # ---- REST API v2, as a user would call it

    def login(self) -> requests.Session:
        r = requests.post(f"{self.url}/auth/token", json={"username": self.username, "password": self.password},
                          timeout=30)
        r.raise_for_status()
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        self._session = s
        return s

    def api(self, method: str, path: str, **kw: Any) -> requests.Response:
        session = self._session or self.login()
        kw.setdefault("timeout", 60)
        return session.request(method, f"{self.url}{API}{path}", **kw)

    def _run_path(self, run_id: str) -> str:
        return f"/dags/{self.dag_id}/dagRuns/{quote(run_id, safe='')}"

    def wait_for_dag(self, timeout: float = 180.0, unpause: bool = False) -> dict[str, Any]:
        """The DAG as the API shows it once the DAG processor registered it (unpaused first if asked)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            r = self.api("GET", f"/dags/{self.dag_id}")
            if r.status_code == 200:
                if unpause:
                    r = self.api("PATCH", f"/dags/{self.dag_id}", json={"is_paused": False})
                    r.raise_for_status()
                return r.json()
            time.sleep(1)
        raise RuntimeError(f"DAG {self.dag_id} not registered after {timeout:.0f}s; import errors: "
                           f"{self.api('GET', '/importErrors').text}\n{self.diagnostics()}")

    def trigger(self, conf: dict[str, Any]) -> str:
        """Trigger a run with ``conf``; returns its run id."""
        r = self.api("POST", f"/dags/{self.dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
        r.raise_for_status()
        return r.json()["dag_run_id"]

    def wait_for_run(self, run_id: str, timeout: float, poll: float = 2.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        run: dict[str, Any] = {}
        while time.monotonic() < deadline:
            self.check_alive()
            with contextlib.suppress(requests.RequestException, ValueError):
                run = self.api("GET", self._run_path(run_id)).json()
                if run.get("state") in ("success", "failed"):
                    return run
            time.sleep(poll)
        raise TimeoutError(f"run {run_id} still {run.get('state')} after {timeout:.0f}s\n"
                           f"{self.task_states(run_id)}\n{self.diagnostics()}")

    def task_instances(self, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of the run (mapped ones included), page by page."""
        out: list[dict[str, Any]] = []
        while True:
            r = self.api("GET", f"{self._run_path(run_id)}/taskInstances", params={"limit": 100, "offset": len(out)})
            r.raise_for_status()
            page = r.json()["task_instances"]
            out += page
            if len(page) < 100:
                return out

    def task_states(self, run_id: str) -> dict[str, str | None]:
        with contextlib.suppress(Exception):
            return {(t["task_id"] if t["map_index"] < 0 else f"{t['task_id']}[{t['map_index']}]"): t["state"]
                    for t in self.task_instances(run_id)}
        return {}

    def task_log(self, run_id: str, task_id: str, try_number: int, map_index: int = -1) -> tuple[str, list[str]]:
        """(log text, sources) of one task try; accepts the JSON and the NDJSON form of the answer."""
        r = self.api("GET", f"{self._run_path(run_id)}/taskInstances/{task_id}/logs/{try_number}",
                     params={"map_index": map_index, "full_content": "true"}, headers={"Accept": "application/json"})
        r.raise_for_status()
        if "ndjson" in r.headers.get("content-type", ""):
            content: list[Any] = [json.loads(line) for line in r.text.splitlines() if line.strip()]
        else:
            content = r.json().get("content") or []
            if isinstance(content, str):
                content = content.splitlines()
        lines = [str(e.get("event", "")) if isinstance(e, dict) else str(e) for e in content]
        sources, in_sources = [], False  # Airflow 3 lists where it read the log in a leading group
        for line in lines:
            if line == "::group::Log message source details":
                in_sources = True
            elif line == "::endgroup::" and in_sources:
                break
            elif in_sources:
                sources.append(line)
        return "\n".join(lines), sources
