"""Parameter rules beyond JSON Schema, and the S3 id list (include/form526/scope.py)."""

from __future__ import annotations

import pytest

from include.form526.scope import ScopeError, check_key_prefix, parse_s3_uri, read_id_csv, run_key, validate_params

KNOWN = ["submission_ids", "submission_ids_s3_uri", "created_after", "created_before", "max_submissions",
         "batch_size", "dry_run", "redeliver", "bucket", "key_prefix", "tolerated_failure_percent"]
OK = {"batch_size": 500, "bucket": "form526-backlog", "key_prefix": "form526", "tolerated_failure_percent": 0}


def test_defaults_validate():
    s = validate_params(OK, KNOWN)
    assert s.batch_size == 500 and not s.explicit


@pytest.mark.parametrize(("change", "message"), [
    ({"nope": 1}, "unknown parameter"),
    ({"created_after": "2024-02-01", "created_before": "2024-01-01"}, "earlier than"),
    ({"created_after": "2024-02-30"}, "not a real calendar date"),
    ({"submission_ids": [1, -2]}, "positive integers"),
    ({"submission_ids": [True]}, "positive integers"),
    ({"batch_size": 0}, "batch_size"),
    ({"bucket": "Bad_Bucket"}, "bucket"),
    ({"key_prefix": "../up"}, "key_prefix"),
    ({"submission_ids_s3_uri": "s3://b/../x.csv"}, "submission_ids_s3_uri"),
    ({"tolerated_failure_percent": 150}, "tolerated_failure_percent"),
])
def test_bad_params_get_one_clear_sentence(change, message):
    with pytest.raises(ScopeError, match=message):
        validate_params({**OK, **change}, KNOWN)


@pytest.mark.parametrize("prefix", ["form526", "a/b/c", "x.y-z_1"])
def test_good_prefixes(prefix):
    assert check_key_prefix(prefix) == prefix


@pytest.mark.parametrize("prefix", ["", "/abs", "trailing/", "a//b", "a/../b", "a b", "a\\b", "ü"])
def test_bad_prefixes(prefix):
    with pytest.raises(ScopeError):
        check_key_prefix(prefix)


def test_s3_uri_parsing():
    u = parse_s3_uri("s3://my-bucket/lists/ids-2024.csv")
    assert (u.bucket, u.key) == ("my-bucket", "lists/ids-2024.csv")


def test_id_csv_takes_only_the_id_column_and_never_echoes_other_values():
    lines = [b"\xef\xbb\xbfName,Submission_ID\r\n", b"Jane Doe,17\r\n", b"\r\n", b"John Roe,42\r\n"]
    assert list(read_id_csv(lines, "s3://b/k.csv")) == [17, 42]
    with pytest.raises(ScopeError) as err:
        list(read_id_csv([b"name,submission_id\n", b"Jane Doe,000-12-3456\n"], "s3://b/k.csv"))
    assert "line 2" in str(err.value) and "000-12-3456" not in str(err.value) and "Jane" not in str(err.value)


@pytest.mark.parametrize(("lines", "message"), [
    ([], "is empty"),
    ([b"id,name\n", b"1,x\n"], "no 'submission_id' column"),
    ([b"submission_id\n", b"\xff\xfe\n"], "not UTF-8"),
])
def test_unusable_id_files(lines, message):
    with pytest.raises(ScopeError, match=message):
        list(read_id_csv(lines, "s3://b/k.csv"))


def test_run_key_is_key_safe():
    assert run_key("manual__2024-01-01T00:00:00+00:00") == "manual__2024-01-01T00-00-00-00-00"
