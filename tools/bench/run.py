"""Benchmark of the Form 526 backlog pipeline on one machine: the floor vs the full DAG under a real scheduler.

For each N it seeds a backlog (``tools.synthetic.seed_backlog``: exactly N failed submissions, duplicates,
a minority of context rows, evidence from the pool), runs the real DAG under Airflow (API server + scheduler +
DAG processor, LocalExecutor, PostgreSQL metadata DB, parallelism 3 by default) against a moto S3 server for
the packages and the pool's read-only S3 for the evidence (and, in encrypted source mode, a moto KMS server),
once per batch size, then builds the same packages in one plain process (the floor). Prints a table, writes
JSON to tools/bench/results/.

    python tools/bench/run.py --n 10000                              # N failed submissions (before dedup)
    python tools/bench/run.py --n 10000 --source-mode encrypted
    python tools/bench/run.py --n 1000 --n 10000 --evidence-share 0.1 --label linearity
    python tools/bench/run.py seed --n 150000 --evidence-share 0.1 --data-dir /tmp/form526-bench-150k
    python tools/bench/run.py table --markdown tools/bench/results/*.json          # the README's tables
    python tools/bench/run.py table --markdown --readme tools/bench/README.md tools/bench/results/*.json

See tools/bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools" / "bench"))

from airflow_local import DAG_ID, LocalAirflow, Proc, parse_ts, start_proc, stop_procs  # noqa: E402
from sampler import Sampler  # noqa: E402

from include.form526 import config  # noqa: E402
from tools.devservices import DevServices, aws_conn_json, create_database, free_port  # noqa: E402

RESULTS = ROOT / "tools" / "bench" / "results"
FORMAT = 2  # results files of this layout; older ones (the "historic shape" era) are not tabulated
EVIDENCE_BUCKET = "vets-api-evidence-pool"
POOL_DIR = Path("/tmp/form526-bench-pool")

# AWS list prices used for the cost estimate (assumption: S3 Standard and KMS, us-east-1, as published on
# aws.amazon.com/s3/pricing and /kms/pricing in 2025; check before quoting).
PRICES = {"date": "2025 list prices, us-east-1 (assumption)", "put_per_1000": 0.005, "get_per_1000": 0.0004,
          "list_per_1000": 0.005, "storage_gb_month": 0.023, "kms_per_10000": 0.03}
PIPELINE_GROUPS = ("scheduler+tasks", "api-server", "dag-processor", "postgres")
EXTERNAL_GROUPS = ("moto", "evidence-s3", "kms")  # stand-ins for AWS services: not the pipeline's CPU


def log(msg: str) -> None:
    print(f"[{datetime.now(UTC).strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# --------------------------------------------------------------------------- services


def _wait_port(port: int, proc: Proc, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        if not proc.alive:
            break
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not start: {proc.tail()}")


class Moto:
    """moto_server in its own process group; restartable (empty) on the same port. Counts requests from its log."""

    def __init__(self, base: Path, name: str = "moto", spill_kib: int = 0):
        self.base = base
        self.name = name
        self.spill_kib = spill_kib
        self.port = free_port()
        self.proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.base / "process-logs" / f"{self.name}.log"

    def start(self) -> Moto:
        exe = str(Path(sys.executable).parent / "moto_server")
        env = dict(os.environ)
        if self.spill_kib:  # objects above this size go to an unlinked temporary file (one open fd each)
            env["MOTO_S3_DEFAULT_KEY_BUFFER_SIZE"] = str(self.spill_kib * 1024)
        self.proc = start_proc(self.name, [exe, "-H", "127.0.0.1", "-p", str(self.port)], env=env,
                               cwd=self.base, log_dir=self.base / "process-logs")
        _wait_port(self.port, self.proc, self.name)
        return self

    def stop(self) -> None:
        if self.proc:
            stop_procs([self.proc], grace=5)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def open_files(self) -> int:
        """Open file descriptors of the server (spilled objects hold one each)."""
        with contextlib.suppress(OSError):
            return len(os.listdir(f"/proc/{self.proc.popen.pid}/fd")) if self.proc else 0
        return 0

    def log_offset(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def requests_since(self, offset: int) -> dict[str, int]:
        """Requests answered since ``offset`` of the access log, by S3 operation."""
        with open(self.log_path, "rb") as fh:
            fh.seek(offset)
            text = fh.read().decode(errors="replace")
        out: dict[str, int] = {}
        for method, path in re.findall(r'"(?:\x1b\[[0-9;]*m)*(GET|PUT|POST|HEAD|DELETE) (\S+) HTTP', text):
            out[s3_operation(method, path)] = out.get(s3_operation(method, path), 0) + 1
        return out


def s3_operation(method: str, path: str) -> str:
    """The S3 (or KMS) operation of a path-style request line."""
    bucket_only = path.split("?")[0].strip("/").count("/") == 0
    if method == "POST" and path.split("?")[0] == "/":
        return "kms"
    if method == "PUT" and "partNumber=" in path:
        return "upload_part"
    if method == "POST" and "uploads" in path and "uploadId=" not in path:
        return "create_multipart"
    if method == "POST" and "uploadId=" in path:
        return "complete_multipart"
    if method == "GET" and bucket_only:
        return "list"
    return {"PUT": "put" if not bucket_only else "create_bucket", "GET": "get", "HEAD": "head",
            "DELETE": "delete", "POST": "post"}[method]


class EvidencePool:
    """The pool's read-only S3 (``python -m tools.synthetic.pool serve``) in its own process group."""

    def __init__(self, base: Path, pool_dir: Path, seed: int):
        self.base, self.pool_dir, self.seed = base, pool_dir, seed
        self.port = free_port()
        self.proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> EvidencePool:
        from tools.synthetic.pool import write_pool

        write_pool(self.pool_dir, self.seed)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = start_proc("evidence-s3", [sys.executable, "-m", "tools.synthetic.pool", "serve", "--dir",
                                               str(self.pool_dir), "--seed", str(self.seed), "--port", str(self.port),
                                               "--bucket", EVIDENCE_BUCKET],
                               env=env, cwd=self.base, log_dir=self.base / "process-logs")
        _wait_port(self.port, self.proc, "evidence-s3")
        return self

    def stats(self) -> dict[str, int]:
        import requests

        return requests.get(f"{self.url}/_pool/stats", timeout=10).json()

    def stop(self) -> None:
        if self.proc:
            stop_procs([self.proc], grace=5)
            self.proc = None


