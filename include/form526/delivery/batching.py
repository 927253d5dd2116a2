"""Partition the submissions of a run into batches, one mapped task instance each."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


class PlanError(ValueError):
    """The plan cannot be made within the limits; the message says which and what to change."""


@dataclass(frozen=True)
class BatchPlan:
    batches: list[list[int]]
    batch_size: int           # the size actually used (may be larger than asked)
    grown: bool               # True when the requested size was raised to stay under the map limit


def batch_size_for(count: int, batch_size: int, *, max_batches: int, max_batch_size: int) -> tuple[int, bool]:
    """The batch size to cut ``count`` submissions with, and whether it grew beyond ``batch_size``.

    When ``batch_size`` would make more than ``max_batches`` mapped instances (Airflow's max_map_length),
    the size grows just enough; beyond ``max_batch_size`` the plan fails with a clear message.
    """
    if batch_size < 1:
        raise PlanError(f"batch_size must be at least 1, got {batch_size}")
    if max_batches < 1:
        raise PlanError("max_batches must be at least 1")
    if math.ceil(count / batch_size) <= max_batches:
        return batch_size, False
    size = math.ceil(count / max_batches)
    if size > max_batch_size:
        raise PlanError(
            f"{count} submissions need batches of {size} to stay within {max_batches} mapped tasks, "
            f"above the limit of {max_batch_size}: set max_submissions to at most "
            f"{max_batches * max_batch_size} or raise [core] max_map_length"
        )
    return size, True


def plan_batches(ids: Sequence[int], batch_size: int, *, max_batches: int, max_batch_size: int) -> BatchPlan:
    """Split ``ids`` (kept in order) into batches of the size ``batch_size_for`` gives."""
    size, grown = batch_size_for(len(ids), batch_size, max_batches=max_batches, max_batch_size=max_batch_size)
    batches = [list(ids[i:i + size]) for i in range(0, len(ids), size)]
    return BatchPlan(batches=batches, batch_size=size, grown=grown)


def batch_label(batch_no: int) -> str:
    """Zero-padded batch id used in S3 keys and the UI: ``0007``."""
    return f"{batch_no:04d}"
