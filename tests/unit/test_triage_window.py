"""Unit tests of include/form526/triage/window.py and the package's public names."""

from __future__ import annotations

from datetime import datetime

import pytest

from include.form526 import config, triage
from include.form526.delivery import ledger
from include.form526.triage import read
from include.form526.triage import window as w

NOW = datetime(2026, 11, 29, 5, 0)


def test_the_package_re_exports_what_the_dag_uses():
    for name in triage.__all__:
        assert getattr(triage, name) is not None, name
    assert triage.DEFAULT_SCHEDULE == config.DEFAULT_TRIAGE_SCHEDULE
    assert read.DONE_STATES is ledger.DONE_STATES and read.PENDING_WINDOW_DAYS == config.PENDING_WINDOW_DAYS


def test_window_defaults_to_the_data_interval():
    win = w.resolve_window({}, interval_start=datetime(2026, 11, 28, 6, 30),
                           interval_end=datetime(2026, 11, 29, 6, 30), now=NOW)
    assert (win.start, win.end, win.judged_as_of, win.source, win.date) == (
        datetime(2026, 11, 28, 6, 30), datetime(2026, 11, 29, 6, 30), NOW, "data_interval", "2026-11-29")
    assert win.last_day.isoformat() == "2026-11-29"


@pytest.mark.parametrize(("params", "start", "end"), [
    ({"window_start": "2026-11-01", "window_end": "2026-11-08"}, datetime(2026, 11, 1), datetime(2026, 11, 8)),
    ({"window_start": "2026-11-01"}, datetime(2026, 11, 1), datetime(2026, 11, 2)),
    ({"window_end": "2026-11-08"}, datetime(2026, 11, 7), datetime(2026, 11, 8)),
])
def test_window_from_params(params, start, end):
    win = w.resolve_window(params, interval_start=None, interval_end=None, now=NOW)
    assert (win.start, win.end, win.judged_as_of, win.source) == (start, end, end, "params")
    assert w.Window.from_dict(win.as_dict()) == win


@pytest.mark.parametrize(("params", "message"), [
    ({"window_start": "2026-11-08", "window_end": "2026-11-01"}, "earlier than window_end"),
    ({"window_start": "2026-11-01", "window_end": "2026-11-01"}, "earlier than window_end"),
    ({"window_start": "2026-12-01"}, "in the future"),
    ({"window_start": "2026-02-30"}, "not a real calendar date"),
    ({"window_end": "yesterday"}, "YYYY-MM-DD"),
])
def test_bad_windows(params, message):
    with pytest.raises(w.TriageParamError, match=message):
        w.resolve_window(params, interval_start=None, interval_end=None, now=NOW)


def test_future_end_is_judged_as_of_now():
    win = w.resolve_window({"window_start": "2026-11-28", "window_end": "2026-12-05"}, interval_start=None,
                           interval_end=None, now=NOW)
    assert win.judged_as_of == NOW and win.end == datetime(2026, 12, 5)


@pytest.mark.parametrize("value", [-1, 1.5, True, "3"])
def test_bad_threshold(value):
    with pytest.raises(w.TriageParamError):
        w.check_threshold_param(value)
