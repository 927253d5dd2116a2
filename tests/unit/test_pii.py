"""The log redaction safety net (include/form526/pii.py)."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from include.form526 import pii

R = pii.REDACTED


def _json_bytes(obj, **kw) -> bytes:
    """A JSON serializer returning bytes, as Airflow's task process does (msgspec) for its BytesLogger."""
    return json.dumps(obj, **kw).encode()


@pytest.fixture
def net():
    """The net installed for one test (left in place if something had installed it before)."""
    was = pii.installed()
    pii.install()
    yield
    if not was:
        pii.uninstall()


@pytest.fixture
def stdlib_log(net):
    """A stdlib logger writing through a plain Formatter to a buffer: (logger, buffer)."""
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("form526.test_pii")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, buf
    logger.removeHandler(handler)


@pytest.mark.parametrize(("text", "expected"), [
    # formatted like an SSN: 3-2-4 with '-', ' ' or '.'
    ("ssn 078-05-1120 here", f"ssn {R} here"),
    ("row 078 05 1120 rejected", f"row {R} rejected"),
    ("row 078.05.1120 rejected", f"row {R} rejected"),
    ("key batch-0001/078-05-1120.zip", f"key batch-0001/{R}.zip"),
    # labelled as one, however written
    ("bad SSN:078051120", f"bad SSN:{R}"),
    ("ssn=078051120, id=1234567", f"ssn={R}, id=1234567"),
    ("SSN 078051120 for submission 40012345", f"SSN {R} for submission 40012345"),
    ("SSN #078 05 1120.", f"SSN #{R}."),
    ("""{"fileNumber": "12345678"}""", f"""{{"fileNumber": "{R}"}}"""),
    ("{'file_number': 12345678, 'id': 40012345}", f"{{'file_number': {R}, 'id': 40012345}}"),
    ("""{"va_eauth_pnid"=>"078051120"}""", f"""{{"va_eauth_pnid"=>"{R}"}}"""),
    ("va_eauth_birlsfilenumber: 12345678", f"va_eauth_birlsfilenumber: {R}"),
    ("birls_id 12345678.", f"birls_id {R}."),
    ("veteranSocialSecurityNumber: 078-05-1120", f"veteranSocialSecurityNumber: {R}"),
    ("""JSON-escaped {\\"ssn\\": \\"078051120\\"}""", f"""JSON-escaped {{\\"ssn\\": \\"{R}\\"}}"""),
    # PostgreSQL error details quote the row's values
    ("DETAIL:  Key (ssn, birth_date)=(078051120, 1950-01-02) already exists.",
     f"DETAIL:  Key (ssn, birth_date)=({R}) already exists."),
    ("DETAIL:  Key (lower(file_number))=(12345678) is not present.",
     f"DETAIL:  Key (lower(file_number))=({R}) is not present."),
    ("DETAIL:  Failing row contains (7, 078051120, Doe).", f"DETAIL:  Failing row contains ({R})."),
])
def test_redact_formatted_and_labelled(text, expected):
    assert pii.redact(text) == expected


@pytest.mark.parametrize("text", [
    "submission 40012345 and file 078051120",  # bare 8/9-digit runs are ids: readable
    "ten 1234567890 digits stay",
    "sha a1b2c3d4e5f6123456789abcdef",
    "uuid 6f1d2c3a-0000-4000-8000-000012345678",
    "time 2026-11-29T05:26:13.456558+00:00",
    "key form526/deliveries/run/batch-0001/123456789.zip",
    "phone 555-123-4567",
    "ssn_missing=3 of 40012345",  # a labelled count, not an identifier
    "va_eauth_pnidtype=SSN multiple_birls=True",
    "sock.fileno() 12345678",
])
def test_ordinary_text_and_ids_stay_readable(text):
    assert pii.redact(text) == text


def test_redact_value_walks_dicts_and_redacts_labelled_values_whole():
    """Under an SSN-like key every value with 4+ digits goes, dict keys included (BIRLS ids key a dict)."""
    value = {"ssn": 78051120, "submission_id": 40012345, "birls_ids_tried": {"12345678": ["2024-01-02"]},
             "fileNumber": ["x", "12345678"], "va_eauth_pnidtype": "SSN", "note": "row 078-05-1120",
             "flags": (True, None), "ssn_count": 3}
    assert pii.redact_value(value) == {
        "ssn": R, "submission_id": 40012345, "birls_ids_tried": {R: [R]}, "fileNumber": ["x", R],
        "va_eauth_pnidtype": "SSN", "note": f"row {R}", "flags": (True, None), "ssn_count": 3}


def test_redact_value_stringifies_objects_only_when_they_hold_pii():
    assert pii.redact_value(ValueError("bad SSN 078-05-1120")) == f"bad SSN {R}"
    harmless = ValueError("submission 40012345 failed")
    assert pii.redact_value(harmless) is harmless