def postmaster_pid(svc: DevServices) -> int:
    return int((svc.base_dir / "pgdata" / "postmaster.pid").read_text().split()[0])


# --------------------------------------------------------------------------- seeding


def seed_source(svc: DevServices, n_failed: int, seed: int, evidence_share: float, kms: tuple[Any, str] | None,
                marker: Path | None = None) -> dict[str, Any]:
    """Seed a backlog of ``n_failed`` failed submissions into a fresh source database; with ``marker``
    (``--data-dir``), reuse the database when the marker says it holds exactly that seeding (plaintext only:
    the KMS key of an encrypted seeding dies with its server)."""
    import psycopg

    from tools.synthetic import generator as synthetic

    wanted = {"n_failed": n_failed, "seed": seed, "evidence_share": evidence_share,
              "source_mode": "encrypted" if kms else "plaintext"}
    if marker is not None and marker.exists() and kms is None:
        done = json.loads(marker.read_text())
        if all(done.get(k) == v for k, v in wanted.items()):
            return {**done, "reused": True}
    create_database(svc.server_dsn, svc.source_db, drop_first=True)
    t = time.perf_counter()
    with psycopg.connect(svc.source_dsn) as conn:
        summary = synthetic.seed_backlog(conn, n_failed, seed=seed, evidence_share=evidence_share,
                                         encrypt_with=kms[0] if kms else None, kms_key_id=kms[1] if kms else None,
                                         progress=lambda d, n: log(f"seeded {d}/{n}") if d % 50000 == 0 else None)
    seconds = time.perf_counter() - t
    with psycopg.connect(svc.source_dsn) as conn:
        db_mb = conn.execute("SELECT pg_database_size(current_database()) / 1048576").fetchone()[0]
        evidence = synthetic.evidence_summary(conn, seed)
        expected = dict(conn.execute("SELECT expected_delivery, count(*) FROM synthetic.submission_labels"
                                     " GROUP BY 1").fetchall())
    out = {**wanted, "rows": summary.n, "seconds": round(seconds, 1), "per_state": summary.per_state,
           "attachment_rows": summary.attachment_rows, "expected_delivery": expected, "evidence": evidence,
           "source_db_mb": db_mb, "seeded_at": datetime.now(UTC).isoformat(timespec="seconds")}
    if marker is not None and kms is None:
        marker.write_text(json.dumps(out))
    return out


# --------------------------------------------------------------------------- one run


def ledger_outcome(svc: DevServices, run_id: str) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(svc.ledger_dsn) as conn:
        rows = conn.execute("SELECT submission_id, state, bytes FROM form526_deliveries WHERE last_run_id = %s"
                            " AND state IN ('uploaded', 'failed') ORDER BY submission_id", (run_id,)).fetchall()
        planned = conn.execute("SELECT count(*) FROM form526_run_items WHERE run_id = %s AND batch_no IS NOT NULL",
                               (run_id,)).fetchone()[0]
        items = conn.execute("SELECT count(*) FROM form526_run_items WHERE run_id = %s", (run_id,)).fetchone()[0]
        counts = conn.execute("SELECT counts FROM form526_runs WHERE run_id = %s", (run_id,)).fetchone()
        db_mb = conn.execute("SELECT pg_database_size(current_database()) / 1048576").fetchone()[0]
    return {"ids": [r[0] for r in rows], "uploaded": sum(1 for r in rows if r[1] == "uploaded"),
            "failed": sum(1 for r in rows if r[1] == "failed"),
            "package_bytes": sum(r[2] or 0 for r in rows if r[1] == "uploaded"), "planned": planned,
            "run_items": items, "summary": counts[0] if counts else None, "ledger_db_mb": db_mb}


