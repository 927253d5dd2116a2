"""Peak memory of the backlog run's whole-run steps (extract, dedupe, plan, reconcile), in one process.

Not part of the test suite. Seeds a scratch source database with the synthetic generator (kept in
``--data-dir`` for reuse), then runs the step functions of ``include.form526.pipeline`` in-process on a fresh
ledger and an empty bucket. Delivery is simulated (claim, a tiny object per submission, record the outcome:
the ledger API the real batch uses) so reconcile has a run's worth of uploads to verify without rendering
packages. Each measured step runs in a fresh process (spawned, with the same imports a task has); its figure is
that process's peak RSS (``VmHWM``), next to its RSS just before the step.

    python tools/bench/steps_memory.py --n 10000 --n 50000 --data-dir /tmp/form526-steps-mem
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FAILED_SHARE = 0.055  # the generator's share of failed submissions; 12% more covers the duplicates


def _status(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def _step(name: str, env: dict[str, Any], queue) -> None:
    """In a fresh process: connect, run one pipeline step, report its result and this process's memory."""
    import psycopg

    from include.form526 import pipeline
    from include.form526.delivery.object_store import ObjectStore
    from include.form526.scope import validate_params
    from tools.devservices import DevServices  # noqa: F401  (the same imports as the parent: a fair baseline)

    scope = validate_params(env["params"], env["params"])
    as_of = datetime.fromisoformat(env["as_of"])
    run, key = env["run"], env["run_key"]
    with psycopg.connect(env["source_dsn"], autocommit=True) as src, \
            psycopg.connect(env["ledger_dsn"], autocommit=True) as led:
        import boto3

        store = ObjectStore(boto3.client("s3", endpoint_url=env["s3_endpoint"], aws_access_key_id="testing",
                                         aws_secret_access_key="testing", region_name="us-east-1"))
        steps = {
            "extract": lambda: pipeline.extract(src, led, run_id=run, scope=scope, as_of=as_of),
            "dedupe": lambda: pipeline.dedupe(led, run_id=run),
            "plan": lambda: pipeline.plan(led, run_id=run, run_key_=key, scope=scope),
            "verify": lambda: pipeline.verify(led, store, run_id=run),
            "reconcile": lambda: pipeline.reconcile(src, led, store, run_id=run, run_key_=key, scope=scope,
                                                    as_of=as_of),
        }
        before = _status("VmRSS")
        t = time.perf_counter()
        result = steps[name]()
        queue.put({"result": result, "seconds": round(time.perf_counter() - t, 2),
                   "rss_before_mb": round(before, 1), "peak_mb": round(_status("VmHWM"), 1)})


