"""The render floor: build the packages of given submissions in ONE process, no S3, no ledger.

Rows are read from the source database first (not timed); then ``include.package.build_package``
runs on each, in id order. Prints one JSON object. ``--profile`` adds the top functions of a
cProfile run over the same rows (a second pass, not timed).

    python tools/bench/floor.py --dsn postgresql://... --ids-file ids.json [--profile 25]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from include.form526.package.build import PackageError, SourceSubmission, build_package  # noqa: E402
from include.form526.source.extraction import SourceRow, stream_submissions  # noqa: E402


def load_rows(dsn: str, ids: list[int]) -> list[SourceSubmission]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        rows: list[SourceRow] = list(stream_submissions(conn, ids))
    return [SourceSubmission(id=r.id, created_at=r.created_at, form_json=r.form_json,
                             auth_headers_json=r.auth_headers_json) for r in rows]


def render_all(subs: list[SourceSubmission]) -> tuple[int, int, int]:
    ok = failed = size = 0
    for sub in subs:
        try:
            size += len(build_package(sub).data)
            ok += 1
        except PackageError:
            failed += 1
    return ok, failed, size


def profile_top(subs: list[SourceSubmission], top: int) -> str:
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.runcall(render_all, subs)
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", required=True, help="source database DSN")
    parser.add_argument("--ids-file", type=Path, required=True, help="JSON list of submission ids")
    parser.add_argument("--profile", type=int, default=0, metavar="TOP", help="also print a cProfile top TOP")
    args = parser.parse_args()
    ids = json.loads(args.ids_file.read_text())
    t = time.perf_counter()
    subs = load_rows(args.dsn, ids)
    read_s = time.perf_counter() - t
    load_before = os.getloadavg()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    ok, failed, size = render_all(subs)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    result = {
        "submissions": len(subs), "built": ok, "package_errors": failed, "read_seconds": round(read_s, 2),
        "seconds": round(wall, 3), "cpu_seconds": round(cpu, 3),
        "ms_per_package": round(1000 * wall / max(1, len(subs)), 3),
        "packages_per_second_per_core": round(len(subs) / wall, 2) if wall else None,
        "avg_package_kib": round(size / max(1, ok) / 1024, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "loadavg_before": [round(x, 2) for x in load_before], "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
    if args.profile:
        result["profile"] = profile_top(subs, args.profile)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
