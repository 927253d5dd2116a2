"""Per-veteran deduplication (domain notes section 6; vets-api-facts.md sections 6-7).

The veteran is the ``veteran_key`` of the state SQL: the ``user_account_id`` shared by the veteran's
sign-in credentials, else the ``user_uuid``. A veteran's submissions with identical normalised form content
form a *dupe set*. Within a set, ordered by ``created_at`` (then id):

* the first member is *established* (a claim exists for it: primary success, backup accepted or paranoid
  success, a claim id without a confirmed PDF, or a latest ``manual`` remediation with success) -> every
  failed copy is skipped as a duplicate of it;
* otherwise the EARLIEST failed copy is kept (its date is the veteran's effective date) and every
  other failed copy, before or after an established one, is skipped as a duplicate of the kept one.

Only ``established`` and ``failed`` members take part. A submission remediated without an establishment
(latest remediation ``email_notified`` or ``ignored_as_duplicate``) decides nothing: if it made later
copies duplicates, the veteran's retry after the failure e-mail would be lost again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any

from include.form526.package.json_limits import json_problem

VOLATILE_KEYS = frozenset({
    "claimDate",                  # filled from the submission time
    "applicationExpirationDate",  # moves with the intent to file
    "confirmationCode",           # a new upload confirmation each resubmission
    "flashes",                    # system notices at submit time
    "timestamp", "createdAt", "updatedAt", "submittedAt", "submittedAtTimestamp",
})
"""Keys removed (at any depth) before form content is compared."""


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def form_json_problem(form_json: str | None) -> str | None:
    """'form_json_too_large' or 'form_json_too_deep' when the text must not be parsed, else None.

    Extraction counts these rows; `content_hash` gives each one a hash of its own (see there).
    """
    if form_json is None:
        return None
    problem = json_problem(form_json)
    return f"form_json_{problem}" if problem else None


def content_hash(form_json: str | None) -> str:
    """SHA-256 of the form with volatile keys removed; unparseable text hashes as-is.

    Never raises. Text over the size or nesting limits is not parsed: its hash is taken over a marker
    (a 0xFF byte, which no UTF-8 text holds) and the raw text's own digest, so it never equals the hash
    of a parseable form and only byte-identical copies share it.
    """
    if form_json is None:
        return hashlib.sha256(b"null").hexdigest()
    problem = form_json_problem(form_json)
    if problem is None:
        try:
            canonical = json.dumps(
                _strip(json.loads(form_json)), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
            )
        except ValueError:
            return hashlib.sha256(form_json.encode("utf-8", "replace")).hexdigest()
        except RecursionError:  # not expected under the depth limit; still never fail an extract
            problem = "form_json_too_deep"
        else:
            # surrogatepass: json.loads accepts a lone "\ud800" escape, which plain UTF-8 cannot encode.
            return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
    raw = hashlib.sha256(form_json.encode("utf-8", "surrogatepass")).digest()
    return hashlib.sha256(b"\xff" + problem.encode("ascii") + b"\x00" + raw).hexdigest()


@dataclass(frozen=True)
class Member:
    submission_id: int
    veteran_key: str
    created_at: datetime
    state: str          # 'established' | 'failed'
    content_hash: str
    in_scope: bool      # a failed submission this run was asked to consider


@dataclass(frozen=True)
class Verdict:
    kept: list[Member]
    skipped: list[tuple[Member, int]]  # (member, duplicate_of)


def dupe_set_key(m: Member) -> tuple[str, str, datetime, int]:
    """The order ``verdicts`` needs: dupe set by dupe set, each oldest first."""
    return (m.veteran_key, m.content_hash, m.created_at, m.submission_id)


def verdicts(members: Iterable[Member]) -> Iterator[tuple[Member, int | None]]:
    """Apply the dupe-set rule to members sorted by ``dupe_set_key``, one dupe set at a time.

    Yields ``(member, None)`` for a kept one and ``(member, duplicate_of)`` for a skipped one, in-scope failed
    members only. Holds one dupe set in memory; raises ValueError if the input is not in that order (a
    set split in two would be judged twice, wrongly).
    """
    previous: tuple[str, str, datetime, int] | None = None

    def in_order(m: Member) -> Member:
        nonlocal previous
        key = dupe_set_key(m)
        if previous is not None and key < previous:
            raise ValueError("dedup members are not sorted by (veteran_key, content_hash, created_at, submission_id)")
        previous = key
        return m

    for _, group in groupby(map(in_order, members), key=lambda m: (m.veteran_key, m.content_hash)):
        ordered = [m for m in group if m.state in ("established", "failed")]
        if not ordered:
            continue
        first = ordered[0]
        failed = [m for m in ordered if m.state == "failed"]
        # an established first member makes every failed copy its duplicate; else the earliest failed one stays
        keeper = None if first.state == "established" else failed[0]
        keeper_id = first.submission_id if keeper is None else keeper.submission_id
        for m in failed:
            if m.in_scope:
                yield (m, None) if m is keeper else (m, keeper_id)


def deduplicate(members: Iterable[Member]) -> Verdict:
    """Apply the dupe-set rule to members in any order; only in-scope failed members appear in the verdict."""
    kept: list[Member] = []
    skipped: list[tuple[Member, int]] = []
    for m, duplicate_of in verdicts(sorted(members, key=dupe_set_key)):
        if duplicate_of is None:
            kept.append(m)
        else:
            skipped.append((m, duplicate_of))
    kept.sort(key=lambda m: (m.created_at, m.submission_id))
    skipped.sort(key=lambda s: s[0].submission_id)
    return Verdict(kept=kept, skipped=skipped)