def measured(name: str, out: dict[str, Any], env: dict[str, Any]) -> Any:
    """Run one step in a fresh (spawned) process; record its wall time and peak RSS."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_step, args=(name, env, queue))
    proc.start()
    got = queue.get()
    proc.join()
    result = got.pop("result")
    out[name] = got
    print(f"  {name:<10} {got}", flush=True)
    return result


def simulate_delivery(svc, batches: list[dict[str, Any]], run_id: str, threads: int = 8) -> int:
    """Claim each batch, put a tiny object per submission, record it uploaded (no packages rendered)."""
    import psycopg

    from include.form526.delivery import ledger
    from include.form526.delivery.object_store import md5_hex

    client = svc.boto3_client()

    def put(key: str, body: bytes) -> None:
        client.put_object(Bucket=svc.bucket, Key=key, Body=body)

    n = 0
    with psycopg.connect(svc.ledger_dsn, autocommit=True) as led, ThreadPoolExecutor(threads) as pool:
        for b in batches:
            ids = ledger.batch_ids(led, run_id, b["batch_no"])
            worker = f"{run_id}/batch-{b['batch_id']}"
            claims = ledger.claim(led, ids=ids, worker=worker, run_id=run_id, batch_id=b["batch_id"],
                                  bucket=b["bucket"],
                                  key_prefix=f"{b['key_prefix']}/deliveries/{b['run_key']}/batch-{b['batch_id']}/",
                                  ttl_minutes=30, redeliver=False)
            bodies = {sid: f"package {sid}".encode() for sid in claims}
            list(pool.map(put, [c.key for c in claims.values()], [bodies[c.submission_id] for c in claims.values()]))
            ledger.record_outcomes(led, worker, [
                ledger.Uploaded(sid, hashlib.sha256(body).hexdigest(), len(body), md5_hex(body))
                for sid, body in bodies.items()], [])
            n += len(claims)
    return n


def scenario(svc, n: int, seed: int, data_dir: Path) -> dict[str, Any]:
    import psycopg

    from include.form526 import pipeline
    from include.form526.scope import run_key
    from tools.devservices import create_database
    from tools.synthetic import generator as synthetic

    rows = math.ceil(n / FAILED_SHARE * 1.12)
    marker = data_dir / "seeded.json"  # what the source database holds now
    if not marker.exists() or json.loads(marker.read_text()).get("rows_seed") != [rows, seed]:
        create_database(svc.server_dsn, svc.source_db, drop_first=True)
        t = time.perf_counter()
        with psycopg.connect(svc.source_dsn) as conn:
            synthetic.seed(conn, rows, seed=seed)
        marker.write_text(json.dumps({"rows_seed": [rows, seed], "seconds": round(time.perf_counter() - t, 1)}))
    create_database(svc.server_dsn, svc.ledger_db, drop_first=True)
    s3 = svc.boto3_client()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=svc.bucket):
        for o in page.get("Contents", []):
            s3.delete_object(Bucket=svc.bucket, Key=o["Key"])

    params = {"batch_size": 1000, "bucket": svc.bucket, "key_prefix": "form526", "tolerated_failure_percent": 100,
              "dry_run": False, "redeliver": False, "max_submissions": n, "submission_ids": None,
              "submission_ids_s3_uri": None, "created_after": None, "created_before": None}
    as_of = datetime.now(UTC)
    run = f"manual__steps_{n}"
    env = {"params": params, "as_of": as_of.isoformat(), "run": run, "run_key": run_key(run),
           "source_dsn": svc.source_dsn, "ledger_dsn": svc.ledger_dsn, "s3_endpoint": svc.s3_endpoint}
    out: dict[str, Any] = {"n": n, "seeded_rows": rows}
    print(f"N = {n} ({rows} seeded rows)", flush=True)
    with psycopg.connect(svc.ledger_dsn, autocommit=True) as led:
        pipeline.begin_run(led, run_id=run, dag_id="steps_memory", as_of=as_of, params=params, known_params=params,
                           open_csv=lambda b, k: [])
    out["extracted"] = measured("extract", out, env)
    out["deduped"] = measured("dedupe", out, env)
    batches = measured("plan", out, env)
    out["delivered"] = simulate_delivery(svc, batches, run)
    measured("verify", out, env)  # reconcile's first pass alone (reconcile repeats it)
    summary = measured("reconcile", out, env)
    out["by_status"] = summary["by_status"]
    out["remaining_backlog"] = summary["remaining_backlog"]
    print(f"  {out['deduped']} delivered={out['delivered']} {out['by_status']} "
          f"remaining={out['remaining_backlog']}", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, action="append", help="failed submissions to deliver (repeatable)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--data-dir", type=Path, required=True, help="PostgreSQL data kept here for reuse")
    ap.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = ap.parse_args()

    from tools.devservices import DevServices

    args.data_dir.mkdir(parents=True, exist_ok=True)
    results = []
    with DevServices(base_dir=args.data_dir.resolve(), fresh_databases=False) as svc:
        for n in args.n or [10_000]:
            results.append(scenario(svc, n, args.seed, args.data_dir))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
