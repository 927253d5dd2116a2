"""Daily triage of Form 526 failures: which submissions became failed in a window, and why.

Pure logic (no Airflow): error-key normalisation, the explanation of each failed submission, grouping
into report rows, the 30-day trend, ``triage.csv`` / ``summary.json`` / log table / PNG chart bytes.
The few source and ledger reads are plain psycopg functions at the bottom, run in READ ONLY
transactions; ``run_triage`` ties them together for the DAG.

Definitions (the DAG's doc_md repeats them for readers):

* **failed** is the vets-api definition (``include/form526/source/sql/submission_state.sql``) judged as of the window
  end (or now, if the window end is in the future).
* **became failed in the window**: failed, and its ``failed_at`` falls in ``[start, end)``; ``failed_at``
  is the moment it stopped being in flight (see ``include/form526/triage/sql/failed.sql``). Each submission
  therefore counts on exactly one day, including those that fail only by ageing out of the 21-day
  window (never attempted, stuck in ``try``, no backup status).
* **error key**: EVSS Ruby-inspect lists (``[{"key"=>"...", "severity"=>"FATAL", "text"=>"..."}]``) are
  parsed by reading ``=>`` as ``:``. Per entry the key loses its ``[n]`` indexes and nothing else (it is
  a fixed identifier, searchable in vets-api as it stands); FATAL entries keep their text, ERROR
  (validation) entries do not (it can echo what the veteran typed), WARN entries are dropped; several
  keys are sorted and joined with ``-``. From every text GUIDs, long hex ids, e-mail addresses and
  digits are stripped. A message that looks like an EVSS list but does not parse becomes
  ``unparsed:<ErrorClass>``, an empty one ``no_message:<ErrorClass>``.
* **backlog**: failed as of the judgement time minus the ids the ledger holds as ``uploaded`` or
  ``duplicate``; the trend's daily figures count only deliveries made by the end of each day.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

TRIAGE_SQL_DIR = Path(__file__).resolve().parent / "sql"
DEFAULT_SCHEDULE = "30 6 * * *"
DEFAULT_ALERT_THRESHOLD = 25
TREND_DAYS = 30
MAX_EXAMPLES = 5
MAX_KEY_CHARS = 200
MAX_TEXT_CHARS = 2_000  # only the head of a text is normalised (the key keeps 200 characters anyway)
MAX_MESSAGE_CHARS = 50_000  # a longer EVSS list is reported unparsed rather than parsed at length
PENDING_WINDOW_DAYS = 21  # vets-api MAX_PENDING_TIME (include.config.PENDING_WINDOW_DAYS)

PRIMARY_JOB_CLASSES = frozenset({"SubmitForm526AllClaim", "SubmitForm526", "PollForm526Pdf"})
BACKUP_JOB_CLASSES = frozenset({"BackupSubmission", "Form526StatusPollingJob"})
ANCILLARY_JOB_CLASSES = ("SubmitUploads", "SubmitForm4142Job", "SubmitForm0781", "SubmitForm8940",
                         "UploadBddInstructions", "SubmitForm526Cleanup")
REJECTION_JOB_CLASSES = ("Form526StatusPollingJob",)
"""Jobs whose ``bgjob_errors`` carry the downstream reason a backup upload was rejected."""
FAILING_STATUSES = ("retryable_error", "non_retryable_error", "exhausted", "pdf_not_found")
DONE_STATES = ("uploaded", "duplicate")
BACKUP_REJECTED = 1  # backup_submitted_claim_status enum

SECTION_NEW = "new_failure"
SECTION_ANCILLARY = "ancillary"
CSV_COLUMNS = ("section", "path", "job_class", "error_class", "error_key", "submissions", "veterans",
               "job_failures", "statuses", "first_seen", "last_seen", "example_submission_ids")

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class TriageParamError(ValueError):
    """The run's parameters are unusable; one sentence naming the parameter and the rule."""


# =============================================================================== error keys

