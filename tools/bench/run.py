"""Benchmark of the Form 526 backlog pipeline on one machine: render floor vs the full DAG under a real scheduler.

For each scenario it seeds a throwaway PostgreSQL (DevServices) with synthetic vets-api data, runs the
real DAG under Airflow (API server + scheduler + DAG processor, LocalExecutor, PostgreSQL metadata DB,
parallelism 2 by default) against a moto S3 server, once per batch size, then renders the same
submissions in one plain process (the render floor). Prints a table and writes JSON.

    python tools/bench/run.py --n 1000                          # N = failed submissions to deliver
    python tools/bench/run.py --n 10000 --batch-sizes 100,250,500,1000,2000
    python tools/bench/run.py --rows 150000                     # seed 150k rows, deliver every failed one
    python tools/bench/run.py table tools/bench/results/*.json        # one table from earlier results

See tools/bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import signal
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
from tools.devservices import DevServices, create_database, free_port  # noqa: E402

FAILED_SHARE = 0.055
"""Share of seeded submissions the generator makes failed (measured: 5.3-5.6%)."""
SEED_MARGIN = 1.12
"""Extra rows seeded so that, after duplicates are skipped, at least N failed submissions remain."""
RESULTS = ROOT / "tools" / "bench" / "results"


def log(msg: str) -> None:
    print(f"[{datetime.now(UTC).strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# --------------------------------------------------------------------------- services


class Moto:
    """moto_server in its own process group; restarted (empty) before each run on the same port."""

    def __init__(self, base: Path):
        self.base = base
        self.port = free_port()
        self.proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Moto:
        exe = str(Path(sys.executable).parent / "moto_server")
        self.proc = start_proc("moto", [exe, "-H", "127.0.0.1", "-p", str(self.port)], env=dict(os.environ),
                               cwd=self.base, log_dir=self.base / "process-logs")
        import socket

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return self
            time.sleep(0.1)
        raise RuntimeError(f"moto_server did not start: {self.proc.tail()}")

    def stop(self) -> None:
        if self.proc:
            stop_procs([self.proc], grace=5)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


def postmaster_pid(svc: DevServices) -> int:
    return int((svc.base_dir / "pgdata" / "postmaster.pid").read_text().split()[0])


# --------------------------------------------------------------------------- one scenario


def seed_source(svc: DevServices, rows: int, seed: int, marker: Path | None = None) -> dict[str, Any]:
    """Seed ``rows`` synthetic submissions into a fresh source database; with ``marker`` (``--data-dir``),
    reuse the database when the marker says it already holds exactly that seeding."""
    import psycopg

    from tools.synthetic import generator as synthetic

    if marker is not None and marker.exists():
        done = json.loads(marker.read_text())
        if done.get("rows") == rows and done.get("seed") == seed:
            return {**done, "reused": True}
    create_database(svc.server_dsn, svc.source_db, drop_first=True)
    t = time.perf_counter()
    with psycopg.connect(svc.source_dsn) as conn:
        summary = synthetic.seed(conn, rows, seed=seed)
    with psycopg.connect(svc.source_dsn) as conn:
        db_mb = conn.execute("SELECT pg_database_size(current_database()) / 1048576").fetchone()[0]
    out = {"rows": rows, "seed": seed, "seconds": round(time.perf_counter() - t, 1), "per_state": summary.per_state,
           "failed_share": round(summary.failed_share, 4), "source_db_mb": db_mb,
           "seeded_at": datetime.now(UTC).isoformat(timespec="seconds")}
    if marker is not None:
        marker.write_text(json.dumps(out))
    return out


def ledger_outcome(svc: DevServices, run_id: str) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(svc.ledger_dsn) as conn:
        rows = conn.execute("SELECT submission_id, state FROM form526_deliveries WHERE last_run_id = %s"
                            " AND state IN ('uploaded', 'failed') ORDER BY submission_id", (run_id,)).fetchall()
        planned = conn.execute("SELECT submission_id FROM form526_run_items WHERE run_id = %s AND batch_no IS NOT NULL"
                               " ORDER BY submission_id", (run_id,)).fetchall()
        counts = conn.execute("SELECT counts FROM form526_runs WHERE run_id = %s", (run_id,)).fetchone()
        db_mb = conn.execute("SELECT pg_database_size(current_database()) / 1048576").fetchone()[0]
    return {"ids": [r[0] for r in rows], "planned_ids": [r[0] for r in planned],
            "uploaded": sum(1 for r in rows if r[1] == "uploaded"), "failed": sum(1 for r in rows if r[1] == "failed"),
            "summary": counts[0] if counts else None,
            "ledger_db_mb": db_mb}


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
        queued = [parse_ts(ti["start_date"]) - parse_ts(ti["queued_dttm"]) for ti in group
                  if ti["start_date"] and ti.get("queued_dttm")]
        out[task_id] = {
            "instances": len(group), "states": {},
            "duration_total_s": round(sum(durations), 2), "duration_median_s": round(statistics.median(durations), 3),
            "duration_max_s": round(max(durations), 3),
            "span_s": round(max(ends) - min(starts), 2) if starts and ends else None,
            "queued_to_start_median_s": round(statistics.median(queued), 3) if queued else None,
            "peak_rss_mb_max": round(max(peaks), 1) if peaks else None,
            "peak_rss_mb_median": round(statistics.median(peaks), 1) if peaks else None,
            "rss_samples": len(peaks),
        }
        for ti in group:
            out[task_id]["states"][ti["state"]] = out[task_id]["states"].get(ti["state"], 0) + 1
    mapped = out.get("build_and_deliver")
    if mapped and mapped["span_s"]:
        # slot time the executor had during the mapped phase, minus the time tasks actually ran
        mapped["slot_idle_s"] = round(parallelism * mapped["span_s"] - mapped["duration_total_s"], 2)
    return out


IDLE_SECONDS = 20


def idle_cpu(af: LocalAirflow, svc: DevServices, moto: Moto) -> dict[str, float]:
    """CPU the idle control plane (and the services) burn per second, no run going: the floor under every run."""
    sampler = Sampler(roots(af, svc, moto)).start()
    time.sleep(IDLE_SECONDS)
    return {g: round(v / IDLE_SECONDS, 3) for g, v in sampler.stop().items()}


def roots(af: LocalAirflow, svc: DevServices, moto: Moto) -> dict[str, int]:
    return {"scheduler+tasks": af.pid("scheduler"), "api-server": af.pid("api-server"),
            "dag-processor": af.pid("dag-processor"), "moto": moto.proc.popen.pid, "postgres": postmaster_pid(svc)}


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


def run_once(af: LocalAirflow, svc: DevServices, moto: Moto, *, n: int | None, batch_size: int,
             timeout: float) -> dict[str, Any]:
    create_database(svc.server_dsn, svc.ledger_db, drop_first=True)
    moto.restart()
    svc.ensure_bucket(svc.bucket)
    conf: dict[str, Any] = {"batch_size": batch_size, "tolerated_failure_percent": 100, "key_prefix": "bench"}
    if n is not None:
        conf["max_submissions"] = n
    sampler = Sampler(roots(af, svc, moto)).start()
    load_before = loadavg()
    code_before = code_fingerprint()
    t0 = time.time()
    run_id = af.trigger(conf)
    log(f"triggered {run_id} (batch_size={batch_size}, max_submissions={n})")
    try:
        run = af.wait_for_run(run_id, timeout, poll=2.0)
    except TimeoutError:
        # the time budget ran out: keep what the run did so far (a throughput figure), then stop it
        log(f"run still going after {timeout:.0f}s: recording the part done and failing the run")
        run = {"state": "timeout", "end_date": None, "start_date": None}
        with contextlib.suppress(Exception):
            af.api("PATCH", f"/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}", json={"state": "failed"})
    finally:
        cpu = sampler.stop()
    observed = time.time() - t0
    end = parse_ts(run.get("end_date")) or time.time()
    tis = af.task_instances(run_id)
    failures = failure_notes(af, run_id, tis)
    outcome = ledger_outcome(svc, run_id)
    delivered = outcome["uploaded"] + outcome["failed"]
    wall = end - t0
    result = {
        "run_id": run_id, "state": run["state"], "batch_size": batch_size, "conf": conf,
        "delivered": delivered, "uploaded": outcome["uploaded"], "package_errors": outcome["failed"],
        "wall_seconds": round(wall, 2), "observed_seconds": round(observed, 2),
        "run_start_to_end_seconds": round(end - (parse_ts(run.get("start_date")) or t0), 2),
        "submissions_per_second": round(delivered / wall, 2) if wall else None,
        "ms_per_submission": round(1000 * wall / delivered, 3) if delivered else None,
        "batches": sum(1 for ti in tis if ti["task_id"] == "build_and_deliver"),
        "tasks": task_stats(tis, sampler, af.parallelism), "cpu_seconds": cpu,
        "cpu_seconds_total": round(sum(cpu.values()), 2),
        "loadavg_before": load_before, "loadavg_after": loadavg(),
        "ledger_db_mb": outcome["ledger_db_mb"], "summary": outcome["summary"],
        "other_task_process_peaks_mb": top_other_processes(sampler, tis), "failures": failures,
        "code": {"git_head": git_head(), "fingerprint": code_before,
                 "changed_during_run": code_fingerprint() != code_before},
    }
    busy = sum(t["duration_total_s"] for k, t in result["tasks"].items() if k != "build_and_deliver")
    busy += (result["tasks"].get("build_and_deliver") or {}).get("span_s") or 0.0
    result["critical_path_task_seconds"] = round(busy, 2)
    result["scheduling_gaps_seconds"] = round(wall - busy, 2)  # between sequential tasks: scheduler + start-up
    # the floor renders what the run delivered; a run cut short by the time budget: what it planned
    result["_ids"] = outcome["ids"] if run["state"] != "timeout" else outcome["planned_ids"]
    result["planned"] = len(outcome["planned_ids"])
    log(f"run {run['state']}: {delivered} delivered in {wall:.1f}s ({result['submissions_per_second']}/s), "
        f"{result['batches']} batches, load {result['loadavg_after']}")
    return result


def failure_notes(af: LocalAirflow, run_id: str, tis: list[dict[str, Any]], limit: int = 5) -> list[dict[str, Any]]:
    """For up to ``limit`` failed task instances: error lines of their log (the pipeline logs ids, counts and
    error classes only), so a failed measurement says why without keeping the whole log."""
    out = []
    for ti in [t for t in tis if t["state"] == "failed"][:limit]:
        note: dict[str, Any] = {"task_id": ti["task_id"], "map_index": ti["map_index"], "duration": ti["duration"]}
        with contextlib.suppress(Exception):
            r = af.api("GET", f"/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}/taskInstances/{ti['task_id']}/logs/"
                              f"{max(1, ti['try_number'])}", params={"map_index": ti["map_index"]},
                       headers={"Accept": "application/json"})
            content = r.json().get("content") or []
            lines = [str(e.get("event", e)) if isinstance(e, dict) else str(e) for e in content]
            note["error_lines"] = [ln[:300] for ln in lines if any(w in ln for w in ("Error", "error", "Exception",
                                                                                     "Traceback", "failed"))][-8:]
        out.append(note)
    return out


def top_other_processes(sampler: Sampler, tis: list[dict[str, Any]]) -> dict[str, float]:
    """Peak RSS of the long-lived processes (and of the executor's supervisors), for context."""
    task_pids = {ti.get("pid") for ti in tis}
    out: dict[str, float] = {}
    for info in sampler.procs.values():
        if info.pid in task_pids:
            continue
        name = info.group + ": " + (info.cmdline.split(" -- ")[0][:60] or "?")
        out[name] = max(out.get(name, 0.0), round(info.hwm_kb / 1024, 1))
    return dict(sorted(out.items(), key=lambda kv: -kv[1])[:12])


def render_floor(svc: DevServices, ids: list[int], base: Path, sample: int, profile: int) -> dict[str, Any]:
    chosen = ids
    if sample and len(ids) > sample:
        step = len(ids) / sample
        chosen = [ids[int(i * step)] for i in range(sample)]
    ids_file = base / "floor-ids.json"
    ids_file.write_text(json.dumps(chosen))
    cmd = [sys.executable, str(ROOT / "tools" / "bench" / "floor.py"), "--dsn", svc.source_dsn,
           "--ids-file", str(ids_file)]
    if profile:
        cmd += ["--profile", str(profile)]
    log(f"render floor: {len(chosen)} of {len(ids)} submissions in one process")
    res = subprocess.run(cmd, capture_output=True, text=True, check=True, start_new_session=True)
    floor = json.loads(res.stdout.strip().splitlines()[-1])
    floor["sampled"] = len(chosen) < len(ids)
    floor["of_submissions"] = len(ids)
    floor["projected_seconds_for_all"] = round(floor["seconds"] / len(chosen) * len(ids), 2)
    log(f"render floor: {floor['ms_per_package']} ms/package, {floor['packages_per_second_per_core']}/s per core")
    return floor


def scenario(af: LocalAirflow, svc: DevServices, moto: Moto, base: Path, *, n: int | None, rows: int,
             batch_sizes: list[int], seed: int, floor_sample: int, profile: int, timeout: float,
             cores: int, marker: Path | None) -> dict[str, Any]:
    log(f"scenario: N={'all failed' if n is None else n}, seeding {rows} rows")
    seeded = seed_source(svc, rows, seed, marker)
    log(f"seeded {rows} rows in {seeded['seconds']}s: {seeded['per_state']}")
    runs = []
    floor = None
    floor_ids: list[int] = []
    for b in batch_sizes:
        r = run_once(af, svc, moto, n=n, batch_size=b, timeout=timeout)
        ids = r.pop("_ids")
        if floor is None:
            floor = render_floor(svc, ids, base, floor_sample, profile)
            floor_ids = ids
        elif ids != floor_ids:
            r["note"] = "delivered a different set than the run the floor was measured on"
        runs.append(r)
    assert floor is not None
    per_pkg = floor["seconds"] / floor["submissions"]
    cpu_per_pkg = floor["cpu_seconds"] / floor["submissions"]
    for r in runs:
        ideal = per_pkg * r["delivered"] / cores
        r["floor_seconds_over_cores"] = round(ideal, 2)
        r["ratio_to_floor"] = round(r["wall_seconds"] / ideal, 3) if ideal else None
        # load-independent view: all CPU the pipeline's processes used / CPU the floor needed for as many packages
        floor_cpu = cpu_per_pkg * r["delivered"]
        r["cpu_ratio_to_floor"] = round(r["cpu_seconds_total"] / floor_cpu, 3) if floor_cpu else None
    return {"n_requested": n, "seeded": seeded, "floor": floor, "runs": runs}


# --------------------------------------------------------------------------- table


def table(results: list[dict[str, Any]]) -> str:
    head = (f"{'scenario':<13}{'seeded':>8}{'failed':>7}{'deliv.':>7}{'batch':>6}{'tasks':>6}{'wall s':>8}"
            f"{'subs/s':>7}{'ms/sub':>7}{'floor ms':>9}{'ratio':>6}{'cpu×':>6}{'gaps s':>7}{'task RSS MB':>12}"
            f"{'load':>6}")
    lines = [head, "-" * len(head)]
    for res in results:
        for sc in res["scenarios"]:
            scenario_name = f"N={sc['n_requested']}" if sc["n_requested"] else f"rows={sc['seeded']['rows']}"
            for r in sc["runs"]:
                name = scenario_name + ("" if r["state"] == "success" else "*")
                peak = max((t["peak_rss_mb_max"] or 0) for t in r["tasks"].values())
                lines.append(
                    f"{name:<13}{sc['seeded']['rows']:>8}{sc['seeded']['per_state']['failed']:>7}{r['delivered']:>7}"
                    f"{r['batch_size']:>6}{r['batches']:>6}{r['wall_seconds']:>8.1f}{r['submissions_per_second']:>7.1f}"
                    f"{r['ms_per_submission']:>7.2f}{sc['floor']['ms_per_package']:>9.2f}{r['ratio_to_floor']:>6.2f}"
                    f"{r.get('cpu_ratio_to_floor') or 0:>6.2f}{r.get('scheduling_gaps_seconds') or 0:>7.1f}"
                    f"{peak:>12.0f}{r['loadavg_before'][0]:>6.1f}")
    lines += ["", "* the DAG run did not succeed (see state and failures in the JSON)",
              "ratio = wall / (floor ms/package x delivered / cores); cpu× = CPU of every pipeline process "
              "(tasks, scheduler, API server, DAG processor, moto, PostgreSQL) / floor CPU for as many packages;",
              "gaps = wall - time tasks ran on the critical path; task RSS = highest peak RSS of any task process; "
              "load = 1-min load average when the run started."]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["table"]:
        print(table([json.loads(Path(p).read_text()) for p in argv[1:]]))
        return 0
    seed_only = argv[:1] == ["seed"]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, action="append", default=[],
                   help="failed submissions to deliver (seeds ~N/0.055 rows; caps the run with max_submissions)")
    p.add_argument("--rows", type=int, action="append", default=[],
                   help="seed exactly this many rows and deliver every failed one (no cap)")
    p.add_argument("--batch-sizes", default=str(config.DEFAULT_BATCH_SIZE),
                   help=f"comma-separated batch sizes, one DAG run each (default {config.DEFAULT_BATCH_SIZE})")
    p.add_argument("--parallelism", type=int, default=2, help="AIRFLOW__CORE__PARALLELISM (default 2)")
    p.add_argument("--floor-sample", type=int, default=0,
                   help="render at most this many of the delivered submissions for the floor (0 = all)")
    p.add_argument("--profile", type=int, default=0, metavar="TOP", help="add a cProfile top-TOP of the floor")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--timeout", type=float, default=7200, help="seconds one DAG run may take")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="keep PostgreSQL's data here and reuse a source DB seeded the same way (big N: seed once "
                        "with `run.py seed`); without it everything lives in a temp dir deleted at the end")
    p.add_argument("--label", default="", help="name of the results file (default: derived from the scenario)")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv[1:] if seed_only else argv)
    if not args.n and not args.rows:
        args.n = [1000]
    sizes = [int(x) for x in args.batch_sizes.split(",") if x.strip()]
    cores = os.cpu_count() or 1
    label = args.label or "_".join([f"n{n}" for n in args.n] + [f"rows{r}" for r in args.rows]
                                   + ([f"b{'-'.join(map(str, sizes))}"] if len(sizes) > 1 else []))
    plan = [(n, math.ceil(n / FAILED_SHARE * SEED_MARGIN)) for n in args.n] + [(None, r) for r in args.rows]

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up below
    base = Path(tempfile.mkdtemp(prefix="form526-bench-", dir="/tmp"))
    data = args.data_dir.resolve() if args.data_dir else base
    marker = data / "seeded.json" if args.data_dir else None
    moto = Moto(base)
    svc: DevServices | None = None
    af: LocalAirflow | None = None
    started = datetime.now(UTC)
    result: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"), "machine": {"cores": cores, "loadavg_at_start": loadavg(),
                                                                      "python": sys.version.split()[0]},
        "parallelism": args.parallelism, "batch_sizes": sizes, "scenarios": [],
    }
    try:
        moto.start()
        os.environ.update(FORM526_S3_ENDPOINT=moto.url, FORM526_S3_ACCESS_KEY="testing",
                          FORM526_S3_SECRET_KEY="testing")
        os.environ.pop("FORM526_PG_DSN", None)
        log(f"starting PostgreSQL (DevServices) in {data / 'svc'} ...")
        svc = DevServices(base_dir=data / "svc", fresh_databases=args.data_dir is None).start()
        if seed_only:
            for _, rows in plan:
                log(f"seeding {rows} rows ...")
                log(f"seeded: {seed_source(svc, rows, args.seed, marker)}")
            return 0
        log("starting Airflow (db migrate, api-server, scheduler, dag-processor) ...")
        af = LocalAirflow(svc.server_dsn, svc.airflow_connections(), base / "airflow",
                          parallelism=args.parallelism).start()
        af.wait_for_dag()
        log(f"Airflow healthy at {af.url}; measuring its idle CPU for {IDLE_SECONDS}s ...")
        result["idle_cpu_seconds_per_second"] = idle_cpu(af, svc, moto)
        for n, rows in plan:
            result["scenarios"].append(scenario(af, svc, moto, base, n=n, rows=rows, batch_sizes=sizes,
                                                seed=args.seed, floor_sample=args.floor_sample,
                                                profile=args.profile, timeout=args.timeout, cores=cores,
                                                marker=marker))
    finally:
        log("stopping Airflow, moto and PostgreSQL; deleting temporary data ...")
        if af:
            af.stop()
        moto.stop()
        if svc:
            svc.stop()
        shutil.rmtree(base, ignore_errors=True)
        if args.data_dir:
            log(f"kept {data} (PostgreSQL data); delete it when done: rm -rf {data}")
    result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
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
