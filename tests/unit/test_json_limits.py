"""Limits on raw JSON text, checked before parsing: a linear scan, never json.loads."""

from __future__ import annotations

import json
from typing import Any

import pytest

from include.form526.package.build import PackageError, build_package
from include.form526.package.json_limits import (
    MAX_JSON_CHARS,
    MAX_JSON_DEPTH,
    TOO_DEEP,
    TOO_LARGE,
    json_problem,
    nesting_depth,
)
from include.form526.package.submission import parse_submission
from tools import samples


@pytest.mark.parametrize(("text", "depth"), [
    ("{}", 1),
    ('{"a": [1, {"b": [[]]}]}', 5),
    ('{"a": "[[[[{{{{"}', 1),                        # brackets inside a string do not count
    ('{"a": "quote \\" [[[[", "b": [1]}', 2),          # nor after an escaped quote
    ('{"a": "backslash \\\\", "b": [[1]]}', 3),        # an escaped backslash does not escape the quote
    ('{"a": "\\\\\\" [[[", "b": [[1]]}', 3),           # escaped backslash, then escaped quote
    ('["unterminated [[[[[[', 1),                    # an unterminated string runs to the end
    ("]]]][[", 2),                                   # stray closers do not go below zero
])
def test_nesting_depth_counts_brackets_outside_strings(text: str, depth: int) -> None:
    assert nesting_depth(text) == depth


def test_nesting_depth_agrees_with_the_parser_on_real_forms() -> None:
    def depth(value: Any) -> int:
        if isinstance(value, dict):
            return 1 + max((depth(v) for v in value.values()), default=0)
        if isinstance(value, list):
            return 1 + max((depth(v) for v in value), default=0)
        return 0

    for make in (samples.typical_form, lambda: samples.ancillary_forms()[0], lambda: samples.hostile_characters()[0]):
        text = json.dumps(make(), ensure_ascii=False)
        assert nesting_depth(text) == depth(json.loads(text))


def test_json_problem() -> None:
    assert json_problem(json.dumps(samples.typical_form())) is None
    assert json_problem("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH) is None
    assert json_problem("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)) == TOO_DEEP
    assert json_problem("[" * 1_000_000) == TOO_DEEP
    assert json_problem(json.dumps({"a": "[" * 1000})) is None
    assert json_problem(json.dumps({"a": "x" * MAX_JSON_CHARS})) == TOO_LARGE


def _row(form: Any, auth: Any = None) -> Any:
    return samples.submission(form, samples.typical_auth() if auth is None else auth, sub_id=4242)


def deep_form(depth: int) -> str:
    """A well-formed form_json with a value nested `depth` levels inside form526.form526."""
    form = samples.typical_form()
    samples.form526_of(form)["extra"] = samples.nested(depth)
    return json.dumps(form)


@pytest.mark.parametrize(("form_json", "code"), [
    (deep_form(100), "form_json_too_deep"),           # parses fine, but every walk of it recurses
    ("[" * 100_000 + "]" * 100_000, "form_json_too_deep"),
    (json.dumps({"form526": {"form526": {"overflowText": "x" * MAX_JSON_CHARS}}}), "form_json_too_large"),
])
def test_form_json_over_a_limit_is_rejected_before_parsing(
    form_json: str, code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_parse(*args: object, **kwargs: object) -> None:
        raise AssertionError("json.loads called on text over a limit")

    monkeypatch.setattr("include.form526.package.submission.json.loads", no_parse)
    with pytest.raises(PackageError) as error:
        parse_submission(_row(form_json))
    assert error.value.code == code
    assert error.value.__context__ is None


def test_form_json_at_the_depth_limit_still_builds() -> None:
    depth = MAX_JSON_DEPTH - 3  # form_json > form526 > form526 > extra
    package = build_package(_row(deep_form(depth)))
    assert package.files


@pytest.mark.parametrize("auth_json", [
    json.dumps({**samples.typical_auth(), "deep": samples.nested(100)}),
    json.dumps({**samples.typical_auth(), "big": "x" * MAX_JSON_CHARS}),
])
def test_auth_headers_over_a_limit_are_invalid(auth_json: str) -> None:
    with pytest.raises(PackageError) as error:
        parse_submission(_row(samples.typical_form(), auth_json))
    assert error.value.code == "auth_headers_invalid"


def test_form_json_as_bytes_is_checked_and_parsed_like_text() -> None:
    row = _row(None)
    good = row.__class__(row.id, row.created_at, json.dumps(samples.typical_form()).encode("utf-16"),
                         row.auth_headers_json)
    assert parse_submission(good).claim.disabilities
    deep = row.__class__(row.id, row.created_at, deep_form(100).encode(), row.auth_headers_json)
    with pytest.raises(PackageError) as error:
        parse_submission(deep)
    assert error.value.code == "form_json_too_deep"