def bucket_usage(svc: DevServices) -> dict[str, int]:
    """Objects and bytes in the delivery bucket after a run (listed after the request count was taken)."""
    client = svc.boto3_client()
    objects = size = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=svc.bucket):
        for obj in page.get("Contents", []):
            objects += 1
            size += obj["Size"]
    return {"objects": objects, "bytes": size}


def task_stats(tis: list[dict[str, Any]], sampler: Sampler, parallelism: int) -> dict[str, Any]:
    by_task: dict[str, list[dict[str, Any]]] = {}
    for ti in tis:
        by_task.setdefault(ti["task_id"], []).append(ti)
    out: dict[str, Any] = {}
    for task_id, group in by_task.items():
        durations = [ti["duration"] or 0.0 for ti in group]
        peaks = []
        for ti in group:
            info = sampler.by_pid(ti["pid"]) if ti.get("pid") else None
            if info:
                peaks.append(info.hwm_kb / 1024)
        starts = [parse_ts(ti["start_date"]) for ti in group if ti["start_date"]]
        ends = [parse_ts(ti["end_date"]) for ti in group if ti["end_date"]]
        out[task_id] = {
            "instances": len(group), "states": {},
            "duration_total_s": round(sum(durations), 2), "duration_median_s": round(statistics.median(durations), 3),
            "duration_max_s": round(max(durations), 3),
            "span_s": round(max(ends) - min(starts), 2) if starts and ends else None,
            "peak_rss_mb_max": round(max(peaks), 1) if peaks else None,
            "peak_rss_mb_median": round(statistics.median(peaks), 1) if peaks else None,
            "rss_samples": len(peaks),
        }
        for ti in group:
            out[task_id]["states"][ti["state"]] = out[task_id]["states"].get(ti["state"], 0) + 1
    mapped = out.get("build_and_deliver")
    if mapped and mapped["span_s"]:
        mapped["slot_idle_s"] = round(parallelism * mapped["span_s"] - mapped["duration_total_s"], 2)
    return out


IDLE_SECONDS = 20


def roots(af: LocalAirflow, svc: DevServices, moto: Moto, pool: EvidencePool, kms: Moto | None) -> dict[str, int]:
    out = {"scheduler+tasks": af.pid("scheduler"), "api-server": af.pid("api-server"),
           "dag-processor": af.pid("dag-processor"), "postgres": postmaster_pid(svc),
           "moto": moto.proc.popen.pid, "evidence-s3": pool.proc.popen.pid}
    if kms is not None:
        out["kms"] = kms.proc.popen.pid
    return out


def code_fingerprint() -> str:
    """sha1 over the pipeline's code (include/, dags/, plugins/): a run whose code changed under it is flagged."""
    import hashlib

    h = hashlib.sha1()
    for path in sorted(p for d in ("include", "dags", "plugins") for p in (ROOT / d).rglob("*")
                       if p.is_file() and p.suffix in (".py", ".sql")):
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def git_head() -> str:
    res = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %ci"], capture_output=True, text=True)
    return res.stdout.strip()


