"""The floor: render and convert the packages of given submissions in ONE process, no S3, no ledger, no Airflow.

Rows, and the ``form_attachments`` rows of their uploads, are read from the source database first (not
timed). Then, per submission in id order, exactly what the mapped batch does between reading a row and
uploading its zip: parse it, convert each upload's evidence file to PDF (``convert_to_pdf``, into a spooled
file) from a *local copy* of the pool file the evidence server would answer for its key (``--pool-dir``;
missing objects count as not found), and ``build_package`` into a spooled file. Prints one JSON object.

``--profile TOP`` adds the top functions of a cProfile pass over the same rows (a second pass, not timed).
``--kms-endpoint`` (encrypted source mode) also times decrypting the same rows through KMS, separately: the
floor itself never decrypts.

    python tools/bench/floor.py --dsn postgresql://... --ids-file ids.json --pool-dir /tmp/pool [--profile 25]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from include.form526.delivery.batch import EvidenceSettings, gather_evidence  # noqa: E402
from include.form526.package.build import PackageError, SourceSubmission, build_package  # noqa: E402
from include.form526.package.evidence import Reason  # noqa: E402
from include.form526.package.submission import parse_submission  # noqa: E402
from include.form526.source.attachments import AttachmentRow, read_attachment_rows  # noqa: E402
from include.form526.source.extraction import SourceRow, stream_submissions  # noqa: E402
from tools.synthetic.pool import PoolFile, choose, load_pool  # noqa: E402

SPOOL_BYTES = 8 * 1024 * 1024  # config.SPOOL_BYTES's default, as the tasks use it


@dataclass
class Pool:
    seed: int
    files: dict[str, list[PoolFile]]
    directory: Path


def load_rows(dsn: str, ids: list[int]) -> tuple[list[SourceSubmission], dict[str, list[AttachmentRow]]]:
    """The submissions (plaintext columns) and the attachment rows of their uploads."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        rows: list[SourceRow] = list(stream_submissions(conn, ids))
        subs = [SourceSubmission(id=r.id, created_at=r.created_at, form_json=r.form_json,
                                 auth_headers_json=r.auth_headers_json) for r in rows]
        guids: list[str] = []
        for sub in subs:
            with contextlib.suppress(Exception):
                guids += [u.confirmation_code for u in parse_submission(sub).uploads if u.is_valid]
        with conn.transaction():
            attachments = read_attachment_rows(conn, guids)
    return subs, attachments


class PoolStore:
    """The evidence store as the floor sees it: the pool file the evidence server would answer for a key, read
    from its local copy (``gather_evidence`` calls ``open`` exactly as it calls ``EvidenceStore.open``)."""

    def __init__(self, pool: Pool, stats: Counter[str]) -> None:
        self.pool, self.stats = pool, stats

    def open(self, key: str, max_bytes: int) -> tuple[IO[bytes] | None, Reason | None]:
        _, guid, filename = key.split("/", 2)
        pf = choose(self.pool.files, self.pool.seed, guid, filename)
        if pf is None:
            return None, Reason.NOT_FOUND
        if pf.size > max_bytes:
            return None, Reason.TOO_LARGE
        self.stats["evidence_files"] += 1
        self.stats["evidence_bytes"] += pf.size
        return open(self.pool.directory / pf.name, "rb"), None


def render_all(subs: list[SourceSubmission], attachments: dict[str, list[AttachmentRow]],
               pool: Pool | None) -> Counter[str]:
    """Build every package as the batch does (evidence included); counts of what happened."""
    stats: Counter[str] = Counter()
    settings = EvidenceSettings(spool_bytes=SPOOL_BYTES)
    store = PoolStore(pool, stats) if pool is not None else None
    for sub in subs:
        with contextlib.ExitStack() as files:
            try:
                parsed = parse_submission(sub)
                evidence = gather_evidence(parsed.uploads, attachments, settings, files, store)
                out = files.enter_context(tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES))
                pkg = build_package(sub, evidence, out=out, parsed=parsed)
            except PackageError:
                stats["package_errors"] += 1
                continue
            stats["built"] += 1
            stats["bytes"] += pkg.size
            stats["attachments"] += sum(1 for e in evidence if e.reason is None)
    return stats


