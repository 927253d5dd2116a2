"""What a triage run writes: ``triage.csv``, ``summary.json``, the task-log table, and ``publish`` (the three
objects under ``{key_prefix}/triage/{date}/``). Ids, counts, classes and error keys only; every CSV cell is
neutralised against spreadsheet formulas."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from include.form526.csv_safety import safe_row
from include.form526.triage.aggregate import (
    SECTION_ANCILLARY,
    SECTION_ESTABLISHED,
    SECTION_NEW,
    Group,
    Report,
)
from include.form526.triage.chart import chart_png
from include.form526.triage.window import iso

CSV_COLUMNS = ("section", "path", "job_class", "error_class", "error_key", "submissions", "veterans",
               "job_failures", "statuses", "first_seen", "last_seen", "example_submission_ids")
TOP_GROUPS = 10
LOG_BY_DAY = 14  # the established section's most recent creation days shown in the log


def csv_row(g: Group) -> list[Any]:
    """One group as a CSV row (CSV_COLUMNS)."""
    return [g.section, g.path, g.job_class, g.error_class, g.error_key, g.submissions, g.veterans, g.job_failures,
            " ".join(f"{k}={v}" for k, v in g.statuses.items()), iso(g.first_seen), iso(g.last_seen),
            " ".join(str(i) for i in g.examples)]


def triage_csv(report: Report) -> bytes:
    """Every group, sections in order (new failures, established without PDF, ancillary)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for g in report.groups:
        w.writerow(safe_row(csv_row(g)))
    return buf.getvalue().encode()


def _top(groups: list[Group]) -> list[dict[str, Any]]:
    return [{"path": g.path, "job_class": g.job_class, "error_class": g.error_class, "error_key": g.error_key,
             "submissions": g.submissions, "veterans": g.veterans} for g in groups[:TOP_GROUPS]]


def summary(report: Report) -> dict[str, Any]:
    """The summary.json document."""
    w, est, bad = report.window, report.established, report.malformed
    new, anc, est_groups = (report.sections(s) for s in (SECTION_NEW, SECTION_ANCILLARY, SECTION_ESTABLISHED))
    return {
        "report": "form526_failure_triage", "run_id": report.run_id, "date": w.date,
        "window": {"start": iso(w.start), "end": iso(w.end), "judged_as_of": iso(w.judged_as_of), "source": w.source},
        "empty": report.empty, "message": report.message,
        "new_failures": {"submissions": report.new_failures, "veterans": report.new_failure_veterans,
                         "by_path": report.new_by_path, "groups": len(new), "top": _top(new)},
        "established_no_pdf": {"submissions": est.submissions, "veterans": est.veterans,
                               "in_window": est.in_window, "groups": len(est_groups), "top": _top(est_groups),
                               "by_day": [{"date": d, "submissions": n} for d, n in est.by_day],
                               "example_submission_ids": list(est.examples)},
        "ancillary": {"job_failures": report.ancillary_job_failures, "submissions": report.ancillary_submissions,
                      "veterans": report.ancillary_veterans, "groups": len(anc), "top": _top(anc)},
        "malformed_job_rows": {"job_rows": bad.job_rows, "submissions": bad.submissions,
                               "example_submission_ids": list(bad.examples)},
        "backlog": {"failed": report.backlog_failed, "delivered_or_duplicate": report.backlog_done,
                    "remaining": report.backlog, "ledger_present": report.ledger_present},
        "trend": [t.as_dict() for t in report.trend],
        "alert_threshold": report.alert_threshold, "over_threshold": report.over_threshold,
        "keys": dict(report.keys),
    }


