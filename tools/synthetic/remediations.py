"""form526_submission_remediations rows of the three types (vets-api-facts.md §7).

* manual (0): written from the Rails console; ``mark_as_unsuccessful(ctx)`` later sets success false
  and appends ``"YYYY-MM-DD HH:MM:SS -- ctx"`` to lifecycle on the same row.
* ignored_as_duplicate (1): success true, ignored_as_duplicate true.
* email_notified (2): Form526SubmissionFailureEmailJob#track_remedial_action; lifecycle
  ``['Email failure notification sent']``, success left at its default (true).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from tools.synthetic.model import Sub
from tools.synthetic.scenarios import EMAIL_NOTIFIED, IGNORED_AS_DUPLICATE, MANUAL

EMAIL_LIFECYCLE = "Email failure notification sent"
_SUCCESS_CONTEXTS = ("Manual remediation: PDF delivered to VBA via S3 presigned URL batch",
                     "Remediated: claim established manually by VBA",
                     "Remediated: uploaded to Benefits Intake from console")
_FAILURE_CONTEXTS = ("Remediation failed: VBA could not establish the claim",
                     "Marked unsuccessful: PDF missing pages, needs reprocessing",
                     "Remediation reverted: upload was rejected downstream")


def _line(at: datetime, context: str) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S} -- {context}"


class RemediationWriter:
    """Appends remediation rows to ``sub.rems`` (ids assigned in creation order)."""

    def __init__(self, rng: random.Random, next_id: int) -> None:
        self.rng = rng
        self.next_id = next_id

    def _add(self, sub: Sub, created: datetime, updated: datetime, lifecycle: list[str], success: bool,
             ignored: bool, rtype: int) -> None:
        sub.rems.append((self.next_id, sub.id, lifecycle, success, ignored, created, updated, rtype))
        self.next_id += 1
        sub.touch(updated)

    def manual(self, sub: Sub, at: datetime, success: bool) -> None:
        """A manual remediation that worked (success) or was recorded as failed right away."""
        at = sub.clip(at)
        context = self.rng.choice(_SUCCESS_CONTEXTS if success else _FAILURE_CONTEXTS)
        self._add(sub, at, at, [_line(at, context)], success, False, MANUAL)

    def manual_then_unsuccessful(self, sub: Sub, at: datetime, later: datetime) -> None:
        """A manual remediation later reverted with ``mark_as_unsuccessful`` (same row)."""
        at, later = sub.clip(at), sub.clip(max(later, at))
        lifecycle = [_line(at, self.rng.choice(_SUCCESS_CONTEXTS)),
                     _line(later, self.rng.choice(_FAILURE_CONTEXTS))]
        self._add(sub, at, later, lifecycle, False, False, MANUAL)

    def ignored_as_duplicate(self, sub: Sub, at: datetime, duplicate_of: int) -> None:
        at = sub.clip(at)
        self._add(sub, at, at, [_line(at, f"Ignored as duplicate of submission {duplicate_of}")], True, True,
                  IGNORED_AS_DUPLICATE)

    def email_notified(self, sub: Sub, at: datetime) -> None:
        """The failure e-mail job's row, shortly after the backup path gave up or was rejected."""
        at = sub.clip(at + timedelta(seconds=self.rng.uniform(5, 900)))
        self._add(sub, at, at, [EMAIL_LIFECYCLE], True, False, EMAIL_NOTIFIED)
