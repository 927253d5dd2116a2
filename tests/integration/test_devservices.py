"""The foundation: throwaway PostgreSQL and S3 reached the way the DAGs reach them, through Airflow's hooks."""

from __future__ import annotations

import socket
import subprocess
import sys

import psycopg
import pytest

from include.form526.config import S3_CONN_ID, SOURCE_CONN_ID
from tests import helpers as h
from tools.devservices import DevServiceError, EmbeddedPostgres, free_port
from tools.synthetic import generator as synthetic

pytestmark = pytest.mark.integration


def test_schema_seed_and_query_through_postgres_hook(services):
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    h.reset_databases(services)
    with psycopg.connect(services.source_dsn) as conn:
        summary = synthetic.seed(conn, 300, seed=3)
    hook = PostgresHook(postgres_conn_id=SOURCE_CONN_ID)
    rows = hook.get_records("SELECT count(*), count(DISTINCT user_uuid) FROM form526_submissions")
    assert rows[0][0] == 300 == summary.n
    tables = {r[0] for r in hook.get_records(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
    assert {"form526_submissions", "form526_job_statuses", "form526_submission_remediations"} <= tables


def test_objects_round_trip_through_s3_hook_over_http(services):
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook(aws_conn_id=S3_CONN_ID)
    assert hook.conn.meta.endpoint_url.startswith("http://127.0.0.1:")
    hook.load_string("hello", key="probe/hello.txt", bucket_name=h.BUCKET, replace=True, encrypt=True)
    assert hook.read_key("probe/hello.txt", bucket_name=h.BUCKET) == "hello"
    assert hook.head_object("probe/hello.txt", bucket_name=h.BUCKET)["ServerSideEncryption"] == "AES256"
    with pytest.raises(ValueError):  # the hook's default refuses to overwrite: the pipeline decides deliberately
        hook.load_string("again", key="probe/hello.txt", bucket_name=h.BUCKET)


def test_a_second_server_on_the_same_data_directory_is_refused(services, tmp_path):
    pg = EmbeddedPostgres(tmp_path / "pgdata").start()
    try:
        with pytest.raises(DevServiceError, match="already uses"):
            EmbeddedPostgres(tmp_path / "pgdata").start()
    finally:
        pg.stop()


def test_a_taken_port_is_reported_in_one_line(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(DevServiceError) as err:
            EmbeddedPostgres(tmp_path / "pgdata", port=port).start()
    assert str(port) in str(err.value) and "\n" not in str(err.value)


def test_free_port_is_free():
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


@pytest.mark.parametrize("args", [["seed", "--dsn", "postgresql://x", "--n", "-5"], ["seed", "--bogus"], ["nope"]])
def test_generator_rejects_nonsense_with_a_clear_message(args):
    proc = subprocess.run([sys.executable, "-m", "tools.synthetic", *args], capture_output=True, text=True)
    assert proc.returncode != 0
    assert proc.stderr.strip()