def decrypt_timing(dsn: str, ids: list[int], kms_endpoint: str) -> dict[str, float | int]:
    """Wall time and KMS calls of reading + decrypting the rows through KMS (encrypted mode), per submission."""
    import boto3
    import psycopg

    from include.form526.source.decryption import RowDecryptor
    from include.form526.source.lockbox import boto3_kms_decrypt

    client = boto3.client("kms", endpoint_url=kms_endpoint, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    with psycopg.connect(dsn, autocommit=True) as conn:
        t = time.perf_counter()
        plain = sum(1 for _ in stream_submissions(conn, ids))
        read_s = time.perf_counter() - t
        decryptor = RowDecryptor(boto3_kms_decrypt(client))
        t, cpu = time.perf_counter(), time.process_time()
        errors = sum(1 for r in stream_submissions(conn, ids, decryptor) if r.error)
        wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    n = max(1, plain)
    return {"submissions": plain, "decrypt_errors": errors, "kms_calls": decryptor.kms_calls,
            "kms_calls_per_submission": round(decryptor.kms_calls / n, 3),
            "read_plaintext_ms_per_submission": round(1000 * read_s / n, 3),
            "read_decrypt_ms_per_submission": round(1000 * wall / n, 3),
            "decrypt_ms_per_submission": round(1000 * (wall - read_s) / n, 3),
            "decrypt_client_cpu_ms_per_submission": round(1000 * cpu / n, 3)}


def profile_top(subs: list[SourceSubmission], attachments: dict[str, list[AttachmentRow]], pool: Pool | None,
                top: int) -> str:
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.runcall(render_all, subs, attachments, pool)
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", required=True, help="source database DSN")
    parser.add_argument("--ids-file", type=Path, required=True, help="JSON list of submission ids")
    parser.add_argument("--pool-dir", type=Path, default=None,
                        help="the evidence pool (tools.synthetic.pool write); without it no evidence is converted")
    parser.add_argument("--kms-endpoint", default=None, help="also time decryption through this KMS endpoint")
    parser.add_argument("--profile", type=int, default=0, metavar="TOP", help="also print a cProfile top TOP")
    args = parser.parse_args()
    ids = json.loads(args.ids_file.read_text())
    t = time.perf_counter()
    subs, attachments = load_rows(args.dsn, ids)
    read_s = time.perf_counter() - t
    pool = None
    if args.pool_dir:
        seed, files, _ = load_pool(args.pool_dir)
        pool = Pool(seed, files, args.pool_dir)
    load_before = os.getloadavg()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    stats = render_all(subs, attachments, pool)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    n = max(1, len(subs))
    result = {
        "submissions": len(subs), "built": stats["built"], "package_errors": stats["package_errors"],
        "read_seconds": round(read_s, 2), "seconds": round(wall, 3), "cpu_seconds": round(cpu, 3),
        "ms_per_package": round(1000 * wall / n, 3), "cpu_ms_per_package": round(1000 * cpu / n, 3),
        "packages_per_second_per_core": round(len(subs) / wall, 2) if wall else None,
        "avg_package_kib": round(stats["bytes"] / max(1, stats["built"]) / 1024, 1),
        "evidence": {"converted_files": stats["evidence_files"], "source_bytes": stats["evidence_bytes"],
                     "included": stats["attachments"], "pool_dir": str(args.pool_dir) if args.pool_dir else None},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "loadavg_before": [round(x, 2) for x in load_before], "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
    if args.kms_endpoint:
        result["decrypt"] = decrypt_timing(args.dsn, ids, args.kms_endpoint)
    if args.profile:
        result["profile"] = profile_top(subs, attachments, pool, args.profile)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