def test_redact_rendered_keeps_a_json_line_json():
    line = json.dumps({"event": "lookup", "fileNumber": 12345678, "submission_id": 40012345,
                       "error_detail": [{"exc_type": "ValueError", "exc_value": "bad SSN:078051120"}]}).encode()
    out = pii.redact_rendered(line)
    assert isinstance(out, bytes)
    assert json.loads(out) == {"event": "lookup", "fileNumber": R, "submission_id": 40012345,
                               "error_detail": [{"exc_type": "ValueError", "exc_value": f"bad SSN:{R}"}]}
    untouched = b'{"event":"batch 0001 done","submission_id":40012345}'
    assert pii.redact_rendered(untouched) == untouched
    assert pii.redact_rendered("2026-01-01 [info] ssn=078051120") == f"2026-01-01 [info] ssn={R}"


def test_stdlib_messages_arguments_and_exceptions_are_redacted(stdlib_log):
    logger, buf = stdlib_log
    logger.info("params were %s and %s", "078-05-1120", 40012345)
    logger.info({"va_eauth_pnid": "078051120", "submission_id": 40012345})  # a dict message
    logger.warning(ValueError("bad SSN 078 05 1120"))  # a non-string message
    try:
        raise ValueError("bad row 078.05.1120")
    except ValueError:
        logger.exception("caught for submission %s", 40012345)
    out = buf.getvalue()
    assert "078" not in out
    assert f"params were {R} and 40012345" in out
    assert f"'va_eauth_pnid': '{R}'" in out and "'submission_id': 40012345" in out
    assert f"bad SSN {R}" in out
    assert "caught for submission 40012345" in out and f"ValueError: bad row {R}" in out  # the traceback


def test_a_logging_call_with_bad_arguments_never_raises(stdlib_log):
    logger, buf = stdlib_log

    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no")

    logger.info("%d submissions", "many")
    logger.info("%s and %s", "only one")
    logger.info(Unprintable())
    out = buf.getvalue()
    assert "%d submissions [log arguments did not format: TypeError]" in out
    assert "%s and %s [log arguments did not format: TypeError]" in out
    assert "<unprintable Unprintable>" in out


def test_structlog_exceptions_render_redacted_in_json_lines(net):
    buf = io.BytesIO()
    log = structlog.wrap_logger(structlog.BytesLogger(buf), processors=[
        structlog.processors.add_log_level,
        structlog.processors.ExceptionRenderer(structlog.tracebacks.ExceptionDictTransformer()),
        structlog.processors.JSONRenderer(serializer=_json_bytes),
    ])
    log.info("lookup", fileNumber=12345678, submission_id=40012345)
    log.warning(ValueError("bad SSN 078-05-1120"))
    log.info({"ssn": "078051120", "submission_id": 40012345})
    try:
        raise ValueError("duplicate: Key (ssn)=(078051120) already exists")
    except ValueError:
        log.exception("caught")
    lines = [json.loads(x) for x in buf.getvalue().splitlines()]
    assert "078" not in buf.getvalue().decode()
    assert lines[0]["fileNumber"] == R and lines[0]["submission_id"] == 40012345
    assert lines[1]["event"] == f"ValueError('bad SSN {R}')"  # a non-string event, rendered by repr
    assert lines[2]["event"] == {"ssn": R, "submission_id": 40012345}
    assert lines[3]["exception"][0]["exc_value"] == f"duplicate: Key (ssn)=({R}) already exists"


def test_structlog_console_tracebacks_are_redacted(net):
    buf = io.StringIO()
    log = structlog.wrap_logger(structlog.WriteLogger(buf), processors=[
        structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)])
    try:
        raise ValueError("bad SSN 078 05 1120 for submission 40012345")
    except ValueError:
        log.exception("caught", ssn="078051120")
    out = buf.getvalue()
    assert "078" not in out
    assert f"ValueError: bad SSN {R} for submission 40012345" in out and f"ssn={R}" in out


def test_the_net_adds_no_frame_to_the_callsite(net):
    buf = io.BytesIO()
    # an explicit wrapper class: Airflow configures structlog's default one process-wide once it has run
    log = structlog.wrap_logger(structlog.BytesLogger(buf), processors=[
        structlog.processors.CallsiteParameterAdder([structlog.processors.CallsiteParameter.FILENAME]),
        structlog.processors.JSONRenderer(serializer=_json_bytes)],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    log.info("ssn=078051120")
    assert json.loads(buf.getvalue()) == {"event": f"ssn={R}", "filename": "test_pii.py"}


def test_install_is_idempotent_and_uninstall_restores():
    was = pii.installed()
    pii.uninstall()
    try:
        assert not pii.installed()
        original_format = logging.Handler.format
        original_msg = structlog.BytesLogger.msg
        pii.install()
        wrapped_format = logging.Handler.format
        pii.install()
        assert pii.installed() and logging.Handler.format is wrapped_format
        assert structlog.BytesLogger.info is structlog.BytesLogger.msg is not original_msg
        pii.uninstall()
        assert logging.Handler.format is original_format and structlog.BytesLogger.error is original_msg
    finally:
        if was:
            pii.install()
