"""Profile one mapped batch in-process: where a delivered package's time goes outside rendering.

Not part of the test suite. Starts a throwaway PostgreSQL and moto S3 (``tools.devservices``) and the evidence
pool's read-only S3, seeds a backlog of ``--n`` failed submissions, runs the whole-run steps up to planning,
then delivers the first ``--batches`` batches through ``deliver_batch`` (the function the mapped task runs)
under cProfile, with real connections. Prints wall and CPU per package and the top functions.

    python tools/bench/batch_profile.py --n 2000 --evidence-share 0.1 --top 40
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools" / "bench"))

from run import EVIDENCE_BUCKET, POOL_DIR, EvidencePool, Moto, seed_source  # noqa: E402

from tools.devservices import DevServices  # noqa: E402


class Timers:
    """Wall and CPU seconds spent inside chosen functions (wrapped in place; calls nest at most once)."""

    def __init__(self) -> None:
        self.totals: dict[str, list[float]] = {}

    def wrap(self, owner: object, name: str, label: str) -> None:
        fn = getattr(owner, name)
        acc = self.totals.setdefault(label, [0.0, 0.0, 0])

        def timed(*a, **kw):
            w, c = time.perf_counter(), time.thread_time()
            try:
                return fn(*a, **kw)
            finally:
                acc[0] += time.perf_counter() - w
                acc[1] += time.thread_time() - c
                acc[2] += 1

        setattr(owner, name, timed)

    def report(self, per: int) -> None:
        for label, (w, c, n) in self.totals.items():
            print(f"  {label:<28} {n:>6} calls  {w / per * 1000:7.2f} ms wall  {c / per * 1000:7.2f} ms CPU"
                  " per package", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="failed submissions to seed")
    ap.add_argument("--evidence-share", type=float, default=0.1)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--batches", type=int, default=1, help="batches to deliver under the profiler")
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--sort", default="cumulative", help="pstats sort key (cumulative, tottime)")
    ap.add_argument("--no-profile", action="store_true", help="time only (the profiler's own cost is large)")
    ap.add_argument("--timers", action="store_true", help="time the batch's parts (no profiler)")
    ap.add_argument("--upload-ahead", type=int, default=2, help="deliver_batch's upload_ahead (0: sequential)")
    args = ap.parse_args()

    import boto3
    import psycopg

    from include.form526 import pipeline
    from include.form526.delivery import ledger
    from include.form526.delivery.batch import BatchSpec, EvidenceSettings, deliver_batch
    from include.form526.delivery.object_store import ObjectStore
    from include.form526.scope import run_key, validate_params
    from include.form526.source.attachments import EvidenceStore

    base = Path(tempfile.mkdtemp(prefix="form526-bench-profile-"))
    with DevServices(base_dir=base) as svc:
        pool = EvidencePool(base, POOL_DIR, 42).start()
        moto = Moto(base).start()  # its own process, as in the benchmark (the in-process one shares our GIL)
        try:
            seeded = seed_source(svc, args.n, 42, args.evidence_share, None)
            print(f"seeded {seeded['rows']} rows in {seeded['seconds']} s", flush=True)
            params = {"batch_size": args.batch_size, "bucket": svc.bucket, "key_prefix": "form526",
                      "tolerated_failure_percent": 100, "dry_run": False, "redeliver": False,
                      "max_submissions": None, "submission_ids": None, "submission_ids_s3_uri": None,
                      "created_after": None, "created_before": None}
            as_of = datetime.now(UTC)
            run = "manual__profile"
            key = run_key(run)
            with psycopg.connect(svc.source_dsn, autocommit=True) as src, \
                    psycopg.connect(svc.ledger_dsn, autocommit=True) as led:
                pipeline.begin_run(led, run_id=run, dag_id="profile", as_of=as_of, params=params,
                                   known_params=params, open_csv=lambda b, k: [])
                scope = validate_params(params, params)
                pipeline.extract(src, led, run_id=run, scope=scope, as_of=as_of)
                pipeline.dedupe(led, run_id=run)
                batches = pipeline.plan(led, run_id=run, run_key_=key, scope=scope)
                delivery = boto3.client("s3", endpoint_url=moto.url, aws_access_key_id="testing",
                                        aws_secret_access_key="testing", region_name="us-east-1")
                delivery.create_bucket(Bucket=svc.bucket)
                s3 = ObjectStore(delivery)
                ev_client = boto3.client("s3", endpoint_url=pool.url, aws_access_key_id="testing",
                                         aws_secret_access_key="testing", region_name="us-east-1")
                evidence = EvidenceSettings(store=EvidenceStore(ev_client, EVIDENCE_BUCKET))
                prof = None if args.no_profile or args.timers else cProfile.Profile()
                timers = Timers()
                if args.timers:
                    from include.form526.delivery import batch as batch_mod
                    from include.form526.delivery import object_store

                    timers.wrap(batch_mod, "_build", "render (build_package)")
                    timers.wrap(batch_mod._Batch, "_gather", "evidence (rows, GET, convert)")
                    timers.wrap(batch_mod, "parse_submission", "parse_submission")
                    timers.wrap(object_store.ObjectStore, "put_file_confirmed", "S3 PUT")
                    timers.wrap(batch_mod.ledger, "record_outcomes", "ledger flush")
                    timers.wrap(batch_mod.ledger, "claim", "ledger claim")
                    timers.wrap(batch_mod, "stream_submissions", "source read (generator set-up)")
                    timers.wrap(batch_mod, "_identity", "manifest identity")
                    timers.wrap(batch_mod.ledger, "extend_claims", "heartbeat")
                delivered = 0
                ids: list[int] = []
                t0, c0 = time.perf_counter(), time.thread_time()
                for b in batches[:args.batches]:
                    spec = BatchSpec(run_id=run, run_key=key, batch_no=int(b["batch_no"]), bucket=b["bucket"],
                                     key_prefix=b["key_prefix"])
                    ids += ledger.batch_ids(led, run, spec.batch_no)
                    if prof:
                        prof.enable()
                    res = deliver_batch(spec, source_conn=src, ledger_conn=led, store=s3, evidence=evidence,
                                        upload_ahead=args.upload_ahead)
                    if prof:
                        prof.disable()
                    delivered += res.uploaded + res.failed
                wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
            print(f"delivered {delivered} packages: {wall / delivered * 1000:.2f} ms wall, "
                  f"{cpu / delivered * 1000:.2f} ms CPU of this thread per package (busy {cpu / wall:.0%})",
                  flush=True)
            if args.timers:
                timers.report(delivered)
            ids_file = base / "ids.json"
            ids_file.write_text(json.dumps(ids))
            subprocess.run([sys.executable, str(ROOT / "tools" / "bench" / "floor.py"), "--dsn", svc.source_dsn,
                            "--ids-file", str(ids_file), "--pool-dir", str(POOL_DIR)], check=True)
            if prof:
                out = io.StringIO()
                pstats.Stats(prof, stream=out).sort_stats(args.sort).print_stats(args.top)
                print(out.getvalue())
        finally:
            moto.stop()
            pool.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
