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
    ({"submission_ids": [1, -2]}, "integers from 1"),
    ({"submission_ids": [True]}, "integers from 1"),
    ({"submission_ids": [2_147_483_648]}, "integers from 1 to 2147483647"),
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


def test_run_key_is_key_safe_and_injective():
    key = run_key("manual__2024-01-01T00:00:00+00:00")
    assert key.startswith("manual__2024-01-01T00-00-00-00-00-")
    assert len(key) == len("manual__2024-01-01T00-00-00-00-00") + 11
    # ids that sanitise alike still get different keys; no key is a path step
    assert run_key("manual__a:b") != run_key("manual__a+b")
    assert run_key("..") not in (".", "..") and "/" not in run_key("../x")


@pytest.mark.parametrize("value", ["form526-backlog\n", "form526-backlog\n\n"])
def test_a_trailing_newline_is_refused_in_code_and_in_the_json_schema(value):
    import jsonschema

    from include.form526.scope import BUCKET_PATTERN, KEY_PREFIX_PATTERN

    with pytest.raises(ScopeError):
        validate_params({**OK, "bucket": value}, KNOWN)
    with pytest.raises(ScopeError):
        check_key_prefix("form526\n")
    for pattern in (BUCKET_PATTERN, KEY_PREFIX_PATTERN):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate("form526\n", {"type": "string", "pattern": pattern})
        jsonschema.validate("form526", {"type": "string", "pattern": pattern})


def test_only_allowed_buckets_are_accepted():
    allowed = ("form526-backlog",)
    assert validate_params(OK, KNOWN, allowed_buckets=allowed).bucket == "form526-backlog"
    with pytest.raises(ScopeError, match="not one this deployment allows") as err:
        validate_params({**OK, "bucket": "attacker-bucket"}, KNOWN, allowed_buckets=allowed)
    assert "attacker-bucket" not in str(err.value)
    with pytest.raises(ScopeError, match="submission_ids_s3_uri"):
        validate_params({**OK, "submission_ids_s3_uri": "s3://attacker-bucket/ids.csv"}, KNOWN,
                        allowed_buckets=allowed, allowed_input_buckets=allowed)


@pytest.mark.parametrize("cell", ["12345678\u00b9", "\u0661\u0662", "99999999999", "0", "1e5"])
def test_id_cells_that_are_not_plain_ascii_integers_get_one_clear_error(cell):
    with pytest.raises(ScopeError, match="line 2") as err:
        list(read_id_csv([b"submission_id\n", f"{cell}\n".encode()], "s3://b/k.csv"))
    assert cell not in str(err.value)
