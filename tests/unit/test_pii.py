"""The log redaction safety net (include/form526/pii.py)."""

from __future__ import annotations

import io
import logging

import pytest

from include.form526 import pii


@pytest.mark.parametrize(("text", "expected"), [
    ("ssn 000-12-3456 here", "ssn [REDACTED] here"),
    ("file number 000123456.", "file number [REDACTED]."),
    ("eight 12345678 digits", "eight [REDACTED] digits"),
    ("submission 1234567 and batch 0007", "submission 1234567 and batch 0007"),
    ("ten 1234567890 digits stay", "ten 1234567890 digits stay"),
    ("sha a1b2c3d4e5f6123456789abcdef", "sha a1b2c3d4e5f6123456789abcdef"),
    ("uuid 6f1d2c3a-0000-4000-8000-000012345678", "uuid 6f1d2c3a-0000-4000-8000-000012345678"),
    ("time 2026-11-29T05:26:13.456558+00:00", "time 2026-11-29T05:26:13.456558+00:00"),
    ("key form526/deliveries/run/batch-0001/123456789.zip", "key form526/deliveries/run/batch-0001/123456789.zip"),
])
def test_redact(text, expected):
    assert pii.redact(text) == expected


def test_installed_factory_redacts_every_stdlib_logger():
    pii.install()
    pii.install()  # idempotent
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    logger = logging.getLogger("some.library")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info("params were %s and %s", "000-12-3456", 987654321)
        logger.warning("raw 000123456 in message")
    finally:
        logger.removeHandler(handler)
    out = buf.getvalue()
    assert "000-12-3456" not in out and "987654321" not in out and "000123456" not in out
    assert out.count(pii.REDACTED) == 3


def test_structlog_processor_redacts_values():
    event = {"event": "loaded 000-12-3456", "count": 5, "file_number": 12345678, "ok": True}
    out = pii.structlog_processor(None, "info", event)
    assert out == {"event": "loaded [REDACTED]", "count": 5, "file_number": "[REDACTED]", "ok": True}
