"""Backlog mode: a database dominated by N failed submissions, as the hand-off's ~150,000 failed ones.

``seed_backlog(conn, n_failed, ...)`` writes exactly ``n_failed`` submissions labelled failed, with the
rows the generator always writes (jobs, remediations, accounts, attachments, labels), plus a minority of
context rows around them. The mix (per 1,000 failed submissions, ``GROUPS_PER_1000``):

* duplicates, ~16% of the failed ones: 25 veterans with 2-4 identical failed copies, 10 with three failed
  copies across two credentials (account linked between them), 10 with 1-3 failed copies before a success,
  8 + 2 + 2 with a success / accepted backup / remediation before 1-2 failed copies, 4 with an e-mailed
  notification before 1-2 failed copies, 3 with an established-without-PDF claim before a failed copy,
  3 resubmissions ignored as duplicates (no failure), and 5 veterans with a failed and a successful
  *distinct* claim;
* the other failed ones are single submissions over the failed stories of ``scenarios.SINGLE_SHARES``
  (black holes, rejected and failed backups, never attempted, ..., each awkward record at least once from
  N = 200);
* context: ``success_share`` x N non-failed submissions in all (default 20%: successes, claims in flight,
  established without PDF), the group members above included.

Evidence (``BacklogBlobs.uploads``): ``evidence_share`` of submissions (default 40%) have 1-4 uploads
(40/30/20/10%, mean 2.0), types PDF 55%, JPEG 30%, PNG 10%, TXT 5%, file names matching their content.
Each upload's object comes from the pool (``pool.py``: 240 files, 50 KB-5 MB, median ~95 KB, mean
~190 KB), one in 40 is missing; the ``size`` in form_json is the pool file's target size.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg

from tools.synthetic.blobs import BlobMaker
from tools.synthetic.pool import PoolFile, choose, pool_spec
from tools.synthetic.scenarios import FAILED, SCENARIOS, SINGLE_SHARES, PlanItem, group_members, place
from tools.synthetic.seeding import DEFAULT_BATCH_ROWS, SeedSummary, seed_planned

DEFAULT_EVIDENCE_SHARE = 0.40
DEFAULT_SUCCESS_SHARE = 0.20
UPLOAD_COUNTS = ((1, 0.40), (2, 0.30), (3, 0.20), (4, 0.10))
TYPE_MIX = (("pdf", 0.55), ("jpg", 0.30), ("png", 0.10), ("txt", 0.05))
UPLOAD_NAMES: dict[str, tuple[tuple[str, str], ...]] = {
    "pdf": (("private_medical_record.pdf", "L451"), ("DD214.pdf", "L450"), ("buddy_statement.pdf", "L015"),
            ("VA_21-4138.pdf", "L014"), ("MRI results.pdf", "L451"), ("scan0001.pdf", "L450")),
    "jpg": (("audiogram.jpg", "L070"), ("treatment_notes.jpeg", "L451"), ("IMG_2231.JPG", "L014")),
    "png": (("knee_photo.png", "L014"), ("Screenshot 2023-04-02.png", "L451")),
    "txt": (("statement in support.txt", "L023"),),
}
GROUPS_PER_1000: dict[str, float] = {
    "dupe_all_failed": 25, "dupe_across_credentials": 10, "dupe_failed_before_success": 10,
    "dupe_success_then_failed": 8, "dupe_backup_accepted_then_failed": 2, "dupe_remediated_then_failed": 2,
    "dupe_email_notified_then_failed": 4, "dupe_established_no_pdf_then_failed": 3,
    "dupe_ignored_as_duplicate": 3, "distinct_claims_same_veteran": 5,
}
CONTEXT_FILLER_WEIGHT = 0.5  # primary_success among the context singles (the other stories at their shares)
MIN_FAILED_FOR_ALL = 200

Unit = tuple[str | None, list[tuple[str, int]]]


def _failed(members: list[tuple[str, int]]) -> int:
    return sum(1 for scenario, _ in members if SCENARIOS[scenario][0] == FAILED)


def _spread(total: int, weights: dict[str, float], rng: random.Random, minimum: int) -> list[str]:
    """``total`` scenario names in proportion to ``weights`` (largest remainder), each at least ``minimum``."""
    names = list(weights)
    counts = dict.fromkeys(names, minimum if total >= minimum * len(names) else 0)
    left = total - sum(counts.values())
    scale = sum(weights.values())
    exact = {k: left * w / scale for k, w in weights.items()}
    for k in names:
        counts[k] += int(exact[k])
    by_remainder = sorted(names, key=lambda k: (exact[k] - int(exact[k]), k), reverse=True)
    for k in by_remainder[: total - sum(counts.values())]:
        counts[k] += 1
    out = [k for k in names for _ in range(counts[k])]
    rng.shuffle(out)
    return out


def backlog_units(n_failed: int, rng: random.Random, success_share: float = DEFAULT_SUCCESS_SHARE) -> list[Unit]:
    """Singles and groups holding exactly ``n_failed`` failed submissions (+ the context)."""
    if n_failed <= 0:
        raise ValueError("n_failed must be a positive integer")
    if not 0 <= success_share <= 10:
        raise ValueError("success_share must be between 0 and 10")
    units: list[Unit] = []
    failed = 0
    for kind, per_1000 in GROUPS_PER_1000.items():
        for _ in range(int(per_1000 * n_failed / 1000) or (1 if n_failed >= MIN_FAILED_FOR_ALL else 0)):
            members = group_members(kind, rng)
            if failed + _failed(members) > n_failed:
                continue
            units.append((kind, members))
            failed += _failed(members)
    failed_weights = {s: w for s, w in SINGLE_SHARES.items() if SCENARIOS[s][0] == FAILED}
    minimum = 1 if n_failed >= MIN_FAILED_FOR_ALL else 0
    units += [(None, [(s, 0)]) for s in _spread(n_failed - failed, failed_weights, rng, minimum)]
    context_in_groups = sum(len(m) - _failed(m) for k, m in units if k is not None)
    context = max(0, round(success_share * n_failed) - context_in_groups)
    context_weights = {s: w for s, w in SINGLE_SHARES.items() if SCENARIOS[s][0] != FAILED}
    context_weights["primary_success"] = CONTEXT_FILLER_WEIGHT
    units += [(None, [(s, 0)]) for s in _spread(context, context_weights, rng, 0)]
    return units


def backlog_plan(n_failed: int, rng: random.Random, as_of: datetime,
                 success_share: float = DEFAULT_SUCCESS_SHARE) -> list[PlanItem]:
    """Plan items of a backlog-dominated database, sorted by created_at (= id order)."""
    return place(backlog_units(n_failed, rng, success_share), rng, as_of)


def _weighted(rng: random.Random, table: tuple[tuple[Any, float], ...]) -> Any:
    r = rng.random()
    for value, weight in table:
        r -= weight
        if r < 0:
            return value
    return table[-1][0]


class BacklogBlobs(BlobMaker):
    """The generator's blobs, with the backlog's evidence mix drawn from the pool."""

    def __init__(self, rng: random.Random, as_of: datetime, *, seed: int, evidence_share: float) -> None:
        super().__init__(rng, as_of)
        self.seed = seed
        self.evidence_share = evidence_share
        self.spec: dict[str, list[PoolFile]] = pool_spec(seed)

    def uploads(self, force: bool = False) -> tuple[list[dict[str, Any]], list[str]]:
        """``form526_uploads`` items and their kinds; ``force`` (awkward evidence rows): 2-3 uploads."""
        rng = self.rng
        if not force and rng.random() >= self.evidence_share:
            return [], []
        count = rng.randint(2, 3) if force else _weighted(rng, UPLOAD_COUNTS)
        items, kinds = [], []
        for _ in range(count):
            kind = _weighted(rng, TYPE_MIX)
            name, code = rng.choice(UPLOAD_NAMES[kind])
            guid = str(self.uuid4())
            pf = choose(self.spec, self.seed, guid, name)
            size = pf.target if pf is not None else rng.randint(50_000, 500_000)
            items.append({"confirmationCode": guid, "name": name, "attachmentId": code, "size": size})
            kinds.append(kind)
        return items, kinds


def seed_backlog(
    conn: psycopg.Connection,
    n_failed: int,
    seed: int = 42,
    as_of: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    encrypt_with: Any = None,
    kms_key_id: str | None = None,
    evidence_share: float = DEFAULT_EVIDENCE_SHARE,
    success_share: float = DEFAULT_SUCCESS_SHARE,
) -> SeedSummary:
    """Seed a backlog: exactly ``n_failed`` failed submissions plus context (module doc); see ``seed``."""
    if not 0 <= evidence_share <= 1:
        raise ValueError("evidence_share must be between 0 and 1")
    return seed_planned(
        conn, lambda rng, at: backlog_plan(n_failed, rng, at, success_share), seed=seed, as_of=as_of,
        progress=progress, batch_rows=batch_rows, encrypt_with=encrypt_with, kms_key_id=kms_key_id,
        make_blobs=lambda rng, at: BacklogBlobs(rng, at, seed=seed, evidence_share=evidence_share))


def evidence_summary(conn: psycopg.Connection, seed: int = 42) -> dict[str, Any]:
    """What the pipeline will fetch: uploads of failed submissions (by kind), present vs missing, target bytes.

    Counts only. Reads form526_uploads of every failed submission (labels) and applies the pool's rule.
    """
    from tools.synthetic.pool import kind_of_name

    spec = pool_spec(seed)
    out: dict[str, Any] = {"failed_submissions": 0, "with_uploads": 0, "uploads": 0, "missing_objects": 0,
                           "per_kind": {}, "target_bytes": 0}
    rows = conn.execute(
        "SELECT s.form_json FROM form526_submissions s JOIN synthetic.submission_labels l"
        " ON l.submission_id = s.id WHERE l.expected_state = 'failed'")
    for (form_json,) in rows:
        try:
            uploads = json.loads(form_json or "{}").get("form526_uploads")
        except ValueError:  # the corrupt_form_json story
            uploads = None
        out["failed_submissions"] += 1
        if not uploads:
            continue
        out["with_uploads"] += 1
        for item in uploads:
            out["uploads"] += 1
            kind = kind_of_name(str(item.get("name", ""))) or "other"
            out["per_kind"][kind] = out["per_kind"].get(kind, 0) + 1
            pf = choose(spec, seed, str(item.get("confirmationCode", "")), str(item.get("name", "")))
            if pf is None:
                out["missing_objects"] += 1
            else:
                out["target_bytes"] += pf.target
    return out
