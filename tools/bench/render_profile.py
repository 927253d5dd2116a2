"""The renderer alone: CPU per package for the sample submissions, and where a typical package's time goes.

Not part of the test suite; no database, S3 or evidence: ``build_package`` on ``tools.samples`` in one process
(the 21-526EZ PDF, the metadata and the zip). Prints one JSON object: CPU ms per package for
each sample (median, min and max of ``--rounds`` rounds of ``--packages`` builds, after a warm-up), and the
typical package's cProfile split into phases (building the story, layout and drawing, writing the PDF objects,
the rest) plus its top functions by own time.

    python tools/bench/render_profile.py [--packages 200] [--rounds 5] [--top 15]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from include.form526.package.build import SourceSubmission, build_package  # noqa: E402
from tools import samples  # noqa: E402

# Phases of one build, by the function whose cumulative time is the phase (reportlab's own entry points).
PHASES = {
    "build_package": ("build.py", "build_package"),
    "render_form526ez": ("form526ez.py", "render_form526ez"),
    "layout_and_draw": ("doctemplate.py", "handle_flowable"),
    "write_pdf": ("theme.py", "save"),
}


def cpu_ms_per_package(submission: SourceSubmission, packages: int, rounds: int) -> dict[str, float]:
    """CPU milliseconds per ``build_package``: median, min and max of ``rounds`` rounds, after a warm-up.

    The spread is the VM's, not the renderer's (the same build moves by up to ~30% between rounds here).
    """
    for _ in range(max(3, packages // 10)):
        build_package(submission)
    per_round = []
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(packages):
            build_package(submission)
        per_round.append((time.process_time() - start) / packages * 1000)
    return {
        "median": round(statistics.median(per_round), 2),
        "min": round(min(per_round), 2),
        "max": round(max(per_round), 2),
    }


def profile(submission: SourceSubmission, packages: int, top: int) -> dict[str, object]:
    """Share of each phase in a typical package's profiled time, and the top functions by own time."""
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(packages):
        build_package(submission)
    prof.disable()
    stats = pstats.Stats(prof)
    cumulative = {}
    for (path, _line, name), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        for phase, (file, func) in PHASES.items():
            if name == func and path.endswith(file):
                cumulative[phase] = cumulative.get(phase, 0.0) + ct
    total = cumulative["build_package"]
    story = cumulative["render_form526ez"] - cumulative["layout_and_draw"] - cumulative["write_pdf"]
    shares = {
        "build_story": story / total,
        "layout_and_draw": cumulative["layout_and_draw"] / total,
        "write_pdf": cumulative["write_pdf"] / total,
        "metadata_and_zip": (total - cumulative["render_form526ez"]) / total,
    }
    own = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:top]  # type: ignore[attr-defined]
    return {
        "phase_share": {phase: round(share, 3) for phase, share in shares.items()},
        "top_own_time": [
            {"function": f"{Path(path).name}:{line}({name})", "calls_per_package": nc // packages,
             "share": round(tt / total, 3)}
            for (path, line, name), (_cc, nc, tt, _ct, _callers) in own
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=200, help="builds per round (default 200)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--top", type=int, default=15, help="top functions by own time in the profile")
    args = parser.parse_args()
    typical = samples.submission(samples.typical_form(), samples.typical_auth())
    # each sample with its share of --packages per round (the 60-disability claim is ~3x the typical one)
    cases = {
        "typical": (typical, 1),
        "ancillary_forms": (samples.submission(*samples.ancillary_forms()), 1),
        "toxic_exposure": (samples.submission(*samples.toxic_exposure()), 1),
        "many_disabilities_60": (samples.submission(*samples.many_disabilities(60)), 4),
    }
    result = {
        "cpu_ms_per_package": {
            name: cpu_ms_per_package(sub, max(1, args.packages // divisor), args.rounds)
            for name, (sub, divisor) in cases.items()
        },
        "typical_profile": profile(typical, args.packages, args.top),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
