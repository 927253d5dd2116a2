"""The window a triage run covers, and the checks on the run's parameters.

``[start, end)`` in naive UTC, from ``window_start`` / ``window_end`` (whole UTC days, end exclusive; one
date alone means one day) or else the run's data interval; failures are judged as of min(end, now).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DEFAULT_ALERT_THRESHOLD = 25
"""More new failures than this in a window fail the run (the DAG's ``alert_threshold`` default)."""
TREND_DAYS = 30
"""Days of the trend, ending on the window's last day."""


class TriageParamError(ValueError):
    """The run's parameters are unusable; one sentence naming the parameter and the rule."""


def naive_utc(value: datetime) -> datetime:
    """``value`` as naive UTC (the source tables store naive UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def iso(value: datetime | None) -> str:
    """``2026-11-01T03:00:00Z``, or ``""`` for None."""
    return "" if value is None else naive_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


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

    def contains(self, moment: datetime) -> bool:
        """Whether ``moment`` falls in ``[start, end)``."""
        return self.start <= moment < self.end

    def as_dict(self) -> dict[str, str]:
        """JSON-safe form (XCom)."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat(),
                "judged_as_of": self.judged_as_of.isoformat(), "source": self.source}

    @classmethod
    def from_dict(cls, d: Mapping[str, str]) -> Window:
        """The inverse of ``as_dict``."""
        return cls(datetime.fromisoformat(d["start"]), datetime.fromisoformat(d["end"]),
                   datetime.fromisoformat(d["judged_as_of"]), d["source"])


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
    """``alert_threshold``: a non-negative integer, or None (never alert)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TriageParamError("alert_threshold must be a non-negative integer, or null to never alert")
    return value