def run_once(af: LocalAirflow, svc: DevServices, moto: Moto, pool: EvidencePool, kms: Moto | None, *,
             batch_size: int, timeout: float) -> dict[str, Any]:
    create_database(svc.server_dsn, svc.ledger_db, drop_first=True)
    moto.restart()
    svc.ensure_bucket(svc.bucket)
    conf: dict[str, Any] = {"batch_size": batch_size, "tolerated_failure_percent": 100, "key_prefix": "bench"}
    sampler = Sampler(roots(af, svc, moto, pool, kms)).start()
    moto_offset = moto.log_offset()
    kms_offset = kms.log_offset() if kms else 0
    pool_before = pool.stats()
    load_before = loadavg()
    code_before = code_fingerprint()
    t0 = time.time()
    run_id = af.trigger(conf)
    log(f"triggered {run_id} (batch_size={batch_size})")
    try:
        run = af.wait_for_run(run_id, timeout, poll=2.0)
    except TimeoutError:
        log(f"run still going after {timeout:.0f}s: recording the part done and failing the run")
        run = {"state": "timeout", "end_date": None, "start_date": None}
        with contextlib.suppress(Exception):
            af.api("PATCH", f"/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}", json={"state": "failed"})
    finally:
        cpu = sampler.stop()
    observed = time.time() - t0
    s3_requests = moto.requests_since(moto_offset)
    moto_fds = moto.open_files()
    kms_requests = kms.requests_since(kms_offset).get("kms", 0) if kms else 0
    pool_after = pool.stats()
    evidence_requests = {k: pool_after[k] - pool_before.get(k, 0) for k in pool_after}
    end = parse_ts(run.get("end_date")) or time.time()
    tis = af.task_instances(run_id)
    outcome = ledger_outcome(svc, run_id)
    delivered = outcome["uploaded"] + outcome["failed"]
    wall = end - t0
    result = {
        "run_id": run_id, "state": run["state"], "batch_size": batch_size, "conf": conf,
        "planned": outcome["planned"], "run_items": outcome["run_items"],
        "delivered": delivered, "uploaded": outcome["uploaded"], "package_errors": outcome["failed"],
        "wall_seconds": round(wall, 2), "observed_seconds": round(observed, 2),
        "submissions_per_second": round(delivered / wall, 2) if wall else None,
        "ms_per_submission": round(1000 * wall / delivered, 3) if delivered else None,
        "batches": sum(1 for ti in tis if ti["task_id"] == "build_and_deliver"),
        "tasks": task_stats(tis, sampler, af.parallelism), "cpu_seconds": cpu,
        "cpu_seconds_total": round(sum(cpu.values()), 2),
        "s3": {"requests": s3_requests, "package_bytes": outcome["package_bytes"], "bucket": bucket_usage(svc),
               "evidence_requests": evidence_requests, "moto_open_files": moto_fds, "moto_spill_kib": moto.spill_kib},
        "kms_requests": kms_requests,
        "loadavg_before": load_before, "loadavg_after": loadavg(),
        "ledger_db_mb": outcome["ledger_db_mb"], "summary": outcome["summary"],
        "long_lived_peaks_mb": long_lived_peaks(sampler, tis), "failures": failure_notes(af, run_id, tis),
        "code": {"git_head": git_head(), "fingerprint": code_before,
                 "changed_during_run": code_fingerprint() != code_before},
    }
    busy = sum(t["duration_total_s"] for k, t in result["tasks"].items() if k != "build_and_deliver")
    busy += (result["tasks"].get("build_and_deliver") or {}).get("span_s") or 0.0
    result["critical_path_task_seconds"] = round(busy, 2)
    result["scheduling_gaps_seconds"] = round(wall - busy, 2)
    result["_ids"] = outcome["ids"]
    log(f"run {run['state']}: {delivered} delivered in {wall:.1f}s ({result['submissions_per_second']}/s), "
        f"{result['batches']} batches, load {result['loadavg_after']}")
    return result


def failure_notes(af: LocalAirflow, run_id: str, tis: list[dict[str, Any]], limit: int = 5) -> list[dict[str, Any]]:
    """Error lines of up to ``limit`` failed task instances (the pipeline logs ids, counts and error classes)."""
    out = []
    for ti in [t for t in tis if t["state"] == "failed"][:limit]:
        note: dict[str, Any] = {"task_id": ti["task_id"], "map_index": ti["map_index"], "duration": ti["duration"]}
        with contextlib.suppress(Exception):
            text, _ = af.task_log(run_id, ti["task_id"], max(1, ti["try_number"]), ti["map_index"])
            note["error_lines"] = [ln[:300] for ln in text.splitlines()
                                   if any(w in ln for w in ("Error", "error", "Exception", "Traceback", "failed"))][-8:]
        out.append(note)
    return out


def long_lived_peaks(sampler: Sampler, tis: list[dict[str, Any]]) -> dict[str, float]:
    """Peak RSS of the long-lived processes (and the executor's supervisors), for context."""
    task_pids = {ti.get("pid") for ti in tis}
    out: dict[str, float] = {}
    for info in sampler.procs.values():
        if info.pid in task_pids:
            continue
        name = info.group + ": " + (info.cmdline.split(" -- ")[0][:60] or "?")
        out[name] = max(out.get(name, 0.0), round(info.hwm_kb / 1024, 1))
    return dict(sorted(out.items(), key=lambda kv: -kv[1])[:12])


