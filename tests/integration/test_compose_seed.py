"""The compose stack's one-shots (source seeding, the pipeline's database roles), run against scratch PostgreSQL
databases."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from include.form526.source import extraction
from tests.unit.test_compose import ROOT, service
from tools.devservices import _pg_bin_dir


def test_source_seed_seeds_an_empty_database_once(source_dsn):
    """The one-shot seeding command of the compose file, run here against a scratch database twice."""
    seed = service("source-seed")
    assert seed["command"][:2] == ["bash", "-c"]
    script = seed["command"][2].replace("$$", "$")  # compose's escape for a literal $
    # the service's command calls `python`: make it this interpreter, as the image's is the project's
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "SOURCE_DSN": source_dsn, "FORM526_DEMO_SUBMISSIONS": "25", "PYTHONPATH": str(ROOT),
           "PATH": path}
    outputs = []
    for _ in range(2):
        res = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        outputs.append(res.stdout + res.stderr)
        with psycopg.connect(source_dsn) as conn:
            assert conn.execute("SELECT count(*) FROM form526_submissions").fetchone()[0] == 25
    assert "not seeding again" in outputs[1]


# --------------------------------------------------------------------------- db-roles: the pipeline's roles

SOURCE_TABLES = ("form526_submissions", "form526_job_statuses", "form526_submission_remediations", "form_attachments")
ROLES = ("form526_reader", "form526")


def _as_role(dsn: str, role: str) -> str:
    """The same database, logged in as ``role`` (the test server trusts local logins)."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(netloc=f"{role}@{parts.hostname}:{parts.port}"))


def _run_db_roles(source_admin_dsn: str, ledger_admin_dsn: str) -> subprocess.CompletedProcess:
    """db-roles' command as compose runs it, pointed at scratch databases, with the SQL of tools/compose_init."""
    roles = service("db-roles")
    assert roles["command"][:2] == ["bash", "-c"]
    script = roles["command"][2].replace("$$", "$").replace("/opt/form526-init", str(ROOT / "tools/compose_init"))
    path = os.pathsep.join([str(_pg_bin_dir()), os.environ.get("PATH", "")])  # psql of the test server
    env = {"PATH": path, "HOME": os.environ.get("HOME", "/root"), "SOURCE_ADMIN_DSN": source_admin_dsn,
           "LEDGER_ADMIN_DSN": ledger_admin_dsn, "SOURCE_DB_READER_PASSWORD": "reader-pw-0123456789abcdef",
           "LEDGER_DB_PASSWORD": "ledger-pw-0123456789abcdef"}
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def pipeline_roles(services, source_dsn, ledger_dsn):
    """A seeded scratch source and an empty scratch ledger, db-roles run on them twice (it runs every start)."""
    from tools.synthetic import generator as synthetic

    with psycopg.connect(source_dsn) as conn:
        synthetic.seed(conn, 300, seed=5)
    try:
        for _ in range(2):
            res = _run_db_roles(source_dsn, ledger_dsn)
            assert res.returncode == 0, res.stderr
        yield _as_role(source_dsn, "form526_reader"), _as_role(ledger_dsn, "form526")
    finally:  # roles are server-wide: take them out of both scratch databases, then drop them
        for dsn in (source_dsn, ledger_dsn):
            with psycopg.connect(dsn, autocommit=True) as admin:
                for role in ROLES:
                    if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                        admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        with psycopg.connect(services.server_dsn, autocommit=True) as admin:
            for role in ROLES:
                admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def _attributes(conn, role: str) -> tuple:
    return conn.execute("SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin"
                        " FROM pg_roles WHERE rolname = %s", (role,)).fetchone()


def test_source_role_may_select_exactly_the_source_tables(pipeline_roles, source_dsn):
    reader_dsn, _ = pipeline_roles
    with psycopg.connect(source_dsn) as admin:
        assert _attributes(admin, "form526_reader") == (False, False, False, False, False, True)
        tables = set(admin.execute("SELECT table_name, privilege_type FROM information_schema.table_privileges"
                                   " WHERE grantee = 'form526_reader'").fetchall())
        columns = set(admin.execute("SELECT column_name, privilege_type FROM information_schema.column_privileges"
                                    " WHERE grantee = 'form526_reader' AND table_name = 'user_accounts'").fetchall())
        assert admin.execute("SELECT rolpassword IS NOT NULL FROM pg_authid"
                             " WHERE rolname = 'form526_reader'").fetchone()[0]
    assert tables == {(t, "SELECT") for t in SOURCE_TABLES}
    assert columns == {("id", "SELECT")}

    with psycopg.connect(reader_dsn, autocommit=True) as conn:
        for table in SOURCE_TABLES:
            conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
        conn.execute("SELECT count(id) FROM user_accounts").fetchone()
        # what the pipeline reads works under these grants, and reads what the owner reads
        now = datetime.now(UTC)
        flt = extraction.ScopeFilter(as_of=now, pending_window_days=21, ids=None, created_after=None,
                                     created_before=None)
        with psycopg.connect(source_dsn, autocommit=True) as admin:
            expected = ({c.submission_id for c in extraction.stream_candidates(admin, flt)},
                        extraction.failed_ids(admin, now, 21), extraction.count_dangling_accounts(admin, flt))
        assert expected[0] and expected[1]
        assert ({c.submission_id for c in extraction.stream_candidates(conn, flt)},
                extraction.failed_ids(conn, now, 21), extraction.count_dangling_accounts(conn, flt)) == expected

        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT icn FROM user_accounts")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM user_accounts")
        # its sessions are read-only by default ...
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("UPDATE form526_submissions SET workflow_complete = true")
        # ... and even a read-write transaction may not write: no privilege to
        for write in ("UPDATE form526_submissions SET workflow_complete = true",
                      "DELETE FROM form526_job_statuses",
                      "INSERT INTO form526_submission_remediations (form526_submission_id) VALUES (1)",
                      "TRUNCATE form_attachments",
                      "UPDATE user_accounts SET icn = NULL",
                      "CREATE TABLE public.sneaky (id int)"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                conn.execute("SET TRANSACTION READ WRITE")
                conn.execute(write)


def test_ledger_role_owns_its_schema_and_migrates_the_ledger(pipeline_roles, ledger_dsn):
    from include.form526.delivery import ledger

    _, ledger_role_dsn = pipeline_roles
    with psycopg.connect(ledger_role_dsn, autocommit=True) as conn:
        assert ledger.migrate(conn)  # the ledger creates its own tables, as on the first run
        assert ledger.migrate(conn) == []
        owners = set(conn.execute("SELECT schemaname, tableowner FROM pg_tables"
                                  " WHERE tablename LIKE 'form526%'").fetchall())
        assert owners == {("form526", "form526")}
        conn.execute("INSERT INTO form526_runs (run_id, dag_id, run_key, as_of, params)"
                     " VALUES ('r', 'd', 'k', now(), '{}')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE public.sneaky (id int)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE DATABASE sneaky")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE ROLE sneaky")
    with psycopg.connect(ledger_dsn) as admin:
        assert _attributes(admin, "form526") == (False, False, False, False, False, True)
        # nobody but the ledger role (and superusers) may connect or create temporary tables
        assert admin.execute("SELECT has_database_privilege('public', current_database(), 'CONNECT')"
                             " OR has_database_privilege('public', current_database(), 'TEMP')").fetchone() == (False,)
