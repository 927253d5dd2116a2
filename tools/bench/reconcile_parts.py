"""Where a run's reconcile time goes apart from S3: the ledger and source reads it streams, timed in-process.

Not part of the test suite. Run after a benchmark kept its PostgreSQL (``--data-dir``): reads the newest run
in that ledger and times, each in its own pass and without S3, (1) what verify reads (the run's uploaded rows
in key order, made into report rows), (2) the reconciliation rows written as CSV into a null sink, (3) the
remaining backlog (the source's failed ids, chunk by chunk against the ledger) as CSV. The difference between
the reconcile task's duration and their sum is the S3 side: listing each batch folder and writing the reports.

    python tools/bench/reconcile_parts.py --data-dir /tmp/form526-bench-150k
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


class _Null:
    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self.bytes += len(data)
        return len(data)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, required=True, help="the benchmark's kept data directory")
    args = ap.parse_args()

    import psycopg

    from include.form526 import config, pipeline
    from include.form526.delivery import ledger
    from include.form526.delivery.report import REMAINING_HEADER, REPORT_COLUMNS, CsvOut
    from tools.devservices import DevServices

    out: dict[str, object] = {}
    with DevServices(base_dir=(args.data_dir / "svc").resolve(), fresh_databases=False) as svc, \
            psycopg.connect(svc.source_dsn, autocommit=True) as src, \
            psycopg.connect(svc.ledger_dsn, autocommit=True) as led:
        run_id, as_of, params = led.execute(
            "SELECT run_id, as_of, params FROM form526_runs ORDER BY started_at DESC LIMIT 1").fetchone()
        out["run_id"] = run_id

        def timed(name: str, fn) -> None:
            w, c = time.perf_counter(), time.process_time()
            n = fn()
            out[name] = {"rows": n, "wall_s": round(time.perf_counter() - w, 2),
                         "cpu_s": round(time.process_time() - c, 2)}
            print(f"  {name:<24} {out[name]}", flush=True)

        def verify_reads() -> int:
            with contextlib.closing(ledger.uploaded_items(led, run_id, chunk_size=pipeline.CHUNK_SIZE)) as items:
                return sum(1 for item in items if pipeline.final_row(item, run_id))

        def report_rows() -> int:
            csv_out = CsvOut(_Null(), REPORT_COLUMNS)
            with contextlib.closing(ledger.report_items(led, run_id, chunk_size=pipeline.CHUNK_SIZE)) as items:
                for item in items:
                    csv_out.row(pipeline.final_row(item, run_id).csv_row())
            return csv_out.rows

        def remaining() -> int:
            return pipeline.write_remaining(src, led, CsvOut(_Null(), REMAINING_HEADER),
                                            as_of=as_of,
                                            pending_window_days=config.PENDING_WINDOW_DAYS,
                                            include_email_notified=bool((params or {}).get("include_email_notified")))

        timed("verify: ledger reads", verify_reads)
        timed("reconciliation rows", report_rows)
        timed("remaining backlog", remaining)
    print(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