def summary_json(report: Report) -> bytes:
    return json.dumps(summary(report), indent=2, sort_keys=True).encode()


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _group_lines(groups: list[Group], max_rows: int) -> list[str]:
    if not groups:
        return ["  (none)"]
    lines = [f"  {'path':<9}{'subs':>6}{'vets':>6}{'jobs':>6}  {'job class':<24}{'error class':<36}error key",
             "  " + "-" * 116]
    for g in groups[:max_rows]:
        lines.append(f"  {g.path:<9}{g.submissions:>6}{g.veterans:>6}{g.job_failures:>6}  "
                     f"{_cut(g.job_class or '-', 23):<24}{_cut(g.error_class or '-', 35):<36}{_cut(g.error_key, 90)}")
    if len(groups) > max_rows:
        lines.append(f"  ... {len(groups) - max_rows} more groups in triage.csv")
    return lines


def log_table(report: Report, max_rows: int = 40) -> str:
    """A fixed-width table for the task log: ids, counts, classes and error keys only."""
    w, est, bad = report.window, report.established, report.malformed
    lines = [f"failure triage {iso(w.start)} -> {iso(w.end)} (judged as of {iso(w.judged_as_of)}, "
             f"window from {w.source})", report.message]
    if report.new_failures:
        lines.append("by path: " + ", ".join(f"{k} {v}" for k, v in report.new_by_path.items()))
    lines += ["", "NEW FAILURES (submissions that became failed)"]
    lines += _group_lines(report.sections(SECTION_NEW), max_rows)
    lines += ["", f"ESTABLISHED WITHOUT PDF (claims stand; upload the 526 PDF): {est.submissions} submissions, "
                  f"{est.veterans} veterans, {est.in_window} created in the window"]
    lines += _group_lines(report.sections(SECTION_ESTABLISHED), max_rows)
    if est.by_day:
        shown = est.by_day[-LOG_BY_DAY:]
        lines.append("  by creation day: " + ", ".join(f"{d} {n}" for d, n in shown)
                     + (f" (and {len(est.by_day) - len(shown)} earlier days)" if len(est.by_day) > len(shown) else ""))
        lines.append("  newest: " + " ".join(str(i) for i in est.examples))
    lines += ["", "ANCILLARY FAILURES (claims stand; follow the uploads up)"]
    lines += _group_lines(report.sections(SECTION_ANCILLARY), max_rows)
    if bad.job_rows:
        lines += ["", f"malformed bgjob_errors: {bad.job_rows} failing job rows of {bad.submissions} submissions "
                      f"(e.g. {' '.join(str(i) for i in bad.examples)})"]
    lines += ["", f"backlog: {report.backlog_failed} failed, {report.backlog_done} delivered or duplicate, "
                  f"{report.backlog} remaining" + ("" if report.ledger_present else " (no ledger yet)"),
              "", f"  {f'trend, last {len(report.trend)} days':<24}{'new':>5}{'ancillary':>11}{'backlog':>9}"]
    lines += [f"  {t.day.isoformat():<24}{t.new_failures:>5}{t.ancillary_failures:>11}{t.backlog:>9}"
              for t in report.trend]
    if report.alert_threshold is not None:
        lines.append(f"\nalert threshold {report.alert_threshold}: "
                     + ("EXCEEDED" if report.over_threshold else "not exceeded"))
    return "\n".join(lines)


def publish(store: Any, report: Report, *, bucket: str, key_prefix: str) -> dict[str, str]:
    """Write triage.csv, trend.png and summary.json (last, naming the others) under
    ``{key_prefix}/triage/{date}/``; a re-run of the same window overwrites them."""
    base = f"{key_prefix}/triage/{report.window.date}/"
    keys = {"csv": base + "triage.csv", "chart": base + "trend.png", "summary": base + "summary.json"}
    report.keys = {k: f"s3://{bucket}/{v}" for k, v in keys.items()}
    store.put(bucket, keys["csv"], triage_csv(report), content_type="text/csv")
    store.put(bucket, keys["chart"], chart_png(report.trend, f"Form 526 failures, {len(report.trend)} days to "
                                                              f"{report.window.last_day.isoformat()}"),
              content_type="image/png")
    store.put(bucket, keys["summary"], summary_json(report), content_type="application/json")
    return report.keys