_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_GUID_LABEL_RE = re.compile(r"\bGUID\b\s*[:=#]?\s*", re.IGNORECASE)
_HEX_RE = re.compile(r"\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{16,}\b")
_EMAIL_RE = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+")
_INDEX_RE = re.compile(r"\[\d*\]|\\|\.\d+(?=\.|$)")
_DIGITS_RE = re.compile(r"\d+")
_LETTER_RE = re.compile(r"[^\W\d_]")
_RUBY_NIL_RE = re.compile(r"(?<=[:\[,])\s*nil\s*(?=[,}\]])")
_RUBY_SYMBOL_HASH_RE = re.compile(r"\{\s*:\w+\s*=>")
_RUBY_PAIR_RE = re.compile(r':(\w+)\s*=>\s*("(?:[^"\\]|\\.)*"|nil|[^,}]+)')


def normalise_text(text: str) -> str:
    """Strip what varies between occurrences of one cause: GUIDs, hex ids, e-mail addresses, digits.

    A word that was only digits and punctuation (a date, a time, a count) disappears with its
    punctuation; whitespace, newlines included, folds to single spaces.
    """
    text = _UUID_RE.sub(" ", text[:MAX_TEXT_CHARS])
    text = _GUID_LABEL_RE.sub(" ", text)
    text = _HEX_RE.sub(" ", text)
    text = _EMAIL_RE.sub("<email>", text)
    words = []
    for word in text.split():
        stripped = _DIGITS_RE.sub("", word)
        if stripped != word and not _LETTER_RE.search(stripped):
            continue  # "2024-01-02", "10:11:12", "(503)": nothing left worth keeping
        words.append(stripped)
    return " ".join(words).strip(" :;,-")


def _clip(key: str) -> str:
    return key if len(key) <= MAX_KEY_CHARS else key[: MAX_KEY_CHARS - 1] + "…"


def looks_like_evss(message: str) -> bool:
    """An EVSS error list as vets-api stored it: the Ruby inspect of an array (or one hash) of hashes."""
    m = message.strip()
    return "=>" in m and (m.startswith("[{") or m.startswith('{"') or m.startswith("[ {"))


def parse_evss(message: str) -> list[dict[str, Any]] | None:
    """The entries of an EVSS Ruby-inspect error list, or None when it does not parse.

    vets-api's ``form526:errors`` rake task does ``JSON.parse(message.gsub('=>', ':'))``; Ruby ``nil``
    values are turned into ``null`` as well.
    """
    text = message.strip().replace("=>", ":")
    for candidate in (text, _RUBY_NIL_RE.sub(" null", text)):
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, dict):
            data = [data]
        if isinstance(data, list) and data and all(isinstance(e, dict) for e in data):
            return data
        return None
    return None


def _evss_key(entries: Sequence[Mapping[str, Any]]) -> str | None:
    tokens: set[str] = set()
    usable = [e for e in entries if str(e.get("severity") or "").upper() != "WARN"] or list(entries)
    for entry in usable:
        raw_key = entry.get("key")
        if not isinstance(raw_key, str) or not raw_key.strip():
            return None
        key = _INDEX_RE.sub("", raw_key.strip())
        severity = str(entry.get("severity") or "FATAL").upper()
        text = entry.get("text")
        if severity not in ("ERROR", "WARN") and isinstance(text, str) and normalise_text(text):
            tokens.add(f"{key}: {normalise_text(text)}")
        else:
            tokens.add(key)
    return "-".join(sorted(tokens)) if tokens else None


def _ruby_hash_key(message: str) -> str | None:
    """``BackendServiceException: {:status=>502, :detail=>nil, :code=>"EVSS502"}`` -> readable pairs."""
    start = message.find("{")
    prefix = normalise_text(message[:start])
    pairs = []
    for name, value in _RUBY_PAIR_RE.findall(message[start:]):
        value = value.strip()
        if value == "nil":
            continue
        value = normalise_text(value.strip('"'))
        if value:
            pairs.append(f"{name}={value}")
    if not pairs:
        return None
    return f"{prefix}: {' '.join(sorted(pairs))}" if prefix else " ".join(sorted(pairs))


