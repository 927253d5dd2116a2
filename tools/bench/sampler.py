"""Sample memory and CPU of process trees from /proc while a benchmark runs (Linux only).

Each tick reads, for every process of every watched tree, ``VmHWM`` (the kernel's own peak RSS, so a
peak between two ticks is not missed), ``VmRSS`` and CPU time. A tree's CPU is the sum over its live
processes of user+system time *including reaped children* (``cutime``/``cstime``), so the CPU of a
task process that exited between two ticks still counts: it moved into its parent's figures.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass, field

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return fh.read().decode(errors="replace")
    except OSError:
        return None


def _stat(pid: int) -> tuple[int, float, float] | None:
    """(ppid, own cpu s, reaped children's cpu s) from /proc/pid/stat."""
    text = _read(f"/proc/{pid}/stat")
    if not text:
        return None
    rest = text[text.rfind(")") + 2:].split()
    # fields after the command: state ppid ... utime(14) stime(15) cutime(16) cstime(17), 1-based overall
    ppid = int(rest[1])
    utime, stime, cutime, cstime = (int(x) for x in rest[11:15])
    return ppid, (utime + stime) / CLK_TCK, (cutime + cstime) / CLK_TCK


def _status_kb(pid: int) -> tuple[int, int]:
    """(VmHWM, VmRSS) in kB; (0, 0) for a kernel thread or a process that is gone."""
    text = _read(f"/proc/{pid}/status") or ""
    hwm = rss = 0
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1])
        elif line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    return hwm, rss


def _cmdline(pid: int) -> str:
    raw = _read(f"/proc/{pid}/cmdline") or ""
    return " ".join(raw.split("\0")).strip()[:200]


def process_table() -> dict[int, int]:
    """pid -> ppid of every process."""
    out: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(int(name))
            if st:
                out[int(name)] = st[0]
    return out


def descendants(root: int, table: dict[int, int]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, ppid in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            out.append(pid)
        todo.extend(children.get(pid, []))
    return out


@dataclass
class ProcInfo:
    pid: int
    group: str
    cmdline: str
    first_seen: float
    last_seen: float
    hwm_kb: int = 0
    rss_max_kb: int = 0


@dataclass
class Sampler:
    """Watch named process trees (``roots``: group name -> root pid) every ``interval`` seconds."""

    roots: dict[str, int]
    interval: float = 0.2
    procs: dict[tuple[int, float], ProcInfo] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _cpu_start: dict[str, float] = field(default_factory=dict)
    _cpu_last: dict[str, float] = field(default_factory=dict)
    _seen_pid: dict[int, float] = field(default_factory=dict)

    def _tick(self) -> dict[str, float]:
        now = time.time()
        table = process_table()
        cpu: dict[str, float] = {}
        for group, root in self.roots.items():
            total = 0.0
            for pid in descendants(root, table):
                st = _stat(pid)
                if not st:
                    continue
                total += st[1] + st[2]
                hwm, rss = _status_kb(pid)
                key = (pid, self._seen_pid.setdefault(pid, now))
                info = self.procs.get(key)
                if info is None:
                    info = self.procs[key] = ProcInfo(pid, group, _cmdline(pid), now, now)
                info.last_seen = now
                info.hwm_kb = max(info.hwm_kb, hwm)
                info.rss_max_kb = max(info.rss_max_kb, rss)
            cpu[group] = total
        # a pid that is gone may be reused later: forget it so a new process gets a new record
        for pid in [p for p in self._seen_pid if p not in table]:
            del self._seen_pid[pid]
        return cpu

    def start(self) -> Sampler:
        self._cpu_start = self._tick()
        self._cpu_last = dict(self._cpu_start)
        self._thread = threading.Thread(target=self._loop, name="bench-sampler", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(Exception):
                self._cpu_last = self._tick()

    def stop(self) -> dict[str, float]:
        """Stop; returns CPU seconds used by each group while sampling."""
        self._stop.set()
        if self._thread:
            self._thread.join()
        with contextlib.suppress(Exception):
            self._cpu_last = self._tick()
        return {g: round(self._cpu_last.get(g, 0.0) - self._cpu_start.get(g, 0.0), 2) for g in self.roots}

    def by_pid(self, pid: int) -> ProcInfo | None:
        """The record of ``pid`` (the latest, if the pid was reused)."""
        found = [p for (q, _), p in self.procs.items() if q == pid]
        return max(found, key=lambda p: p.first_seen) if found else None
