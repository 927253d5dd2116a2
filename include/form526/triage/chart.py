"""The trend chart: a small PNG rendered in memory on matplotlib's Agg canvas (no pyplot, no global
backend switch, nothing on disk), drawn from the trend as a pandas DataFrame."""

from __future__ import annotations

import io
from collections.abc import Sequence

import pandas as pd

from include.form526.triage.aggregate import TrendDay


def trend_table(trend: Sequence[TrendDay]) -> pd.DataFrame:
    """The trend as a DataFrame indexed by day."""
    return pd.DataFrame([t.as_dict() for t in trend],
                        columns=["date", "new_failures", "ancillary_failures", "backlog"]).set_index("date")


def chart_png(trend: Sequence[TrendDay], title: str = "Form 526 failures") -> bytes:
    """An 800x340 PNG: stacked daily bars (became failed, ancillary job failures), backlog line on a
    second axis."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    df = trend_table(trend)
    fig = Figure(figsize=(8, 3.4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x = list(range(len(df)))
    ax.bar(x, df["new_failures"], color="#c0392b", label="became failed")
    ax.bar(x, df["ancillary_failures"], bottom=df["new_failures"], color="#f0b27a", label="ancillary job failures")
    ax.set_ylabel("per day")
    ax.set_ylim(0, max(int((df["new_failures"] + df["ancillary_failures"]).max()) if len(df) else 0, 1) * 1.15)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ticks = sorted(x[::-7])  # weekly, ending on the last day
    ax.set_xticks(ticks)
    ax.set_xticklabels([df.index[i][5:] for i in ticks], fontsize=8)  # MM-DD
    ax2 = ax.twinx()
    ax2.plot(x, df["backlog"], color="#1f4e79", marker=".", label="backlog (failed, not delivered)")
    ax2.set_ylabel("backlog")
    ax2.set_ylim(0, max(int(df["backlog"].max()) if len(df) else 0, 1) * 1.15)
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
