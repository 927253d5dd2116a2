"""Throwaway PostgreSQL and S3 (moto over HTTP) for the demo and the tests.

One module serves both so that what the tests exercise is what a newcomer runs:

* PostgreSQL: the server binaries bundled by the ``pgserver`` wheel, run with ``pg_ctl`` on a free
  TCP port of 127.0.0.1 (as an unprivileged system user when we are root), or an existing server
  when ``FORM526_PG_DSN`` names one (``postgresql://user:pw@host:port/postgres``).
* S3: a moto server on a free port of 127.0.0.1, or any endpoint given by ``FORM526_S3_ENDPOINT``
  (with ``FORM526_S3_ACCESS_KEY`` / ``FORM526_S3_SECRET_KEY``).

``DevServices`` exports the three connection ids as ``AIRFLOW_CONN_*`` variables and stops
everything it started on exit. ``python -m tools.devservices`` runs them in the foreground.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from include.form526.config import EVIDENCE_CONN_ID, LEDGER_CONN_ID, S3_CONN_ID, SOURCE_CONN_ID


class DevServiceError(RuntimeError):
    """A dev service could not start; the message is one readable line."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return True
        time.sleep(0.05)
    return False


# --------------------------------------------------------------------------- PostgreSQL


def _pg_bin_dir() -> Path:
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pgserver's import warns about XDG_RUNTIME_DIR; we use only its binaries
            from pgserver._commands import POSTGRES_BIN_PATH
    except ImportError as exc:  # pragma: no cover - dependency missing
        raise DevServiceError("pgserver is not installed: "
                              "pip install -r requirements-dev.txt -c constraints.txt") from exc

    if not (POSTGRES_BIN_PATH / "pg_ctl").exists():
        raise DevServiceError(f"PostgreSQL binaries not found in {POSTGRES_BIN_PATH}")
    return POSTGRES_BIN_PATH


