"""A safety net for logs: redact SSN- and file-number-shaped digit runs wherever a log line is made.

The pipeline never logs veteran data on purpose (it logs ids, counts and error codes). This catches
what might slip through anyway, e.g. a library quoting a value in an exception:

* ``123-45-6789`` and any standalone run of 8 or 9 digits (SSN, VA file number) -> ``[REDACTED]``.

Submission ids in vets-api are 7 digits or fewer, so they stay readable; a sha256 or a uuid is
never touched (its digits are not standalone).

``install()`` is idempotent and covers both stdlib ``logging`` (a record factory, so every logger and
handler is covered) and ``structlog`` (a first processor), which Airflow 3's task runner uses.
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "[REDACTED]"
_PATTERN = re.compile(r"(?<![\w.:/-])(?:\d{3}-\d{2}-\d{4}|\d{8,9})(?![\w:/-]|\.\d)")
_installed = False


def redact(text: str) -> str:
    """``text`` with every SSN- or file-number-shaped run replaced."""
    return _PATTERN.sub(REDACTED, text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int) and not isinstance(value, bool) and 10_000_000 <= abs(value) <= 999_999_999:
        return REDACTED
    return value


def _wrap_record_factory() -> None:
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.args:
            record.msg = redact(record.getMessage())
            record.args = None
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return record

    logging.setLogRecordFactory(factory)


def structlog_processor(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: redact the event and every string value."""
    return {k: _redact_value(v) for k, v in event_dict.items()}


def _add_structlog_processor() -> None:
    try:
        import structlog
    except ImportError:  # pragma: no cover - structlog is an Airflow dependency
        return
    processors = list(structlog.get_config().get("processors", []))
    if structlog_processor not in processors:
        structlog.configure(processors=[structlog_processor, *processors])


def install() -> None:
    """Install the redaction for this process (safe to call more than once)."""
    global _installed
    if _installed:
        return
    _wrap_record_factory()
    _add_structlog_processor()
    _installed = True
