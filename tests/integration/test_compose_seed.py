"""The compose stack's one-shot seeding command, run against a scratch PostgreSQL database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.unit.test_compose import ROOT, service


def test_source_seed_seeds_an_empty_database_once(source_dsn):
    """The one-shot seeding command of the compose file, run here against a scratch database twice."""
    seed = service("source-seed")
    assert seed["command"][:2] == ["bash", "-c"]
    script = seed["command"][2].replace("$$", "$")  # compose's escape for a literal $
    # the service's command calls `python`: make it this interpreter, as the image's is the project's
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "SOURCE_DSN": source_dsn, "FORM526_DEMO_SUBMISSIONS": "25", "PYTHONPATH": str(ROOT),
           "PATH": path}
    import psycopg

    outputs = []
    for _ in range(2):
        res = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        outputs.append(res.stdout + res.stderr)
        with psycopg.connect(source_dsn) as conn:
            assert conn.execute("SELECT count(*) FROM form526_submissions").fetchone()[0] == 25
    assert "not seeding again" in outputs[1]
