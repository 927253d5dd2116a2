"""The main job on the embedded defaults: throwaway PostgreSQL + S3, seeded data, one real DAG run.

Starts the dev services, seeds a synthetic vets-api database, runs `airflow dags test
form526_backlog_resubmission` (the real DAG, tasks, hooks and connections), prints the run's summary,
and copies the report and one sample package to ``out/demo/`` before everything stops.

    python tools/demo.py [--n 2000] [--seed 42] [--batch-size 100] [--conf '{"dry_run": true}']
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.airflow_local import create_pools, project_pools  # noqa: E402
from tools.devservices import DevServiceError, DevServices  # noqa: E402
from tools.synthetic import generator as synthetic  # noqa: E402

DAG_ID = "form526_backlog_resubmission"


def airflow_env(home: Path) -> dict[str, str]:
    env = os.environ.copy()
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(home / "logs"),
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p),
    )
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="submissions to seed (default 2000)")
    parser.add_argument("--seed", type=int, default=42, help="random seed of the generator")
    parser.add_argument("--batch-size", type=int, default=100, help="submissions per mapped batch")
    parser.add_argument("--conf", default="{}", help="extra DAG run conf as JSON")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "demo", help="where reports are copied")
    args = parser.parse_args()
    if args.n < 1:
        parser.error("--n must be positive")
    try:
        extra = json.loads(args.conf)
    except ValueError:
        parser.error("--conf is not valid JSON")

    home = ROOT / ".airflow"
    home.mkdir(exist_ok=True)
    env = airflow_env(home)
    log_path = args.out / "airflow-run.log"
    args.out.mkdir(parents=True, exist_ok=True)

    print("1/4 starting PostgreSQL and S3 (moto) on 127.0.0.1 ...", flush=True)
    try:
        svc = DevServices().start()
    except DevServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        env.update(svc.airflow_connections())
        import psycopg

        print(f"2/4 seeding {args.n} synthetic submissions (seed {args.seed}) ...", flush=True)
        with psycopg.connect(svc.source_dsn) as conn:
            summary = synthetic.seed(conn, args.n, seed=args.seed)
            evidence = synthetic.put_evidence(svc.boto3_client(), svc.evidence_bucket, conn, seed=args.seed)
        print(f"    {summary.per_state}", flush=True)
        print(f"    evidence objects in s3://{svc.evidence_bucket}/: {evidence.uploaded}", flush=True)

        print(f"3/4 migrating Airflow's metadata database; pools {', '.join(project_pools())} ...", flush=True)
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        create_pools(env, home)  # as every deployment must: the tasks reading vets-api run in this pool

        conf = {"batch_size": args.batch_size, "tolerated_failure_percent": 10, **extra}
        print(f"4/4 airflow dags test {DAG_ID} -c '{json.dumps(conf)}'  (log: {log_path})", flush=True)
        t0 = time.monotonic()
        with open(log_path, "w") as fh:
            rc = subprocess.run([sys.executable, "-m", "airflow", "dags", "test", DAG_ID, "-c", json.dumps(conf)],
                                env=env, stdout=fh, stderr=subprocess.STDOUT).returncode
        elapsed = time.monotonic() - t0
        rc = report(svc, args.out, rc, elapsed)
        triage(svc, env, args.out)
        return rc
    finally:
        svc.stop()


def report(svc: DevServices, out: Path, rc: int, elapsed: float) -> int:
    s3 = svc.boto3_client()
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=svc.bucket)
            for o in page.get("Contents", [])]
    summaries = sorted(k for k in keys if k.endswith("/summary.json"))
    if not summaries:
        print(f"the run wrote no report (exit {rc}); see {out / 'airflow-run.log'}", file=sys.stderr)
        return 1
    prefix = summaries[-1].rsplit("/", 1)[0]
    for name in ("summary.json", "reconciliation.csv", "remaining.csv"):
        (out / name).write_bytes(s3.get_object(Bucket=svc.bucket, Key=f"{prefix}/{name}")["Body"].read())
    packages = sorted(k for k in keys if k.endswith(".zip"))
    if packages:
        (out / "sample-package.zip").write_bytes(s3.get_object(Bucket=svc.bucket, Key=packages[0])["Body"].read())
    summary = json.loads((out / "summary.json").read_text())
    print()
    print(f"Run {summary['run_id']} finished in {elapsed:.1f} s (airflow exit code {rc})")
    print(f"{'status':<28}{'count':>8}")
    for status, count in summary["by_status"].items():
        print(f"{status:<28}{count:>8}")
    if summary["by_error_code"]:
        print("errors: " + ", ".join(f"{k}={v}" for k, v in summary["by_error_code"].items()))
    print(f"evidence files included: {summary.get('attachments', 0)}; not included: "
          + (", ".join(f"{k}={v}" for k, v in summary.get("missing_evidence", {}).items()) or "none"))
    print(f"batches: {summary['batches']}  failure share: {summary['failure_percent']}%  "
          f"remaining backlog: {summary['remaining_backlog']}")
    print(f"objects written to s3://{svc.bucket}/: {len(keys)} ({len(packages)} packages)")
    print(f"report on S3:   s3://{svc.bucket}/{prefix}/reconciliation.csv")
    print(f"copied locally: {out}/ (summary.json, reconciliation.csv, remaining.csv, sample-package.zip)")
    return rc


def triage(svc: DevServices, env: dict[str, str], out: Path) -> None:
    """Run the daily triage over the last 30 days and copy its report and chart."""
    import datetime as dt

    end = dt.date.today() + dt.timedelta(days=1)
    conf = {"window_start": (end - dt.timedelta(days=30)).isoformat(), "window_end": end.isoformat(),
            "alert_threshold": None}
    print(f"\ntriage: airflow dags test form526_failure_triage -c '{json.dumps(conf)}'", flush=True)
    with open(out / "airflow-triage.log", "w") as fh:
        rc = subprocess.run([sys.executable, "-m", "airflow", "dags", "test", "form526_failure_triage", "-c",
                             json.dumps(conf)], env=env, stdout=fh, stderr=subprocess.STDOUT).returncode
    s3 = svc.boto3_client()
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=svc.bucket, Prefix="form526/triage/")
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    if not keys:
        print(f"triage wrote no report (exit {rc}); see {out / 'airflow-triage.log'}")
        return
    (out / "triage").mkdir(exist_ok=True)
    for key in keys:
        (out / "triage" / key.rsplit("/", 1)[1]).write_bytes(s3.get_object(Bucket=svc.bucket, Key=key)["Body"].read())
    summary = json.loads((out / "triage" / "summary.json").read_text())
    new, backlog = summary["new_failures"], summary["backlog"]
    print(f"triage: {new['submissions']} submissions became failed in the window ({new['veterans']} veterans, "
          f"{new['groups']} causes); backlog still to deliver: {backlog['remaining']}")
    for g in new["top"][:5]:
        print(f"  {g['submissions']:>4}  {g['path']:<8} {g['error_key'][:90]}")
    print(f"copied to {out / 'triage'}/ (triage.csv, summary.json, trend.png)")


if __name__ == "__main__":
    sys.exit(main())