def error_key(error_class: str | None, error_message: str | None) -> str:
    """The normalised key one cause of failure is grouped under (never raises)."""
    cls = _clip(" ".join(str(error_class).split()) if error_class is not None else "") or "unknown"
    try:
        if error_message is not None and not isinstance(error_message, str):
            error_message = str(error_message)
        if error_message is None or not error_message.strip():
            return _clip(f"no_message:{cls}")
        error_message = error_message[:MAX_MESSAGE_CHARS]
        if looks_like_evss(error_message):
            entries = parse_evss(error_message)
            key = _evss_key(entries) if entries else None
            return _clip(key) if key else _clip(f"unparsed:{cls}")
        if _RUBY_SYMBOL_HASH_RE.search(error_message):
            key = _ruby_hash_key(error_message)
            if key:
                return _clip(key)
        key = normalise_text(error_message)
        return _clip(key) if key else _clip(f"unparsed:{cls}")
    except Exception:  # bad input must never stop the report
        return _clip(f"unparsed:{cls}")


def job_path(job_class: str) -> str:
    """primary, backup, ancillary or other."""
    if job_class in PRIMARY_JOB_CLASSES:
        return "primary"
    if job_class in BACKUP_JOB_CLASSES:
        return "backup"
    if job_class in ANCILLARY_JOB_CLASSES:
        return "ancillary"
    return "other"


# =============================================================================== window


@dataclass(frozen=True)
class Window:
    """``[start, end)`` in naive UTC; failures are judged as of ``judged_as_of`` = min(end, now)."""

    start: datetime
    end: datetime
    judged_as_of: datetime
    source: str  # "params" or "data_interval"

    @property
    def date(self) -> str:
        """The report's date: the window end date (YYYY-MM-DD)."""
        return self.end.date().isoformat()

    @property
    def last_day(self) -> date:
        """The last calendar day the window touches (the trend ends there)."""
        return (self.end - timedelta(microseconds=1)).date()

    def as_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(),
                "judged_as_of": self.judged_as_of.isoformat(), "source": self.source}

    @classmethod
    def from_dict(cls, d: Mapping[str, str]) -> Window:
        return cls(datetime.fromisoformat(d["start"]), datetime.fromisoformat(d["end"]),
                   datetime.fromisoformat(d["judged_as_of"]), d["source"])


