"""Shared test helpers: run a DAG in-process, read S3 and the ledger, compute expectations independently."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import psycopg

from tools.devservices import create_database

BUCKET = "form526-backlog"


def reset_databases(services) -> None:
    """Empty source and ledger databases (same names, so the exported connections stay valid)."""
    create_database(services.server_dsn, services.source_db, drop_first=True)
    create_database(services.server_dsn, services.ledger_db, drop_first=True)


def reset_ledger_and_bucket(services) -> None:
    """A fresh ledger and an empty delivery bucket; the source database is kept."""
    create_database(services.server_dsn, services.ledger_db, drop_first=True)
    empty_bucket(services)


def empty_bucket(services, bucket: str = BUCKET) -> None:
    s3 = services.boto3_client()
    services.ensure_bucket(bucket)
    for key in list_keys(services, bucket):
        s3.delete_object(Bucket=bucket, Key=key)


def seed(services, n: int, seed: int = 7) -> None:
    from tools.synthetic import generator as synthetic

    with psycopg.connect(services.source_dsn) as conn:
        synthetic.seed(conn, n, seed=seed)


def get_dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import ROOT

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag(dag_id)


def run_dag(dag_id: str, conf: dict[str, Any] | None = None):
    """``dag.test`` in this process; returns (dag_run state, {task_id or task_id[i]: state})."""
    dag = get_dag(dag_id)
    dr = dag.test(run_conf=conf or {})
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = session.query(TaskInstance).filter(TaskInstance.dag_id == dag_id,
                                                 TaskInstance.run_id == dr.run_id).all()
        states = {(ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"): ti.state for ti in tis}
        labels = {f"{ti.task_id}[{ti.map_index}]": ti.rendered_map_index for ti in tis if ti.map_index >= 0}
    return dr.run_id, dr.state, states, labels


def list_keys(services, bucket: str = BUCKET, prefix: str = "") -> dict[str, int]:
    s3 = services.boto3_client()
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            out[o["Key"]] = o["Size"]
    return out


def get_bytes(services, key: str, bucket: str = BUCKET) -> bytes:
    return services.boto3_client().get_object(Bucket=bucket, Key=key)["Body"].read()


def report_of(services, run_key: str, prefix: str = "form526") -> tuple[list[dict[str, str]], dict[str, Any]]:
    base = f"{prefix}/reports/{run_key}/"
    rows = list(csv.DictReader(io.StringIO(get_bytes(services, base + "reconciliation.csv").decode())))
    summary = json.loads(get_bytes(services, base + "summary.json"))
    return rows, summary


def ledger_states(services) -> dict[int, str]:
    with psycopg.connect(services.ledger_dsn) as conn:
        return dict(conn.execute("SELECT submission_id, state FROM form526_deliveries").fetchall())


def labels(services) -> dict[int, dict[str, Any]]:
    """The generator's ground truth per submission (synthetic.submission_labels, see tools/synthetic/labels.sql)."""
    with psycopg.connect(services.source_dsn) as conn:
        rows = conn.execute(
            "SELECT l.submission_id, l.scenario, l.expected_state, l.dupe_group, s.created_at, s.user_uuid,"
            " l.veteran_key, l.expected_delivery, l.expected_duplicate_of,"
            " l.expected_delivery_with_email_notified, l.expected_duplicate_of_with_email_notified"
            " FROM synthetic.submission_labels l JOIN form526_submissions s ON s.id = l.submission_id").fetchall()
    return {r[0]: {"scenario": r[1], "state": r[2], "dupe_group": r[3], "created_at": r[4], "user": r[5],
                   "veteran": r[6], "delivery": r[7], "duplicate_of": r[8], "delivery_with_email_notified": r[9],
                   "duplicate_of_with_email_notified": r[10]}
            for r in rows}


