"""Dedup rules (include/form526/source/dedup.py), one test per branch of the dupe-set rule."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

import pytest

from include.form526.package.json_limits import MAX_JSON_CHARS
from include.form526.source.dedup import (
    Member,
    content_hash,
    deduplicate,
    dupe_set_key,
    form_json_problem,
    verdicts,
)
from tools import samples

T0 = datetime(2023, 1, 1)


def m(sid: int, state: str, day: int, *, user: str = "u1", h: str = "A", in_scope: bool = True) -> Member:
    return Member(sid, user, T0 + timedelta(days=day), state, h, in_scope)


def verdict(*members: Member):
    v = deduplicate(members)
    return [k.submission_id for k in v.kept], {s.submission_id: dup for s, dup in v.skipped}


def test_single_failed_submission_is_kept():
    assert verdict(m(1, "failed", 0)) == ([1], {})


def test_established_first_skips_every_failed_copy():
    assert verdict(m(1, "established", 0), m(2, "failed", 1), m(3, "failed", 2)) == ([], {2: 1, 3: 1})


def test_failed_before_established_keeps_the_earliest_failed_and_skips_the_rest():
    kept, skipped = verdict(m(1, "failed", 0), m(2, "failed", 1), m(3, "established", 2), m(4, "failed", 3))
    assert kept == [1]
    assert skipped == {2: 1, 4: 1}


def test_all_failed_keeps_the_earliest():
    assert verdict(m(5, "failed", 2), m(3, "failed", 0), m(4, "failed", 1)) == ([3], {4: 3, 5: 3})


def test_same_time_is_ordered_by_id():
    assert verdict(m(9, "failed", 0), m(8, "failed", 0)) == ([8], {9: 8})


def test_different_content_is_not_a_duplicate():
    assert verdict(m(1, "failed", 0, h="A"), m(2, "failed", 1, h="B"))[0] == [1, 2]


def test_different_veterans_are_never_duplicates():
    assert verdict(m(1, "failed", 0, user="u1"), m(2, "failed", 1, user="u2"))[0] == [1, 2]


def test_out_of_scope_members_decide_but_do_not_appear():
    # the earliest failed copy is outside this run's scope: the in-scope later copy is its duplicate
    kept, skipped = verdict(m(1, "failed", 0, in_scope=False), m(2, "failed", 1))
    assert kept == [] and skipped == {2: 1}


def test_in_flight_members_are_ignored():
    kept, skipped = verdict(m(1, "in_process", 0), m(2, "failed", 1))
    assert kept == [2] and skipped == {}


def test_content_hash_ignores_volatile_keys_only():
    base = {"form526": {"form526": {"claimDate": "2023-01-01", "applicationExpirationDate": "2024-01-01",
                                    "disabilities": [{"name": "knee"}]},
                        "form526_uploads": [{"name": "a.pdf", "confirmationCode": "x1", "attachmentId": "L451"}]},
            "flashes": ["one"]}
    copy = json.loads(json.dumps(base))
    copy["form526"]["form526"]["claimDate"] = "2023-02-02"
    copy["form526"]["form526_uploads"][0]["confirmationCode"] = "y2"
    copy["flashes"] = []
    assert content_hash(json.dumps(base)) == content_hash(json.dumps(copy, indent=2))
    changed = json.loads(json.dumps(base))
    changed["form526"]["form526"]["disabilities"][0]["name"] = "back"
    assert content_hash(json.dumps(base)) != content_hash(json.dumps(changed))


def test_content_hash_of_unparseable_text_is_stable():
    assert content_hash("{not json") == content_hash("{not json")
    assert content_hash("{not json") != content_hash("{not json!")
    assert content_hash(None) == content_hash(None)


def test_a_remediated_but_not_established_first_member_decides_nothing():
    # e-mail notified ('other' in the candidates, never passed as established): the veteran's later
    # identical retry is the earliest failed copy and is kept
    kept, skipped = verdict(m(1, "other", 0), m(2, "failed", 1), m(3, "failed", 2))
    assert (kept, skipped) == ([2], {3: 2})


def test_two_credentials_of_one_veteran_share_the_veteran_key():
    kept, skipped = verdict(m(1, "failed", 0, user="acct:A"), m(2, "failed", 1, user="acct:A"))
    assert (kept, skipped) == ([1], {2: 1})


def _deep(depth: int, leaf: str = "bottom") -> str:
    """Well-formed form_json with `leaf` `depth` lists deep (built as text: json.dumps would recurse)."""
    return '{"form526": {"form526": {"nested": ' + "[" * depth + json.dumps(leaf) + "]" * depth + "}}}"


def test_content_hash_of_a_deeply_nested_form_does_not_raise():
    # ~1,000 levels once raised RecursionError and failed every extract that met the row
    for depth in (100, 1_000, 100_000):
        digest = content_hash(_deep(depth))
        assert len(digest) == 64 and digest == content_hash(_deep(depth))
    assert content_hash(_deep(1_000)) != content_hash(_deep(1_000, "other"))
    assert content_hash("[" * 500_000) != content_hash("[" * 500_001)


def test_over_limit_text_is_not_parsed_and_never_shares_a_normal_hash():
    deep = _deep(1_000)
    assert content_hash(deep) != hashlib.sha256(deep.encode()).hexdigest()  # not the unparseable-text hash
    big = json.dumps({"form526": {"form526": {"overflowText": "x" * MAX_JSON_CHARS}}})
    canonical = json.dumps(json.loads(big), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert content_hash(big) != hashlib.sha256(canonical.encode()).hexdigest()
    assert content_hash(big) != hashlib.sha256(big.encode()).hexdigest()


def test_form_json_problem_names_the_limit():
    assert form_json_problem(json.dumps(samples.typical_form())) is None
    assert form_json_problem(None) is None
    assert form_json_problem("{not json") is None  # unparseable is not over a limit: it hashes as-is
    assert form_json_problem(_deep(1_000)) == "form_json_too_deep"
    assert form_json_problem(" " * (MAX_JSON_CHARS + 1)) == "form_json_too_large"


def test_content_hash_of_a_lone_surrogate_escape_does_not_raise():
    # json.loads accepts "\ud800"; encoding it back as plain UTF-8 raised UnicodeEncodeError
    assert content_hash('{"a": "\\ud800"}') == content_hash('{ "a" : "\\ud800" }')
    assert content_hash('{"a": "\\ud800"}') != content_hash('{"a": "\\ud801"}')


def test_streamed_verdicts_match_the_whole_list_one_dupe_set_at_a_time():
    import random

    rng = random.Random(5)
    members = [m(i, rng.choice(["failed", "failed", "established"]), rng.randrange(30), user=f"u{rng.randrange(20)}",
                 h=rng.choice("ABC"), in_scope=rng.random() < 0.8) for i in range(1, 400)]
    whole = deduplicate(members)
    streamed = list(verdicts(iter(sorted(members, key=dupe_set_key))))
    assert sorted(s.submission_id for s, dup in streamed if dup is None) == sorted(k.submission_id for k in whole.kept)
    assert {s.submission_id: dup for s, dup in streamed if dup is not None} == {
        s.submission_id: dup for s, dup in whole.skipped}
    assert whole.kept and whole.skipped


def test_streamed_verdicts_refuse_members_out_of_order():
    # a dupe set split in two would keep a second copy: unsorted input is an error, not a wrong verdict
    members = [m(1, "failed", 0, h="A"), m(2, "failed", 0, h="B"), m(3, "failed", 1, h="A")]
    with pytest.raises(ValueError, match="not sorted"):
        list(verdicts(members))