def _run_as() -> str | None:
    """PostgreSQL refuses to run as root: use (and create if needed) the user pgserver uses."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam("pgserver")
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "-s", "/bin/false", "pgserver"], check=True,
                       capture_output=True)
    return "pgserver"


def _make_traversable(path: Path) -> None:
    """Let the unprivileged postgres user reach ``path`` (o+x on every parent)."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o011)


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL cluster in ``data_dir`` listening on 127.0.0.1:``port`` with trust auth."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    _user: str | None = None
    _started: bool = False

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _cmd(self, args: list[str], **kw) -> subprocess.CompletedProcess:
        return subprocess.run(args, user=self._user, capture_output=True, text=True, **kw)

    def start(self) -> EmbeddedPostgres:
        bin_dir = _pg_bin_dir()
        self._user = _run_as()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pid_file = self.data_dir / "postmaster.pid"
        if pid_file.exists():
            raise DevServiceError(f"a PostgreSQL server already uses {self.data_dir} (postmaster.pid exists)")
        if self._user:
            import pwd

            pw = pwd.getpwnam(self._user)
            _make_traversable(self.data_dir.parent)
            _make_traversable(bin_dir)
            for p in [self.data_dir, *self.data_dir.rglob("*")]:
                os.chown(p, pw.pw_uid, pw.pw_gid)
        if not (self.data_dir / "PG_VERSION").exists():
            res = self._cmd([str(bin_dir / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "--auth=trust",
                             "--encoding=UTF8", "--no-sync"])
            if res.returncode:
                raise DevServiceError(f"initdb failed: {res.stderr.strip().splitlines()[-1:]}")
        opts = f"-p {self.port} -h 127.0.0.1 -k {self.data_dir} -c fsync=off -c max_connections=200"
        res = self._cmd([str(bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-o", opts, "-l",
                         str(self.data_dir / "server.log"), "-w", "-t", "30", "start"],
                        start_new_session=True)
        if res.returncode:
            tail = (self.data_dir / "server.log").read_text(errors="replace").strip().splitlines()[-1:]
            why = " ".join(tail) or res.stderr.strip()
            raise DevServiceError(f"PostgreSQL did not start on port {self.port}: {why}")
        self._started = True
        return self

    def stop(self) -> None:
        if not self._started:
            return
        self._cmd([str(_pg_bin_dir() / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])
        self._started = False


def with_database(dsn: str, dbname: str) -> str:
    """The same server DSN pointed at another database."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{dbname}"))


def create_database(server_dsn: str, dbname: str, *, drop_first: bool = False) -> str:
    """Create ``dbname`` on the server (idempotent) and return its DSN."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(server_dsn, autocommit=True) as conn:
        if drop_first:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    return with_database(server_dsn, dbname)


def drop_database(server_dsn: str, dbname: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


# --------------------------------------------------------------------------- S3


@dataclass
class MotoS3:
    """A moto S3 server speaking real HTTP on 127.0.0.1.

    Runs in this process (``ThreadedMotoServer``): ``stop()`` then ``start()`` on the same port keeps
    the buckets, which is what the fault tests use to take S3 down and bring it back.
    """

    port: int = field(default_factory=free_port)
    _server: object | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoS3:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        try:
            self._server.start()
        except OSError as exc:
            raise DevServiceError(f"moto S3 could not listen on 127.0.0.1:{self.port}: {exc.strerror}") from exc
        if not _wait_for_port(self.port, 10):
            raise DevServiceError(f"moto S3 did not answer on 127.0.0.1:{self.port}")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


# --------------------------------------------------------------------------- all together


def aws_conn_json(endpoint_url: str, access_key: str, secret_key: str, region: str = "us-east-1") -> str:
    return json.dumps({"conn_type": "aws", "login": access_key, "password": secret_key,
                       "extra": {"endpoint_url": endpoint_url, "region_name": region}})


def postgres_conn_json(dsn: str) -> str:
    p = urlsplit(dsn)
    return json.dumps({"conn_type": "postgres", "host": p.hostname, "port": p.port or 5432,
                       "login": p.username or "postgres", "password": p.password or "",
                       "schema": p.path.lstrip("/")})


@dataclass
class DevServices:
    """Postgres + S3 for one demo or test session, exported as Airflow connections.

    ``source_db`` holds the synthetic vets-api tables, ``ledger_db`` this pipeline's own state.
    """

    base_dir: Path | None = None
    source_db: str = "vets_api"
    ledger_db: str = "form526_ledger"
    bucket: str = "form526-backlog"
    evidence_bucket: str = "vets-api-evidence"
    """Stands in for vets-api's upload bucket (Settings.evss.s3.bucket), on the same S3 server."""
    fresh_databases: bool = True
    postgres: EmbeddedPostgres | None = None
    s3: MotoS3 | None = None
    server_dsn: str = ""
    s3_endpoint: str = ""
    s3_access_key: str = "testing"
    s3_secret_key: str = "testing"
    _tmp: Path | None = None
    _own_dbs: list[str] = field(default_factory=list)

    @property
    def source_dsn(self) -> str:
        return with_database(self.server_dsn, self.source_db)

    @property
    def ledger_dsn(self) -> str:
        return with_database(self.server_dsn, self.ledger_db)

    def start(self) -> DevServices:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        if self.base_dir is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="form526-dev-"))
            self.base_dir = self._tmp
        external_pg = os.environ.get("FORM526_PG_DSN")
        if external_pg:
            self.server_dsn = external_pg
            if self._tmp is not None:
                # Another test session may share the server: keep our databases apart.
                suffix = uuid.uuid4().hex[:8]
                self.source_db = f"{self.source_db}_{suffix}"
                self.ledger_db = f"{self.ledger_db}_{suffix}"
        else:
            self.postgres = EmbeddedPostgres(self.base_dir / "pgdata").start()
            self.server_dsn = self.postgres.dsn
        for db in (self.source_db, self.ledger_db):
            create_database(self.server_dsn, db, drop_first=self.fresh_databases)
            self._own_dbs.append(db)
        external_s3 = os.environ.get("FORM526_S3_ENDPOINT")
        if external_s3:
            self.s3_endpoint = external_s3
            self.s3_access_key = os.environ.get("FORM526_S3_ACCESS_KEY", "")
            self.s3_secret_key = os.environ.get("FORM526_S3_SECRET_KEY", "")
        else:
            self.s3 = MotoS3().start()
            self.s3_endpoint = self.s3.endpoint_url
        self.ensure_bucket(self.bucket)
        self.ensure_bucket(self.evidence_bucket)

    def boto3_client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.s3_endpoint, aws_access_key_id=self.s3_access_key,
                            aws_secret_access_key=self.s3_secret_key, region_name="us-east-1")

    def ensure_bucket(self, bucket: str) -> None:
        client = self.boto3_client()
        try:
            client.head_bucket(Bucket=bucket)
        except Exception:
            client.create_bucket(Bucket=bucket)

    def airflow_connections(self) -> dict[str, str]:
        """``AIRFLOW_CONN_*`` variables for the connection ids, and the evidence bucket setting."""
        return {
            "FORM526_EVIDENCE_BUCKET": self.evidence_bucket,
            f"AIRFLOW_CONN_{EVIDENCE_CONN_ID.upper()}": aws_conn_json(self.s3_endpoint, self.s3_access_key,
                                                                      self.s3_secret_key),
            f"AIRFLOW_CONN_{SOURCE_CONN_ID.upper()}": postgres_conn_json(self.source_dsn),
            f"AIRFLOW_CONN_{LEDGER_CONN_ID.upper()}": postgres_conn_json(self.ledger_dsn),
            f"AIRFLOW_CONN_{S3_CONN_ID.upper()}": aws_conn_json(self.s3_endpoint, self.s3_access_key,
                                                                self.s3_secret_key),
        }

    def export(self, environ: dict[str, str] | os._Environ = os.environ) -> None:
        environ.update(self.airflow_connections())

    def stop(self) -> None:
        if self.s3 is not None:
            self.s3.stop()
            self.s3 = None
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None
        elif self.server_dsn and self._tmp is not None:
            for db in self._own_dbs:
                with contextlib.suppress(Exception):
                    drop_database(self.server_dsn, db)
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> DevServices:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main() -> int:
    """Run the dev services in the foreground and print the connection variables."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tools.devservices", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(".devdata"),
                        help="where PostgreSQL keeps its files (default: .devdata)")
    args = parser.parse_args()
    stop = False

    def _stop(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        with DevServices(base_dir=args.data_dir.resolve(), fresh_databases=False) as svc:
            for k, v in svc.airflow_connections().items():
                print(f"export {k}='{v}'")
            print("# services up; Ctrl-C to stop", file=sys.stderr, flush=True)
            while not stop:
                time.sleep(0.5)
    except DevServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
