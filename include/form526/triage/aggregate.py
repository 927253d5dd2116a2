"""Counting with pandas: causes grouped by error key, distinct veterans, the daily trend, the report.

Every cause becomes one row of a DataFrame (section, path, job class, error class, error key, submission,
veteran, status, when); groups, per-path counts, the established-claims section and the malformed count
are group-bys over it. Veterans are counted by ``veteran_key`` (one veteran across sign-in credentials).
The trend counts, per day of the last ``TREND_DAYS`` days ending on the window's last day (each day cut
at the window end): submissions that became failed, ancillary job failures, and the backlog at the end of
the day (failed by then, minus delivered or duplicate by then).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd

from include.form526.triage.explain import (
    Cause,
    EstablishedClaim,
    FailedSubmission,
    JobRow,
    ancillary_cause,
    established_cause,
    explain,
)
from include.form526.triage.identity import NO_IDENTITY, Identity
from include.form526.triage.window import TREND_DAYS, Window, iso

MAX_EXAMPLES = 5

SECTION_NEW = "new_failure"
SECTION_ESTABLISHED = "established_no_pdf"
SECTION_ANCILLARY = "ancillary"
SECTION_ORDER = {SECTION_NEW: 0, SECTION_ESTABLISHED: 1, SECTION_ANCILLARY: 2}
GROUP_KEYS = ("section", "path", "job_class", "error_class", "error_key")
CAUSE_COLUMNS = (*GROUP_KEYS, "submission_id", "veteran_key", "status", "seen_at", "malformed", "job_failure")


@dataclass(frozen=True)
class Group:
    """One report row: the causes sharing section, path, job class, error class and error key."""

    section: str
    path: str
    job_class: str
    error_class: str
    error_key: str
    submissions: int
    veterans: int
    job_failures: int
    statuses: dict[str, int]
    first_seen: datetime | None
    last_seen: datetime | None
    examples: tuple[int, ...]  # the submissions seen most recently (ties: higher id first)


@dataclass(frozen=True)
class TrendDay:
    """One day of the trend."""

    day: date
    new_failures: int
    ancillary_failures: int
    backlog: int

    def as_dict(self) -> dict[str, Any]:
        return {"date": self.day.isoformat(), "new_failures": self.new_failures,
                "ancillary_failures": self.ancillary_failures, "backlog": self.backlog}


@dataclass(frozen=True)
class Established:
    """Established Lighthouse claims whose PDF was never confirmed: someone must upload the PDF."""

    submissions: int = 0
    veterans: int = 0
    in_window: int = 0  # created in the window
    by_day: tuple[tuple[str, int], ...] = ()  # (creation day, submissions), oldest first
    examples: tuple[int, ...] = ()


@dataclass(frozen=True)
class Malformed:
    """Failing job rows whose ``bgjob_errors`` could not be read (not an object, or non-object entries)."""

    job_rows: int = 0
    submissions: int = 0
    examples: tuple[int, ...] = ()


@dataclass
class Report:
    """Everything a triage run found; outputs.py renders it."""

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
    established: Established = field(default_factory=Established)
    malformed: Malformed = field(default_factory=Malformed)
    alert_threshold: int | None = None
    run_id: str = ""
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def backlog(self) -> int:
        return self.backlog_failed - self.backlog_done

    @property
    def empty(self) -> bool:
        """Nothing happened in the window: no new failure, no ancillary failure, no new established claim."""
        return self.new_failures == 0 and self.ancillary_job_failures == 0 and self.established.in_window == 0

    @property
    def over_threshold(self) -> bool:
        return self.alert_threshold is not None and self.new_failures > self.alert_threshold

    @property
    def message(self) -> str:
        span = f"between {iso(self.window.start)} and {iso(self.window.end)}"
        waiting = (f"; {self.established.submissions} established claims await their PDF "
                   f"({self.established.in_window} created in the window)" if self.established.submissions else "")
        if self.empty:
            return f"Empty report: no submission became failed and no ancillary job failed {span}{waiting}."
        return (f"{self.new_failures} submissions ({self.new_failure_veterans} veterans) became failed and "
                f"{self.ancillary_job_failures} ancillary jobs failed {span}{waiting}.")

    def sections(self, section: str) -> list[Group]:
        """The groups of one section, in report order."""
        return [g for g in self.groups if g.section == section]


def causes_frame(records: Iterable[Sequence[Any]]) -> pd.DataFrame:
    """A DataFrame of cause records (CAUSE_COLUMNS)."""
    df = pd.DataFrame.from_records(list(records), columns=list(CAUSE_COLUMNS))
    df["seen_at"] = pd.to_datetime(df["seen_at"])
    df["malformed"] = df["malformed"].astype(bool)
    df["job_failure"] = df["job_failure"].astype(int)
    return df


def _record(section: str, cause: Cause, submission_id: int, veteran_key: str) -> tuple[Any, ...]:
    return (section, cause.path, cause.job_class, cause.error_class, cause.error_key, submission_id,
            veteran_key, cause.status, cause.seen_at, cause.malformed,
            bool(cause.job_class) and section != SECTION_ESTABLISHED)  # a poll row awaiting a PDF is no job failure


def _veterans(df: pd.DataFrame) -> pd.Series:
    return df["veteran_key"].where(df["veteran_key"] != "")


def _ids(values: Iterable[Any]) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


def _when(value: Any) -> datetime | None:
    return None if pd.isna(value) else pd.Timestamp(value).to_pydatetime()


def group_causes(df: pd.DataFrame) -> list[Group]:
    """One Group per (section, path, job class, error class, error key), largest first within a section."""
    if df.empty:
        return []
    keys = list(GROUP_KEYS)
    df = df.assign(veteran=_veterans(df))
    agg = df.groupby(keys, sort=False).agg(
        submissions=("submission_id", "nunique"), veterans=("veteran", "nunique"), job_failures=("job_failure", "sum"),
        first_seen=("seen_at", "min"), last_seen=("seen_at", "max"))
    statuses: dict[tuple, dict[str, int]] = defaultdict(dict)
    for (*key, status), n in df[df["status"] != ""].groupby([*keys, "status"]).size().items():
        statuses[tuple(key)][status] = int(n)
    latest = (df.groupby([*keys, "submission_id"])["seen_at"].max().reset_index()
              .sort_values(["seen_at", "submission_id"], ascending=False))
    examples = latest.groupby(keys, sort=False).head(MAX_EXAMPLES).groupby(keys, sort=False)["submission_id"]
    example_ids = {k: _ids(v) for k, v in examples}
    groups = [Group(*key, submissions=int(row.submissions), veterans=int(row.veterans),
                    job_failures=int(row.job_failures), statuses=dict(sorted(statuses[key].items())),
                    first_seen=_when(row.first_seen), last_seen=_when(row.last_seen), examples=example_ids[key])
              for key, row in zip(agg.index, agg.itertuples(index=False), strict=True)]
    return sorted(groups, key=lambda g: (SECTION_ORDER.get(g.section, 9), -g.submissions, -g.job_failures, g.path,
                                         g.error_key, g.job_class, g.error_class))


def trend_frame(window: Window, failed_at: Iterable[datetime], ancillary_at: Iterable[datetime],
                resolved_at: Iterable[datetime], days: int = TREND_DAYS) -> pd.DataFrame:
    """Per day (index) of the ``days`` days ending on the window's last day: new_failures,
    ancillary_failures and backlog at the end of the day, each day cut at the window end."""
    index = pd.date_range(end=pd.Timestamp(window.last_day), periods=days, freq="D", unit="us")
    end = pd.Timestamp(window.end)

    def daily(times: Iterable[datetime]) -> tuple[pd.Series, pd.Series]:
        s = pd.Series(list(times), dtype="datetime64[us]")
        s = s[s < end]
        per_day = s.dt.floor("D").value_counts().reindex(index, fill_value=0)
        return per_day, int((s < index[0]).sum()) + per_day.cumsum()

    new, new_total = daily(failed_at)
    anc, _ = daily(ancillary_at)
    _, resolved_total = daily(resolved_at)
    return pd.DataFrame({"new_failures": new, "ancillary_failures": anc, "backlog": new_total - resolved_total},
                        index=index)


def build_trend(window: Window, failed: Sequence[FailedSubmission], ancillary_times: Iterable[datetime],
                done: Mapping[int, datetime], days: int = TREND_DAYS) -> list[TrendDay]:
    """The trend as TrendDays; a failed submission leaves the backlog when delivered (never before it failed)."""
    resolved = [max(f.failed_at, done[f.id]) for f in failed if f.id in done]
    frame = trend_frame(window, (f.failed_at for f in failed), ancillary_times, resolved, days)
    return [TrendDay(day.date(), int(r.new_failures), int(r.ancillary_failures), int(r.backlog))
            for day, r in zip(frame.index, frame.itertuples(index=False), strict=True)]


def _established(window: Window, claims: Sequence[EstablishedClaim]) -> Established:
    if not claims:
        return Established()
    df = pd.DataFrame({"id": [c.id for c in claims], "veteran_key": [c.veteran_key for c in claims],
                       "created_at": pd.to_datetime([c.created_at for c in claims])})
    by_day = df["created_at"].dt.strftime("%Y-%m-%d").value_counts().sort_index()
    newest = df.sort_values(["created_at", "id"], ascending=False)["id"].head(MAX_EXAMPLES)
    return Established(
        submissions=int(df["id"].nunique()), veterans=int(_veterans(df).nunique()),
        in_window=int(((df["created_at"] >= window.start) & (df["created_at"] < window.end)).sum()),
        by_day=tuple((str(d), int(n)) for d, n in by_day.items()), examples=_ids(newest))


def build_report(window: Window, failed: Sequence[FailedSubmission], job_rows: Iterable[JobRow],
                 ancillary_rows: Iterable[JobRow], done: Mapping[int, datetime] | None, *,
                 established: Sequence[EstablishedClaim] = (), identities: Mapping[int, Identity] | None = None,
                 alert_threshold: int | None = None, run_id: str = "", trend_days: int = TREND_DAYS) -> Report:
    """Group the window's new failures and ancillary failures, list the established claims awaiting their
    PDF, count the backlog and the trend.

    ``failed``: every submission failed as of the window's judgement time; ``job_rows``: the non-ancillary
    job rows of those that became failed in the window; ``ancillary_rows``: ancillary failures updated
    from the trend's first day (or the window start, if earlier) to the window end; ``done``: ledger id ->
    when delivered or skipped as duplicate (None when there is no ledger yet); ``established``: every
    submission in state established_no_pdf; ``identities``: submission id -> its identity, scrubbed out of
    error text.
    """
    identities = identities or {}
    new = {f.id: f for f in failed if window.contains(f.failed_at)}
    rows_by_sub: dict[int, list[JobRow]] = defaultdict(list)
    for r in job_rows:
        if r.submission_id in new:
            rows_by_sub[r.submission_id].append(r)
    records = []
    for sid in sorted(new):
        sub = new[sid]
        for cause in explain(sub, rows_by_sub.get(sid, []), identities.get(sid, NO_IDENTITY)):
            records.append(_record(SECTION_NEW, cause, sid, sub.veteran_key))
    anc_times = []
    for r in ancillary_rows:
        anc_times.append(r.updated_at)
        if window.contains(r.updated_at):
            cause = ancillary_cause(r, identities.get(r.submission_id, NO_IDENTITY))
            records.append(_record(SECTION_ANCILLARY, cause, r.submission_id, r.veteran_key))
    for claim in established:
        records.append(_record(SECTION_ESTABLISHED, established_cause(claim), claim.id, claim.veteran_key))
    df = causes_frame(records)
    new_df = df[df["section"] == SECTION_NEW]
    anc_df = df[df["section"] == SECTION_ANCILLARY]
    bad = df[df["malformed"]]
    by_path = new_df.groupby("path")["submission_id"].nunique()
    ledger_present = done is not None
    done = done or {}
    failed_ids = {f.id for f in failed}
    return Report(
        window=window, groups=group_causes(df), new_failures=len(new),
        new_failure_veterans=len({f.veteran_key for f in new.values()}),
        new_by_path={str(k): int(v) for k, v in sorted(by_path.items())},
        ancillary_job_failures=len(anc_df), ancillary_submissions=int(anc_df["submission_id"].nunique()),
        ancillary_veterans=int(_veterans(anc_df).nunique()),
        backlog_failed=len(failed_ids), backlog_done=len(failed_ids & done.keys()), ledger_present=ledger_present,
        trend=build_trend(window, failed, anc_times, done, trend_days),
        established=_established(window, established),
        malformed=Malformed(len(bad), int(bad["submission_id"].nunique()),
                            _ids(sorted(bad["submission_id"].unique(), reverse=True)[:MAX_EXAMPLES])),
        alert_threshold=alert_threshold, run_id=run_id)