def expected_plan(lab: dict[int, dict[str, Any]],
                  include_email_notified: bool = False) -> tuple[set[int], dict[int, int]]:
    """Independently of the pipeline: the failed ids a sweep delivers, and those it skips as duplicates (with the
    id each duplicates), from the generator's own labels (its dupe sets per veteran and the dupe-set rule)."""
    suffix = "_with_email_notified" if include_email_notified else ""
    kept = {sid for sid, v in lab.items() if v["delivery" + suffix] == "delivered"}
    skipped = {sid: v["duplicate_of" + suffix] for sid, v in lab.items()
               if v["delivery" + suffix] == "skipped_duplicate"}
    return kept, skipped


def last_names(services, ids: list[int]) -> dict[int, str]:
    """The veteran's last name as the source holds it (auth headers), whitespace folded."""
    with psycopg.connect(services.source_dsn) as conn:
        rows = conn.execute("SELECT id, auth_headers_json FROM form526_submissions WHERE id = ANY(%s)",
                            (ids,)).fetchall()
    return {sid: " ".join(str(json.loads(a).get("va_eauth_lastName", "")).split()) for sid, a in rows}


def run_dag_cli(dag_id: str, conf: dict[str, Any] | None = None, timeout: int = 600) -> tuple[int, str]:
    """``airflow dags test`` in a subprocess: returns (exit code, everything the run printed, task logs included)."""
    import os
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "airflow", "dags", "test", dag_id, "-c", json.dumps(conf or {})],
                          env=os.environ.copy(), capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


def seeded_pii(services) -> dict[str, set[str]]:
    """Every identity value the seeded auth headers hold, by kind."""
    out: dict[str, set[str]] = {"ssn": set(), "file_number": set(), "participant_id": set(), "last_name": set(),
                                "birth_date": set(), "bank_account": set()}
    keys = {"va_eauth_pnid": "ssn", "va_eauth_birlsfilenumber": "file_number", "va_eauth_pid": "participant_id",
            "va_eauth_lastName": "last_name", "va_eauth_birthdate": "birth_date"}
    with psycopg.connect(services.source_dsn) as conn:
        for (raw,) in conn.execute("SELECT auth_headers_json FROM form526_submissions"):
            try:
                headers = json.loads(raw)
            except (TypeError, ValueError):
                continue
            for k, kind in keys.items():
                v = str(headers.get(k) or "").strip() if isinstance(headers, dict) else ""
                if len(v) >= 5:  # shorter strings would match unrelated text; real values are longer
                    out[kind].add(v)
        # the direct-deposit account number: printed in full in the package's 21-526EZ, nowhere else
        for (raw,) in conn.execute("SELECT form_json FROM form526_submissions"):
            try:
                deposit = json.loads(raw)["form526"]["form526"]["directDeposit"]
                account = str(deposit.get("accountNumber") or "").strip()
            except (TypeError, ValueError, KeyError, AttributeError):
                continue
            if len(account) >= 6:
                out["bank_account"].add(account)
    return out


def find_pii(text: str, pii: dict[str, set[str]]) -> list[str]:
    hits = []
    for kind, values in pii.items():
        for v in values:
            pattern = rf"(?<![\w]){re.escape(v)}(?![\w])"
            if re.search(pattern, text):
                hits.append(f"{kind}:{'*' * len(v)}")
    return hits


def insert_submission(conn, sid: int, form: Any, auth: Any, *, user_uuid: str | None = None,
                      created_at: Any = None, user_account_id: str | None = None, **columns: Any) -> None:
    """One hand-built ``form526_submissions`` row; by default failed (no claim id, no backup, old enough)."""
    from datetime import datetime

    created = created_at or datetime(2024, 1, 2, 3, 4, 5)
    values = {"id": sid, "user_uuid": user_uuid or f"user-{sid}", "saved_claim_id": 900_000 + sid,
              "created_at": created, "updated_at": created,
              "form_json": form if isinstance(form, str) or form is None else json.dumps(form),
              "auth_headers_json": auth if isinstance(auth, str) or auth is None else json.dumps(auth),
              "submit_endpoint": 0, "user_account_id": user_account_id, **columns}
    names = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    conn.execute(f"INSERT INTO form526_submissions ({names}) VALUES ({marks})", list(values.values()))
