"""``python -m tools.synthetic schema|seed``: the generator's command line.

``schema --dsn DSN``; ``seed --dsn DSN (--n N | --failed N [--evidence-share 0.4] [--success-share 0.2])
[--seed 42] [--as-of ISO] [--batch-rows 5000]
[--evidence-bucket NAME [--s3-endpoint URL]]``. Prints counts only (never row data) on stdout as JSON;
progress and errors go to stderr, one line each.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NoReturn

import psycopg

from include.form526.source.selection import normalize_as_of
from tools.synthetic.backlog import DEFAULT_EVIDENCE_SHARE, DEFAULT_SUCCESS_SHARE, seed_backlog
from tools.synthetic.evidence import put_evidence
from tools.synthetic.seeding import DEFAULT_BATCH_ROWS, seed
from tools.synthetic.writer import create_schema


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def _iso_datetime(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO date/time such as 2025-01-31T12:00:00, got {text!r}") from None
    return normalize_as_of(value)


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are a single line on stderr (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m tools.synthetic",
                     description="Synthetic vets-api Form 526 source data with ground-truth labels.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_schema = sub.add_parser("schema", help="create the source tables and synthetic labels tables")
    p_schema.add_argument("--dsn", required=True, help="libpq connection string of the target DB")
    p_seed = sub.add_parser("seed", help="create the schema if missing and insert N submissions")
    p_seed.add_argument("--dsn", required=True, help="libpq connection string of the target DB")
    size = p_seed.add_mutually_exclusive_group(required=True)
    size.add_argument("--n", type=_positive_int, help="number of submissions (the usual mix: ~5.5%% failed)")
    size.add_argument("--failed", type=_positive_int,
                      help="backlog mode: exactly this many failed submissions, duplicates and a minority of "
                           "context rows, evidence from the pool (tools/synthetic/backlog.py)")
    p_seed.add_argument("--evidence-share", type=_share, default=DEFAULT_EVIDENCE_SHARE,
                        help=f"backlog mode: share of submissions with uploads (default {DEFAULT_EVIDENCE_SHARE})")
    p_seed.add_argument("--success-share", type=_share, default=DEFAULT_SUCCESS_SHARE,
                        help="backlog mode: context (non-failed) rows per failed one "
                             f"(default {DEFAULT_SUCCESS_SHARE})")
    p_seed.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p_seed.add_argument("--as-of", type=_iso_datetime, default=None,
                        help="anchor time, ISO 8601 (default: now, UTC); naive means UTC")
    p_seed.add_argument("--batch-rows", type=_positive_int, default=DEFAULT_BATCH_ROWS,
                        help=f"submissions per COPY batch (default {DEFAULT_BATCH_ROWS})")
    p_seed.add_argument("--evidence-bucket", default=None,
                        help="also upload the supporting-evidence objects to this S3 bucket")
    p_seed.add_argument("--s3-endpoint", default=None,
                        help="S3 endpoint URL for --evidence-bucket (default: AWS; credentials from the env)")
    return parser


def _upload_evidence(conn: psycopg.Connection, bucket: str, endpoint: str | None, seed_value: int) -> dict[str, Any]:
    import boto3
    from botocore.exceptions import ClientError

    s3 = boto3.client("s3", endpoint_url=endpoint)
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        s3.create_bucket(Bucket=bucket)
    summary = put_evidence(s3, bucket, conn, seed=seed_value)
    return {"uploaded": summary.uploaded, "missing": len(summary.missing), "corrupt": len(summary.corrupt)}


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    if args.command == "seed" and args.s3_endpoint and not args.evidence_bucket:
        print("error: --s3-endpoint needs --evidence-bucket", file=sys.stderr)
        return 2
    try:
        with psycopg.connect(args.dsn) as conn:
            if args.command == "schema":
                create_schema(conn)
                conn.commit()
                print("schema ready", file=sys.stderr)
                return 0

            def report(done: int, total: int) -> None:
                print(f"seeded {done}/{total} submissions", file=sys.stderr, flush=True)

            if args.failed:
                summary = seed_backlog(conn, args.failed, seed=args.seed, as_of=args.as_of, progress=report,
                                       batch_rows=args.batch_rows, evidence_share=args.evidence_share,
                                       success_share=args.success_share)
            else:
                summary = seed(conn, args.n, seed=args.seed, as_of=args.as_of, progress=report,
                               batch_rows=args.batch_rows)
            conn.commit()
            out = summary.as_dict()
            if args.evidence_bucket:
                out["evidence"] = _upload_evidence(conn, args.evidence_bucket, args.s3_endpoint, args.seed)
                conn.commit()
                print(f"evidence: {out['evidence']['uploaded']} objects uploaded", file=sys.stderr)
    except psycopg.OperationalError as exc:
        # libpq messages name host/port/user but never the password or any row data
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else "connection failed"
        print(f"error: database unavailable: {first_line}", file=sys.stderr)
        return 1
    except psycopg.Error as exc:
        print(f"error: database error ({type(exc).__name__}); nothing was committed", file=sys.stderr)
        return 1
    except Exception as exc:  # boto3/botocore: one line, class name only (messages may name endpoints)
        if type(exc).__module__.split(".")[0] not in ("botocore", "boto3"):
            raise
        print(f"error: evidence upload failed ({type(exc).__name__}); the seeded rows were committed",
              file=sys.stderr)
        return 1
    print(json.dumps(out, indent=2))
    print(f"done: {summary.n} submissions in {summary.elapsed_seconds:.1f}s, "
          f"failed share {summary.failed_share:.2%}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