def floor_run(svc: DevServices, ids: list[int], base: Path, sample: int, profile: int,
              kms_url: str | None) -> dict[str, Any]:
    chosen = ids
    if sample and len(ids) > sample:
        step = len(ids) / sample
        chosen = [ids[int(i * step)] for i in range(sample)]
    ids_file = base / "floor-ids.json"
    ids_file.write_text(json.dumps(chosen))
    cmd = [sys.executable, str(ROOT / "tools" / "bench" / "floor.py"), "--dsn", svc.source_dsn,
           "--ids-file", str(ids_file), "--pool-dir", str(POOL_DIR)]
    if profile:
        cmd += ["--profile", str(profile)]
    if kms_url:
        cmd += ["--kms-endpoint", kms_url]
    log(f"floor: {len(chosen)} of {len(ids)} submissions in one process (render + evidence conversion)")
    res = subprocess.run(cmd, capture_output=True, text=True, start_new_session=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    if res.returncode:
        raise RuntimeError(f"floor.py failed: {res.stderr[-2000:]}")
    floor = json.loads(res.stdout.strip().splitlines()[-1])
    floor["sampled"] = len(chosen) < len(ids)
    floor["of_submissions"] = len(ids)
    log(f"floor: {floor['ms_per_package']} ms/package, {floor['packages_per_second_per_core']}/s per core")
    return floor


def derive(r: dict[str, Any], floor: dict[str, Any], cores: int, n_failed: int) -> None:
    """Ratios, CPU per process class and per package, requests and bytes per package, the 150k cost."""
    per_pkg = floor["seconds"] / max(1, floor["submissions"]) if "seconds" in floor else 0.0
    cpu_per_pkg = floor["cpu_seconds"] / max(1, floor["submissions"]) if "cpu_seconds" in floor else 0.0
    d = max(1, r["delivered"])
    ideal = per_pkg * r["delivered"] / cores
    cpu = r["cpu_seconds"]
    external = sum(cpu.get(g, 0.0) for g in EXTERNAL_GROUPS)
    pipeline = sum(cpu.get(g, 0.0) for g in PIPELINE_GROUPS)
    r["floor_seconds_over_cores"] = round(ideal, 2)
    r["ratio_raw"] = round(r["wall_seconds"] / ideal, 3) if ideal else None
    # the CPU the AWS stand-ins took from the two cores, given back: what the wall would be on real S3/KMS
    r["external_cpu_seconds"] = round(external, 2)
    r["wall_without_external_seconds"] = round(r["wall_seconds"] - external / cores, 2)
    r["ratio_pipeline"] = round(r["wall_without_external_seconds"] / ideal, 3) if ideal else None
    r["cpu_ratio_pipeline"] = round(pipeline / (cpu_per_pkg * d), 3) if cpu_per_pkg else None
    r["cpu_ms_per_package"] = {g: round(1000 * v / d, 2) for g, v in cpu.items()}
    r["ms_per_failed_seeded"] = round(1000 * r["wall_seconds"] / max(1, n_failed), 3)
    req = r["s3"]["requests"]
    writes = sum(req.get(k, 0) for k in ("put", "upload_part", "create_multipart", "complete_multipart", "post"))
    reads = sum(req.get(k, 0) for k in ("get", "head"))
    lists = req.get("list", 0)
    ev = r["s3"]["evidence_requests"]
    ev_gets = ev.get("get", 0) + ev.get("head", 0) + ev.get("not_found", 0)
    r["per_package"] = {
        "s3_writes": round(writes / d, 4), "s3_reads": round(reads / d, 4), "s3_lists": round(lists / d, 4),
        "evidence_gets": round(ev_gets / d, 4), "evidence_bytes": round(ev.get("bytes_sent", 0) / d),
        "package_bytes": round(r["s3"]["package_bytes"] / max(1, r["uploaded"])),
        "bucket_bytes": round(r["s3"]["bucket"]["bytes"] / d), "kms_calls": round(r["kms_requests"] / d, 3),
    }
    scale = 150_000 / max(1, n_failed)  # the historic backlog: 150,000 failed submissions before dedup
    cost_requests = scale * ((writes + lists) * PRICES["put_per_1000"] + (reads + ev_gets) * PRICES["get_per_1000"]
                             ) / 1000
    cost_storage = scale * r["s3"]["bucket"]["bytes"] / 1e9 * PRICES["storage_gb_month"]
    cost_kms = scale * r["kms_requests"] * PRICES["kms_per_10000"] / 10_000
    r["aws_cost_150k_usd"] = {"requests": round(cost_requests, 2), "storage_month": round(cost_storage, 2),
                              "kms": round(cost_kms, 2), "total": round(cost_requests + cost_storage + cost_kms, 2),
                              "prices": PRICES}


def scenario(af: LocalAirflow, svc: DevServices, moto: Moto, pool: EvidencePool, kms: Moto | None,
             kms_key: str | None, base: Path, *, n: int, batch_sizes: list[int], seed: int, evidence_share: float,
             floor_sample: int, profile: int, timeout: float, cores: int, marker: Path | None) -> dict[str, Any]:
    log(f"scenario: N={n} failed, evidence share {evidence_share}, mode {'encrypted' if kms else 'plaintext'}")
    kms_pair = None
    if kms is not None:
        import boto3

        kms_pair = (boto3.client("kms", endpoint_url=kms.url, region_name="us-east-1", aws_access_key_id="testing",
                                 aws_secret_access_key="testing"), str(kms_key))
    seeded = seed_source(svc, n, seed, evidence_share, kms_pair, marker)
    log(f"seeded {seeded['rows']} rows in {seeded['seconds']}s: {seeded['per_state']}")
    runs = []
    floor = None
    for b in batch_sizes:
        r = run_once(af, svc, moto, pool, kms, batch_size=b, timeout=timeout)
        ids = r.pop("_ids")
        if floor is None:
            try:
                floor = floor_run(svc, ids, base, floor_sample, profile, kms.url if kms else None)
            except Exception as exc:  # keep the run's figures; the floor can be measured again on its own
                log(f"floor failed ({type(exc).__name__}); results are kept without the floor's ratios")
                floor = {"error": str(exc)[-1500:]}
        runs.append(r)
    assert floor is not None
    for r in runs:
        derive(r, floor, cores, n)
        r["expected_delivered"] = seeded.get("expected_delivery", {}).get("delivered")
    return {"n_failed": n, "source_mode": "encrypted" if kms else "plaintext", "evidence_share": evidence_share,
            "seeded": seeded, "floor": floor, "runs": runs}


# --------------------------------------------------------------------------- tables


def _rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for res in results:
        if res.get("format") != FORMAT:
            continue
        for sc in res["scenarios"]:
            for r in sc["runs"]:
                peak = max((t["peak_rss_mb_max"] or 0) for t in r["tasks"].values())
                whole_run = {k: t["peak_rss_mb_max"] for k, t in r["tasks"].items() if k != "build_and_deliver"}
                out.append({"res": res, "sc": sc, "r": r, "peak": peak, "whole_run": whole_run})
    return out


def cpu_ratio_net_of_idle(res: dict[str, Any], sc: dict[str, Any], r: dict[str, Any]) -> float | None:
    """``cpu× (pipeline)`` without the control plane's idle burn (idle CPU/s × wall): what the packages cost.

    The scheduler, DAG processor and API server burn CPU per second whatever the load; a run stretched by
    other work on the machine would otherwise look more expensive per package.
    """
    floor_cpu = sc["floor"].get("cpu_seconds")
    if not floor_cpu:
        return None
    idle = res.get("idle_cpu_seconds_per_second") or {}
    pipeline = sum(r["cpu_seconds"].get(g, 0.0) - idle.get(g, 0.0) * r["wall_seconds"] for g in PIPELINE_GROUPS)
    return round(pipeline / (floor_cpu / max(1, sc["floor"]["submissions"]) * max(1, r["delivered"])), 3)


def table(results: list[dict[str, Any]], markdown: bool = False) -> str:
    """The scale table (one row per run), the linearity table (ms/sub by N per mix), CPU by process class."""
    rows = _rows(results)
    head = ["scenario", "seeded rows", "failed", "delivered", "batch", "tasks", "slots", "wall s", "subs/s", "ms/sub",
            "floor ms/pkg", "ratio (raw)", "ratio (pipeline)", "cpu× (pipeline)", "cpu× net of idle", "S3 req/pkg",
            "KiB/pkg", "cores busy",
            "peak task RSS MB", "load"]
    body = []
    for x in rows:
        sc, r = x["sc"], x["r"]
        name = (f"N={sc['n_failed']:,} {sc['source_mode']}, evidence {sc['evidence_share']:.0%}{_commit(r)}"
                + ("" if r["state"] == "success" else f" ({r['state']})"))
        pp = r["per_package"]
        body.append([name, f"{sc['seeded']['rows']:,}", f"{sc['seeded']['per_state']['failed']:,}",
                     f"{r['delivered']:,}", str(r["batch_size"]), str(r["batches"]),
                     str(x["res"].get("parallelism", 2)), f"{r['wall_seconds']:.1f}",
                     f"{r['submissions_per_second']:.1f}", f"{r['ms_per_submission']:.2f}",
                     _num(sc["floor"].get("ms_per_package")), _num(r["ratio_raw"]), _num(r["ratio_pipeline"]),
                     _num(r["cpu_ratio_pipeline"]), _num(cpu_ratio_net_of_idle(x["res"], sc, r)),
                     f"{pp['s3_writes'] + pp['s3_reads'] + pp['s3_lists']:.2f} + {pp['evidence_gets']:.2f} ev.",
                     f"{pp['package_bytes'] / 1024:.0f}",
                     f"{r['cpu_seconds_total'] / (r['wall_seconds'] * x['res']['machine']['cores']):.0%}",
                     f"{x['peak']:.0f}", f"{r['loadavg_before'][0]:.1f}"])
    out = [_render(head, body, markdown)]
    # linearity: the same mix and mode at several N
    groups: dict[tuple[str, float, int], list[tuple[int, float]]] = {}
    for x in rows:
        if x["r"]["state"] == "success":
            groups.setdefault((x["sc"]["source_mode"], x["sc"]["evidence_share"], x["res"].get("parallelism", 2)),
                              []).append((x["sc"]["n_failed"], x["r"]["ms_per_submission"]))
    lin = []
    for (mode, share, slots), points in sorted(groups.items()):
        if len({n for n, _ in points}) < 2:
            continue
        points.sort()
        ten = [ms for n, ms in points if n == 10_000]
        for n, ms in points:
            lin.append([f"{mode}, evidence {share:.0%}, {slots} slots", f"{n:,}", f"{ms:.2f}",
                        f"{100 * (ms / ten[0] - 1):+.0f}%" if ten else ""])
    if lin:
        out += ["", _render(["mix", "N failed", "ms/sub", "vs 10k"], lin, markdown)]
    cpu_body = []
    for x in rows:
        r = x["r"]
        per = r["cpu_ms_per_package"]
        cpu_body.append([_short(x)]
                        + [f"{per.get(g, 0):.1f}" for g in (*PIPELINE_GROUPS, *EXTERNAL_GROUPS)]
                        + [_num(x["sc"]["floor"].get("cpu_ms_per_package"), 1),
                           ", ".join(f"{k} {v:.0f}" for k, v in x["whole_run"].items() if v)])
    if cpu_body:
        out += ["", _render(["run", "tasks+scheduler", "api-server", "dag-processor", "postgres", "moto (S3)",
                             "evidence S3", "kms", "floor CPU", "peak RSS MB of the whole-run tasks"],
                            cpu_body, markdown)]
    costs = [[_short(x), f"{x['r']['per_package']['s3_writes']:.3f}",
              f"{x['r']['per_package']['s3_reads']:.3f}", f"{x['r']['per_package']['s3_lists']:.4f}",
              f"{x['r']['per_package']['evidence_gets']:.2f}", f"{x['r']['per_package']['bucket_bytes'] / 1024:.0f}",
              f"{x['r']['per_package']['kms_calls']:.2f}", f"${x['r']['aws_cost_150k_usd']['total']:.2f}"]
             for x in rows]
    if costs:
        out += ["", _render(["run", "S3 writes/pkg", "S3 reads/pkg", "S3 lists/pkg", "evidence GETs/pkg",
                             "KiB stored/pkg", "KMS calls/pkg", "AWS cost of 150k"], costs, markdown)]
    return "\n".join(out)


def _commit(r: dict[str, Any]) -> str:
    """The code a run measured: `` @<commit>`` (so two runs of one scenario can be told apart)."""
    head = ((r.get("code") or {}).get("git_head") or "").split(" ")[0]
    return f" @{head[:7]}" if head else ""


def _short(x: dict[str, Any]) -> str:
    sc = x["sc"]
    return f"N={sc['n_failed']:,} {sc['source_mode']}, ev. {sc['evidence_share']:.0%}{_commit(x['r'])}"


def _num(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _render(head: list[str], body: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(head)))
                 + "|"]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in body])
    widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(head)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in body]
    return "\n".join(lines)


