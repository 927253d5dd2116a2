"""Batch planning (include/form526/delivery/batching.py)."""

from __future__ import annotations

import pytest

from include.form526.delivery.batching import PlanError, batch_label, batch_size_for, plan_batches


def test_batches_keep_order_and_cover_everything():
    plan = plan_batches(list(range(1, 1002)), 250, max_batches=100, max_batch_size=5000)
    assert [len(b) for b in plan.batches] == [250, 250, 250, 250, 1]
    assert [i for b in plan.batches for i in b] == list(range(1, 1002))
    assert not plan.grown


def test_empty_plan_has_no_batches():
    assert plan_batches([], 500, max_batches=10, max_batch_size=5000).batches == []


def test_size_grows_to_stay_under_the_map_limit():
    plan = plan_batches(list(range(10_000)), 10, max_batches=100, max_batch_size=5000)
    assert plan.grown and plan.batch_size == 100
    assert len(plan.batches) == 100


def test_too_many_for_the_limits_fails_with_advice():
    with pytest.raises(PlanError, match="max_submissions"):
        plan_batches(list(range(1_000)), 10, max_batches=2, max_batch_size=100)


@pytest.mark.parametrize("size", [0, -5])
def test_nonsense_batch_size_is_rejected(size):
    with pytest.raises(PlanError):
        plan_batches([1, 2], size, max_batches=10, max_batch_size=10)


def test_batch_label():
    assert batch_label(7) == "0007"


@pytest.mark.parametrize("count", [0, 1, 999, 1000, 1001, 10_000, 10_001])
def test_batch_size_for_is_the_size_plan_batches_cuts_with(count):
    size, grown = batch_size_for(count, 10, max_batches=100, max_batch_size=5000)
    plan = plan_batches(list(range(count)), 10, max_batches=100, max_batch_size=5000)
    assert (size, grown) == (plan.batch_size, plan.grown)
    assert len(plan.batches) <= 100 and all(len(b) <= size for b in plan.batches)