def naive_utc(value: datetime) -> datetime:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _param_date(value: Any, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not DATE_RE.match(value):
        raise TriageParamError(f"{name} must be a date written YYYY-MM-DD")
    try:
        return datetime.combine(date.fromisoformat(value), time())
    except ValueError:
        raise TriageParamError(f"{name} is not a real calendar date") from None


def resolve_window(params: Mapping[str, Any], *, interval_start: datetime | None, interval_end: datetime | None,
                   now: datetime) -> Window:
    """The window of a run: ``window_start``/``window_end`` (whole UTC days, end exclusive) when given,
    else the run's data interval. One date alone means one day. A future end is judged as of now."""
    now = naive_utc(now)
    start = _param_date(params.get("window_start"), "window_start")
    end = _param_date(params.get("window_end"), "window_end")
    if start or end:
        start = start or end - timedelta(days=1)  # type: ignore[operator]
        end = end or start + timedelta(days=1)
        source = "params"
    else:
        end = naive_utc(interval_end) if interval_end else now
        start = naive_utc(interval_start) if interval_start else end - timedelta(days=1)
        source = "data_interval"
    if start >= end:
        raise TriageParamError("window_start must be earlier than window_end (the end date is exclusive)")
    if start >= now:
        raise TriageParamError("window_start is in the future: there is nothing to triage yet")
    return Window(start, end, min(end, now), source)


def check_threshold_param(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TriageParamError("alert_threshold must be a non-negative integer, or null to never alert")
    return value


# =============================================================================== explanations


@dataclass(frozen=True)
class FailedSubmission:
    id: int
    user_uuid: str
    created_at: datetime
    failed_at: datetime
    has_claim_id: bool = False
    has_backup_id: bool = False
    backup_status: int | None = None


@dataclass(frozen=True)
class JobRow:
    submission_id: int
    job_class: str
    status: str
    error_class: str | None
    error_message: str | None
    updated_at: datetime
    bgjob_errors: Any = None
    user_uuid: str = ""


@dataclass(frozen=True)
class Cause:
    """One reason a submission is failed (or, in the ancillary section, one failed ancillary job)."""

    path: str
    job_class: str
    error_class: str
    error_key: str
    status: str
    seen_at: datetime


def _latest_bgjob_error(bgjob_errors: Any) -> tuple[str | None, str | None, str | None] | None:
    """(error_class, error_message, timestamp) of the newest ``bgjob_errors`` entry, or None."""
    if isinstance(bgjob_errors, str):
        try:
            bgjob_errors = json.loads(bgjob_errors)
        except ValueError:
            return None
    if not isinstance(bgjob_errors, dict):
        return None
    entries = [(k, v) for k, v in bgjob_errors.items() if isinstance(v, dict)]
    if not entries:
        return None

    def order(item: tuple[str, dict]) -> tuple[int, str]:
        key = item[0]
        return (int(key), key) if key.isdigit() else (-1, key)

    _, entry = max(entries, key=order)

    def text(value: Any) -> str | None:
        return None if value is None else str(value)

    return text(entry.get("error_class")), text(entry.get("error_message")), text(entry.get("timestamp"))


def explain(sub: FailedSubmission, rows: Sequence[JobRow]) -> list[Cause]:
    """Every reason ``sub`` is failed: its failing primary/backup job rows, the downstream rejection of a
    backup upload, and, when a path recorded no error at all, a ``no_job_error:<why>`` cause, so each
    failed submission is explained at least once (on the primary path)."""
    causes = [Cause(job_path(r.job_class), r.job_class, r.error_class or "", error_key(r.error_class, r.error_message),
                    r.status, r.updated_at)
              for r in rows if r.status in FAILING_STATUSES and job_path(r.job_class) != "ancillary"]
    if not any(c.path == "primary" for c in causes):
        primary_rows = [r for r in rows if job_path(r.job_class) == "primary"]
        if sub.has_claim_id:
            why = "claim_established_pdf_not_confirmed"  # claims_api without a successful PollForm526Pdf
        elif not primary_rows:
            why = "never_attempted"
        elif all(r.status in ("try", "pending") for r in primary_rows):
            why = "stuck_in_try"
        else:
            why = "no_error_recorded"
        causes.append(Cause("primary", "", "", f"no_job_error:{why}", "", sub.failed_at))
    if sub.backup_status == BACKUP_REJECTED:
        reasons = [(r, _latest_bgjob_error(r.bgjob_errors)) for r in rows if r.job_class in REJECTION_JOB_CLASSES]
        reasons = [(r, e) for r, e in reasons if e is not None]
        if reasons:
            row, (cls, msg, _) = max(reasons, key=lambda x: x[0].updated_at)
            causes.append(Cause("backup", row.job_class, cls or "", error_key(cls, msg), "rejected", row.updated_at))
        else:
            causes.append(Cause("backup", "", "", "no_job_error:backup_rejected_no_reason", "rejected",
                                sub.failed_at))
    elif sub.has_backup_id and sub.backup_status is None and not any(c.path == "backup" for c in causes):
        causes.append(Cause("backup", "", "", "no_job_error:backup_status_never_received", "", sub.failed_at))
    return causes


def ancillary_cause(row: JobRow) -> Cause:
    return Cause("ancillary", row.job_class, row.error_class or "", error_key(row.error_class, row.error_message),
                 row.status, row.updated_at)


# =============================================================================== grouping


@dataclass
class Group:
    section: str
    path: str
    job_class: str
    error_class: str
    error_key: str
    submissions: set[int] = field(default_factory=set)
    veterans: set[str] = field(default_factory=set)
    job_failures: int = 0
    statuses: Counter = field(default_factory=Counter)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    _latest: dict[int, datetime] = field(default_factory=dict, repr=False)

    def add(self, cause: Cause, submission_id: int, user_uuid: str) -> None:
        self.submissions.add(submission_id)
        if user_uuid:
            self.veterans.add(user_uuid)
        if cause.job_class:
            self.job_failures += 1
        if cause.status:
            self.statuses[cause.status] += 1
        seen = cause.seen_at
        self.first_seen = seen if self.first_seen is None else min(self.first_seen, seen)
        self.last_seen = seen if self.last_seen is None else max(self.last_seen, seen)
        if seen > self._latest.get(submission_id, datetime.min):
            self._latest[submission_id] = seen

    def examples(self, n: int = MAX_EXAMPLES) -> list[int]:
        """The submissions seen most recently (ties: higher id first)."""
        return [sid for sid, _ in sorted(self._latest.items(), key=lambda x: (x[1], x[0]), reverse=True)[:n]]

    def csv_row(self) -> list[Any]:
        return [self.section, self.path, self.job_class, self.error_class, self.error_key, len(self.submissions),
                len(self.veterans), self.job_failures,
                " ".join(f"{k}={v}" for k, v in sorted(self.statuses.items())),
                _iso(self.first_seen), _iso(self.last_seen), " ".join(str(i) for i in self.examples())]


def _iso(value: datetime | None) -> str:
    return "" if value is None else naive_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


class Grouper:
    def __init__(self) -> None:
        self._groups: dict[tuple[str, str, str, str, str], Group] = {}

    def add(self, section: str, cause: Cause, submission_id: int, user_uuid: str) -> None:
        key = (section, cause.path, cause.job_class, cause.error_class, cause.error_key)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = Group(section, *key[1:])
        group.add(cause, submission_id, user_uuid)

    def rows(self) -> list[Group]:
        order = {SECTION_NEW: 0, SECTION_ANCILLARY: 1}
        return sorted(self._groups.values(),
                      key=lambda g: (order.get(g.section, 9), -len(g.submissions), -g.job_failures, g.path,
                                     g.error_key, g.job_class, g.error_class))


# =============================================================================== trend and report


@dataclass(frozen=True)
class TrendDay:
    day: date
    new_failures: int
    ancillary_failures: int
    backlog: int

    def as_dict(self) -> dict[str, Any]:
        return {"date": self.day.isoformat(), "new_failures": self.new_failures,
                "ancillary_failures": self.ancillary_failures, "backlog": self.backlog}


def build_trend(window: Window, failed: Sequence[FailedSubmission], ancillary_times: Iterable[datetime],
                done: Mapping[int, datetime], days: int = TREND_DAYS) -> list[TrendDay]:
    """Per day for the ``days`` days ending on the window's last day: submissions that became failed,
    ancillary job failures, and the backlog at the end of the day (failed by then, minus delivered by
    then), each day cut at the window end."""
    failed_at = sorted(f.failed_at for f in failed)
    resolved = sorted(max(f.failed_at, done[f.id]) for f in failed if f.id in done)
    anc = sorted(ancillary_times)
    out = []
    for k in range(days - 1, -1, -1):
        day = window.last_day - timedelta(days=k)
        lo = datetime.combine(day, time())
        hi = min(lo + timedelta(days=1), window.end)
        out.append(TrendDay(
            day=day,
            new_failures=bisect.bisect_left(failed_at, hi) - bisect.bisect_left(failed_at, lo),
            ancillary_failures=bisect.bisect_left(anc, hi) - bisect.bisect_left(anc, lo),
            backlog=bisect.bisect_left(failed_at, hi) - bisect.bisect_left(resolved, hi)))
    return out


@dataclass
class Report:
    window: Window
    groups: list[Group]
    new_failures: int
    new_failure_veterans: int
    new_by_path: dict[str, int]
    ancillary_job_failures: int
    ancillary_submissions: int
    ancillary_veterans: int
    backlog_failed: int
    backlog_done: int
    ledger_present: bool
    trend: list[TrendDay]
    alert_threshold: int | None = None
    run_id: str = ""
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def backlog(self) -> int:
        return self.backlog_failed - self.backlog_done

    @property
    def empty(self) -> bool:
        return self.new_failures == 0 and self.ancillary_job_failures == 0

    @property
    def over_threshold(self) -> bool:
        return self.alert_threshold is not None and self.new_failures > self.alert_threshold

    @property
    def message(self) -> str:
        span = f"between {_iso(self.window.start)} and {_iso(self.window.end)}"
        if self.empty:
            return f"Empty report: no submission became failed and no ancillary job failed {span}."
        return (f"{self.new_failures} submissions ({self.new_failure_veterans} veterans) became failed and "
                f"{self.ancillary_job_failures} ancillary jobs failed {span}.")

    def summary(self) -> dict[str, Any]:
        new = [g for g in self.groups if g.section == SECTION_NEW]
        anc = [g for g in self.groups if g.section == SECTION_ANCILLARY]

        def top(groups: list[Group]) -> list[dict[str, Any]]:
            return [{"path": g.path, "job_class": g.job_class, "error_class": g.error_class,
                     "error_key": g.error_key, "submissions": len(g.submissions), "veterans": len(g.veterans)}
                    for g in groups[:10]]

        return {
            "report": "form526_failure_triage", "run_id": self.run_id, "date": self.window.date,
            "window": {"start": _iso(self.window.start), "end": _iso(self.window.end),
                       "judged_as_of": _iso(self.window.judged_as_of), "source": self.window.source},
            "empty": self.empty, "message": self.message,
            "new_failures": {"submissions": self.new_failures, "veterans": self.new_failure_veterans,
                             "by_path": self.new_by_path, "groups": len(new), "top": top(new)},
            "ancillary": {"job_failures": self.ancillary_job_failures, "submissions": self.ancillary_submissions,
                          "veterans": self.ancillary_veterans, "groups": len(anc), "top": top(anc)},
            "backlog": {"failed": self.backlog_failed, "delivered_or_duplicate": self.backlog_done,
                        "remaining": self.backlog, "ledger_present": self.ledger_present},
            "trend": [t.as_dict() for t in self.trend],
            "alert_threshold": self.alert_threshold, "over_threshold": self.over_threshold,
            "keys": dict(self.keys),
        }


def build_report(window: Window, failed: Sequence[FailedSubmission], job_rows: Iterable[JobRow],
                 ancillary_rows: Iterable[JobRow], done: Mapping[int, datetime] | None, *,
                 alert_threshold: int | None = None, run_id: str = "", trend_days: int = TREND_DAYS) -> Report:
    """Group the window's new failures and ancillary failures; count the backlog and the trend.

    ``failed``: every submission failed as of the window's judgement time; ``job_rows``: the non-ancillary
    job rows of those that became failed in the window; ``ancillary_rows``: ancillary failures updated
    from the trend's first day (or the window start, if earlier) to the window end; ``done``: ledger id ->
    when delivered or skipped as duplicate (None when there is no ledger yet).
    """
    new = {f.id: f for f in failed if window.start <= f.failed_at < window.end}
    rows_by_sub: dict[int, list[JobRow]] = defaultdict(list)
    for r in job_rows:
        if r.submission_id in new:
            rows_by_sub[r.submission_id].append(r)
    grouper = Grouper()
    by_path: Counter[str] = Counter()
    for sid in sorted(new):
        sub = new[sid]
        causes = explain(sub, rows_by_sub.get(sid, []))
        for path in {c.path for c in causes}:
            by_path[path] += 1
        for cause in causes:
            grouper.add(SECTION_NEW, cause, sid, sub.user_uuid)
    anc_times: list[datetime] = []
    anc_subs: set[int] = set()
    anc_vets: set[str] = set()
    anc_jobs = 0
    for r in ancillary_rows:
        anc_times.append(r.updated_at)
        if window.start <= r.updated_at < window.end:
            anc_jobs += 1
            anc_subs.add(r.submission_id)
            if r.user_uuid:
                anc_vets.add(r.user_uuid)
            grouper.add(SECTION_ANCILLARY, ancillary_cause(r), r.submission_id, r.user_uuid)
    ledger_present = done is not None
    done = done or {}
    failed_ids = {f.id for f in failed}
    return Report(
        window=window, groups=grouper.rows(), new_failures=len(new),
        new_failure_veterans=len({f.user_uuid for f in new.values()}),
        new_by_path=dict(sorted(by_path.items())), ancillary_job_failures=anc_jobs,
        ancillary_submissions=len(anc_subs), ancillary_veterans=len(anc_vets),
        backlog_failed=len(failed_ids), backlog_done=len(failed_ids & done.keys()),
        ledger_present=ledger_present, trend=build_trend(window, failed, anc_times, done, trend_days),
        alert_threshold=alert_threshold, run_id=run_id)


# =============================================================================== outputs


def triage_csv(report: Report) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for g in report.groups:
        w.writerow(g.csv_row())
    return buf.getvalue().encode()


def summary_json(report: Report) -> bytes:
    return json.dumps(report.summary(), indent=2, sort_keys=True).encode()


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def log_table(report: Report, max_rows: int = 40) -> str:
    """A fixed-width table for the task log: ids, counts, classes and error keys only."""
    w = report.window
    lines = [f"failure triage {_iso(w.start)} -> {_iso(w.end)} (judged as of {_iso(w.judged_as_of)}, "
             f"window from {w.source})", report.message]
    if report.new_failures:
        lines.append("by path: " + ", ".join(f"{k} {v}" for k, v in report.new_by_path.items()))
    for section, title in ((SECTION_NEW, "NEW FAILURES (submissions that became failed)"),
                           (SECTION_ANCILLARY, "ANCILLARY FAILURES (claims stand; follow the uploads up)")):
        groups = [g for g in report.groups if g.section == section]
        lines += ["", title]
        if not groups:
            lines.append("  (none)")
            continue
        lines.append(f"  {'path':<9}{'subs':>6}{'vets':>6}{'jobs':>6}  {'job class':<24}{'error class':<36}error key")
        lines.append("  " + "-" * 116)
        for g in groups[:max_rows]:
            lines.append(f"  {g.path:<9}{len(g.submissions):>6}{len(g.veterans):>6}{g.job_failures:>6}  "
                         f"{_cut(g.job_class or '-', 23):<24}{_cut(g.error_class or '-', 35):<36}"
                         f"{_cut(g.error_key, 90)}")
        if len(groups) > max_rows:
            lines.append(f"  ... {len(groups) - max_rows} more groups in triage.csv")
    lines += ["", f"backlog: {report.backlog_failed} failed, {report.backlog_done} delivered or duplicate, "
                  f"{report.backlog} remaining" + ("" if report.ledger_present else " (no ledger yet)"),
              "", f"  {f'trend, last {len(report.trend)} days':<24}{'new':>5}{'ancillary':>11}{'backlog':>9}"]
    lines += [f"  {t.day.isoformat():<24}{t.new_failures:>5}{t.ancillary_failures:>11}{t.backlog:>9}"
              for t in report.trend]
    if report.alert_threshold is not None:
        lines.append(f"\nalert threshold {report.alert_threshold}: "
                     + ("EXCEEDED" if report.over_threshold else "not exceeded"))
    return "\n".join(lines)


def chart_png(trend: Sequence[TrendDay], title: str = "Form 526 failures") -> bytes:
    """A small PNG (800x340) of the trend, rendered in memory on matplotlib's Agg canvas (no pyplot,
    no global backend switch, nothing on disk)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(8, 3.4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x = list(range(len(trend)))
    new = [t.new_failures for t in trend]
    anc = [t.ancillary_failures for t in trend]
    backlog = [t.backlog for t in trend]
    ax.bar(x, new, color="#c0392b", label="became failed")
    ax.bar(x, anc, bottom=new, color="#f0b27a", label="ancillary job failures")
    ax.set_ylabel("per day")
    ax.set_ylim(0, max([*(a + b for a, b in zip(new, anc, strict=True)), 1]) * 1.15)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ticks = sorted(x[::-7])  # weekly, ending on the last day
    ax.set_xticks(ticks)
    ax.set_xticklabels([trend[i].day.strftime("%m-%d") for i in ticks], fontsize=8)
    ax2 = ax.twinx()
    ax2.plot(x, backlog, color="#1f4e79", marker=".", label="backlog (failed, not delivered)")
    ax2.set_ylabel("backlog")
    ax2.set_ylim(0, max([*backlog, 1]) * 1.15)
    ax2.yaxis.set_major_locator(MaxNLocator(integer=True))
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, fontsize=8,
              frameon=False)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


# =============================================================================== reads


def _stream(conn, sql: str, params: Mapping[str, Any], name: str, itersize: int = 2000) -> Iterator[tuple]:
    with conn.cursor(name=name) as cur:
        cur.itersize = itersize
        cur.execute(sql, params)
        yield from cur


def failed_sql() -> str:
    from include.form526.source.selection import SUBMISSION_STATE_SQL, load_sql

    return f"WITH s AS ({SUBMISSION_STATE_SQL})\n{load_sql('failed.sql', TRIAGE_SQL_DIR)}"


def read_failed(conn, as_of: datetime, pending_window_days: int = PENDING_WINDOW_DAYS) -> list[FailedSubmission]:
    """Every submission failed as of ``as_of``, with ``failed_at`` (call inside a read-only transaction)."""
    from include.form526.source.selection import state_params

    return [FailedSubmission(sid, user, created, failed_at, bool(claim), bool(backup), status)
            for sid, user, created, failed_at, claim, backup, status
            in _stream(conn, failed_sql(), state_params(as_of, pending_window_days), "triage_failed")]


def read_job_rows(conn, ids: Sequence[int]) -> Iterator[JobRow]:
    from include.form526.source.selection import load_sql

    if not ids:
        return
    params = {"ids": list(ids), "ancillary": list(ANCILLARY_JOB_CLASSES),
              "rejection_classes": list(REJECTION_JOB_CLASSES)}
    sql = load_sql("job_rows.sql", TRIAGE_SQL_DIR)
    for sid, cls, status, ecls, msg, at, bg in _stream(conn, sql, params, "triage_jobs"):
        yield JobRow(sid, cls, status, ecls, msg, at, bg)


def read_ancillary(conn, start: datetime, end: datetime) -> Iterator[JobRow]:
    from include.form526.source.selection import load_sql

    params = {"classes": list(ANCILLARY_JOB_CLASSES), "statuses": list(FAILING_STATUSES),
              "start": naive_utc(start), "end": naive_utc(end)}
    for sid, user, cls, status, ecls, msg, at in _stream(conn, load_sql("ancillary.sql", TRIAGE_SQL_DIR), params,
                                                        "triage_ancillary"):
        yield JobRow(sid, cls, status, ecls, msg, at, user_uuid=user or "")


def read_done(ledger_conn) -> dict[int, datetime] | None:
    """Ledger ids delivered or skipped as duplicates, with when; None when the ledger has no tables yet
    (the triage never creates them: it only reads)."""
    from include.form526.source.selection import load_sql

    if ledger_conn.execute("SELECT to_regclass('form526_deliveries')").fetchone()[0] is None:
        return None
    rows = ledger_conn.execute(load_sql("ledger_done.sql", TRIAGE_SQL_DIR), {"states": list(DONE_STATES)})
    return {sid: naive_utc(at) for sid, _state, at in rows}


def run_triage(source_conn, ledger_conn, window: Window, *, alert_threshold: int | None, run_id: str = "",
               pending_window_days: int = PENDING_WINDOW_DAYS, trend_days: int = TREND_DAYS) -> Report:
    """Read the source (one READ ONLY, REPEATABLE READ snapshot) and the ledger (read only) and build
    the report. Nothing is written anywhere."""
    from include.form526.source.extraction import read_only

    trend_start = datetime.combine(window.last_day - timedelta(days=trend_days - 1), time())
    with read_only(source_conn):
        source_conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        failed = read_failed(source_conn, window.judged_as_of, pending_window_days)
        new_ids = [f.id for f in failed if window.start <= f.failed_at < window.end]
        job_rows = list(read_job_rows(source_conn, new_ids))
        ancillary = list(read_ancillary(source_conn, min(window.start, trend_start), window.end))
    with read_only(ledger_conn):
        done = read_done(ledger_conn)
    return build_report(window, failed, job_rows, ancillary, done, alert_threshold=alert_threshold,
                        run_id=run_id, trend_days=trend_days)


def publish(store, report: Report, *, bucket: str, key_prefix: str) -> dict[str, str]:
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