README_START, README_END = "<!-- scale-table:start -->", "<!-- scale-table:end -->"


def write_readme(readme: Path, text: str, files: list[str]) -> None:
    """Replace the README's generated block (between the markers) with ``text``."""
    content = readme.read_text()
    if README_START not in content or README_END not in content:
        raise SystemExit(f"{readme}: markers {README_START} / {README_END} not found")
    head, rest = content.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    note = ("<!-- generated by: python tools/bench/run.py table --markdown --readme tools/bench/README.md "
            + " ".join(files) + " -->")
    readme.write_text(f"{head}{README_START}\n{note}\n\n{text}\n{README_END}{tail}")


# --------------------------------------------------------------------------- main


def table_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="run.py table")
    p.add_argument("--markdown", action="store_true")
    p.add_argument("--readme", type=Path, default=None, help="write the tables into this README's generated block")
    p.add_argument("files", nargs="+")
    args = p.parse_args(argv)
    results = [json.loads(Path(f).read_text()) for f in args.files]
    text = table(results, markdown=args.markdown or bool(args.readme))
    if args.readme:
        rel = [str(Path(f).resolve().relative_to(ROOT)) if Path(f).resolve().is_relative_to(ROOT) else f
               for f in args.files if json.loads(Path(f).read_text()).get("format") == FORMAT]
        write_readme(args.readme, text, rel)
    print(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["table"]:
        return table_main(argv[1:])
    seed_only = argv[:1] == ["seed"]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, action="append", default=[],
                   help="failed submissions to seed (repeatable; before dedup; every one is in scope)")
    p.add_argument("--evidence-share", type=float, default=0.40, help="share of submissions with uploads (0.40)")
    p.add_argument("--source-mode", choices=("plaintext", "encrypted"), default="plaintext")
    p.add_argument("--batch-sizes", default=str(config.DEFAULT_BATCH_SIZE),
                   help=f"comma-separated batch sizes, one DAG run each (default {config.DEFAULT_BATCH_SIZE})")
    p.add_argument("--parallelism", type=int, default=3,
                   help="AIRFLOW__CORE__PARALLELISM: task slots (default 3 on 2 cores: a slot waits on S3 and the "
                        "evidence bucket part of the time)")
    p.add_argument("--floor-sample", type=int, default=0,
                   help="build at most this many of the delivered submissions for the floor (0 = all)")
    p.add_argument("--profile", type=int, default=0, metavar="TOP", help="add a cProfile top-TOP of the floor")
    p.add_argument("--moto-spill-kib", type=int, default=0,
                   help="moto keeps objects above this size in temporary files, not memory (0: moto's default, "
                        "5 MiB); each holds an open file (limit: ulimit -n). The 150k run uses 256")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--timeout", type=float, default=4 * 3600, help="seconds one DAG run may take")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="keep PostgreSQL's data here and reuse a source DB seeded the same way (plaintext; big N: "
                        "seed once with `run.py seed`); without it everything lives in a temp dir deleted at the end")
    p.add_argument("--label", default="", help="name of the results file (default: derived from the scenario)")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv[1:] if seed_only else argv)
    if not args.n:
        args.n = [1000]
    encrypted = args.source_mode == "encrypted"
    if encrypted and (seed_only or args.data_dir):
        p.error("encrypted mode seeds with its own KMS server each time: no `seed`, no --data-dir")
    sizes = [int(x) for x in args.batch_sizes.split(",") if x.strip()]
    cores = os.cpu_count() or 1
    label = args.label or "_".join([f"n{n}" for n in args.n] + ([args.source_mode] if encrypted else [])
                                   + [f"ev{round(100 * args.evidence_share)}"]
                                   + ([f"b{'-'.join(map(str, sizes))}"] if len(sizes) > 1 else []))

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up below
    base = Path(tempfile.mkdtemp(prefix="form526-bench-", dir="/tmp"))
    data = args.data_dir.resolve() if args.data_dir else base
    marker = data / "seeded.json" if args.data_dir else None
    moto = Moto(base, spill_kib=args.moto_spill_kib)
    kms = Moto(base, "kms") if encrypted else None
    pool = EvidencePool(base, POOL_DIR, args.seed)
    svc: DevServices | None = None
    af: LocalAirflow | None = None
    started = datetime.now(UTC)
    result: dict[str, Any] = {
        "format": FORMAT, "started": started.isoformat(timespec="seconds"),
        "machine": {"cores": cores, "loadavg_at_start": loadavg(), "python": sys.version.split()[0]},
        "parallelism": args.parallelism, "batch_sizes": sizes, "source_mode": args.source_mode,
        "evidence_share": args.evidence_share, "scenarios": [],
    }
    try:
        moto.start()
        os.environ.update(FORM526_S3_ENDPOINT=moto.url, FORM526_S3_ACCESS_KEY="testing",
                          FORM526_S3_SECRET_KEY="testing")
        os.environ.pop("FORM526_PG_DSN", None)
        log(f"starting PostgreSQL (DevServices) in {data / 'svc'} ...")
        svc = DevServices(base_dir=data / "svc", fresh_databases=args.data_dir is None).start()
        if seed_only:
            for n in args.n:
                log(f"seeding a backlog of {n} failed submissions ...")
                log(f"seeded: {json.dumps(seed_source(svc, n, args.seed, args.evidence_share, None, marker))}")
            return 0
        log("starting the evidence pool's S3 (writes the pool once into /tmp/form526-bench-pool) ...")
        pool.start()
        result["pool"] = {k: v for k, v in json.loads((POOL_DIR / "pool.json").read_text()).items() if k != "files"}
        kms_key = None
        connections = {
            **svc.airflow_connections(), "FORM526_EVIDENCE_BUCKET": EVIDENCE_BUCKET,
            f"AIRFLOW_CONN_{config.EVIDENCE_CONN_ID.upper()}": aws_conn_json(pool.url, "testing", "testing")}
        if kms is not None:
            import boto3

            kms.start()
            kms_key = boto3.client("kms", endpoint_url=kms.url, region_name="us-east-1", aws_access_key_id="testing",
                                   aws_secret_access_key="testing").create_key(
                Description="bench: vets-api lockbox CMK")["KeyMetadata"]["KeyId"]
            connections.update({"FORM526_SOURCE_MODE": "encrypted",
                                f"AIRFLOW_CONN_{config.KMS_CONN_ID.upper()}": aws_conn_json(kms.url, "testing",
                                                                                            "testing")})
        log("starting Airflow (db migrate, api-server, scheduler, dag-processor) ...")
        af = LocalAirflow(svc.server_dsn, connections, base / "airflow", parallelism=args.parallelism).start()
        af.wait_for_dag()
        log(f"Airflow healthy at {af.url}; measuring its idle CPU for {IDLE_SECONDS}s ...")
        sampler = Sampler(roots(af, svc, moto, pool, kms)).start()
        time.sleep(IDLE_SECONDS)
        result["idle_cpu_seconds_per_second"] = {g: round(v / IDLE_SECONDS, 3) for g, v in sampler.stop().items()}
        for n in args.n:
            result["scenarios"].append(scenario(
                af, svc, moto, pool, kms, kms_key, base, n=n, batch_sizes=sizes, seed=args.seed,
                evidence_share=args.evidence_share, floor_sample=args.floor_sample, profile=args.profile,
                timeout=args.timeout, cores=cores, marker=marker))
    finally:
        log("stopping Airflow, moto, the evidence S3 and PostgreSQL; deleting temporary data ...")
        if af:
            af.stop()
        for service in (moto, kms, pool):
            if service is not None:
                service.stop()
        if svc:
            svc.stop()
        shutil.rmtree(base, ignore_errors=True)
        if args.data_dir:
            log(f"kept {data} (PostgreSQL data); delete it when done: rm -rf {data}")
    result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    result["machine"]["loadavg_at_end"] = loadavg()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{started.strftime('%Y%m%dT%H%M')}_{label}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    print(table([result]))
    for sc in result["scenarios"]:
        if sc["floor"].get("profile"):
            print(sc["floor"]["profile"])
    print(f"\nresults: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
