"""A safety net for logs: redact SSNs and VA file numbers in every log line this process writes.

The first defence is that the pipeline never logs veteran data (it logs ids, counts and error codes).
This net catches what slips through anyway, e.g. a library quoting a value in an exception message.
It redacts what is written like an SSN or labelled as one, and leaves bare digit runs readable (ids):

* formatted: ``123-45-6789``, ``123 45 6789``, ``123.45.6789``              -> ``[REDACTED]``;
* labelled: a value with at least 4 digits after ``ssn``, ``pnid`` (``va_eauth_pnid``), ``file_number``,
  ``fileNumber``, ``birls`` and the like, in any spelling (``SSN:123456789``, ``ssn=...``,
  ``"fileNumber": "..."``, ``'va_eauth_pnid' => '...'``)                      -> ``ssn=[REDACTED]``;
  a whole value under such a key in a dict message or a JSON log line is redacted;
* PostgreSQL details that quote row values: ``Key (ssn)=(...)``, ``Failing row contains (...)``.

It works on the final text of each line, after the exception renderer, so exception messages and
tracebacks are covered too: ``install()`` wraps ``logging.Handler.format`` (what every stdlib handler
writes) and the ``msg`` of structlog's output loggers (``PrintLogger``, ``WriteLogger``, ``BytesLogger``:
in Airflow 3 the task process renders each event, its exception included, into a JSON line that a
``BytesLogger`` sends to the supervisor, which writes the task log file). A JSON line is redacted value
by value, so it stays JSON. Being patches of classes rather than entries in a logging configuration,
they survive Airflow reconfiguring logging, e.g. in a forked task process, and they add no frame to
the caller's stack (callsite file and line stay right). A log record factory also formats each stdlib
message early, never raising even on bad arguments, so no raw argument reaches any handler.

``install()`` is idempotent; nothing here raises into a logging call.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

REDACTED = "[REDACTED]"
_WITHHELD = "[log line withheld: it could not be redacted]"
_MIN_LABELLED_DIGITS = 4  # shorter labelled values are counts or flags, not identifiers
_MAX_DEPTH = 12

_LABEL = (r"[A-Za-z_]*?(?:ssn|social_?security_?(?:number|num|no)?|pnid|file_?(?:number|num)|birls)"
          r"[A-Za-z_]*")
_LABEL_KEY = re.compile(_LABEL, re.IGNORECASE)
_FORMATTED = r"(?<!\d)\d{3}(?P<sep>[-. ])\d{2}(?P=sep)\d{4}(?!\d)"
_LABELLED = (rf"(?P<label>(?<![A-Za-z0-9]){_LABEL}[\s\"'\\]*(?:=>|[:=#])?[\s\"'\\\[{{(#]*)"
             r"(?P<value>[A-Za-z]{0,2}\d(?:\d|[-. ](?=\d))*)")
_PG_DETAIL = r"(?P<pg>\bKey \([^\n]*?\)=\(|Failing row contains \()(?P<row>[^\n]*)\)"
_SPANS = re.compile(rf"(?P<formatted>{_FORMATTED})|{_LABELLED}|{_PG_DETAIL}", re.IGNORECASE)
# A fast first look (one regex with alternations costs ~50 us a line): text without any of these hints
# holds nothing to redact.
_LABEL_HINTS = ("ssn", "social", "pnid", "filenum", "file_num", "birls", "key (", "failing row contains (")
_FORMATTED_HINT = re.compile(r"[-. ]\d\d[-. ]\d{4}")

# structlog's output loggers write every method through ``msg`` (``info = error = ... = msg``)
_SINK_METHODS = ("msg", "log", "debug", "info", "warn", "warning", "fatal", "failure", "err", "error", "critical",
                 "exception")
_originals: dict[str, Any] = {}


def _replace(m: re.Match[str]) -> str:
    if m.group("formatted"):
        return REDACTED
    if m.group("pg"):
        return f"{m.group('pg')}{REDACTED})"
    if sum(c.isdigit() for c in m.group("value")) < _MIN_LABELLED_DIGITS:
        return m.group(0)
    return f"{m.group('label')}{REDACTED}"


def _might_hold_pii(text: str) -> bool:
    lowered = text.lower()
    return any(hint in lowered for hint in _LABEL_HINTS) or _FORMATTED_HINT.search(text) is not None


def redact(text: str) -> str:
    """``text`` with every SSN-formatted or SSN-labelled value (and PostgreSQL row detail) replaced."""
    return _SPANS.sub(_replace, text) if _might_hold_pii(text) else text


def is_label(key: object) -> bool:
    """Whether a dict key names an SSN, file number, PNID or BIRLS id (``ssn``, ``fileNumber``...)."""
    return isinstance(key, str) and _LABEL_KEY.fullmatch(key) is not None


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:  # a broken __str__ must not break the logging call
        return f"<unprintable {type(value).__name__}>"


def _redact_labelled(value: Any) -> Any:
    """A scalar under an SSN-like key: redacted whole when it carries enough digits to identify."""
    if value is None or isinstance(value, bool):
        return value
    text = _safe_str(value)
    return REDACTED if sum(c.isdigit() for c in text) >= _MIN_LABELLED_DIGITS else value


def redact_value(value: Any, labelled: bool = False, _depth: int = 0) -> Any:
    """``value`` with PII redacted: strings by text, dicts and lists item by item (a value under an
    SSN-like key whole), other objects through their text when that holds something to redact."""
    if _depth > _MAX_DEPTH:
        return redact(_safe_str(value))
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            key = redact_value(k, labelled, _depth + 1) if isinstance(k, str) else k
            if key in out:  # two ids redacted to the same key: keep both entries
                key = f"{key}#{len(out)}"
            out[key] = redact_value(v, labelled or is_label(k), _depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        items = [redact_value(v, labelled, _depth + 1) for v in value]
        return items if isinstance(value, list) else tuple(items)
    if labelled:
        return _redact_labelled(value)
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = _safe_str(value)
    redacted = redact(text)
    return redacted if redacted != text else value


def _redact_text_line(text: str) -> str:
    if not _might_hold_pii(text):
        return text
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            parsed = json.loads(stripped)
        except ValueError:
            pass
        else:  # a JSON log line: redact value by value so the line stays valid JSON
            redacted = redact_value(parsed)
            if redacted == parsed:
                return text
            rendered = json.dumps(redacted, ensure_ascii=False, separators=(",", ":"), default=str)
            return text[: len(text) - len(text.lstrip())] + rendered + text[len(text.rstrip()):]
    return redact(text)


def redact_rendered(line: str | bytes | bytearray) -> str | bytes:
    """A rendered log line (text, or a JSON line as text or bytes) with PII redacted; never raises."""
    try:
        if isinstance(line, (bytes, bytearray)):
            text = bytes(line).decode("utf-8", errors="replace")
            out = _redact_text_line(text)
            return bytes(line) if out == text else out.encode("utf-8")
        return _redact_text_line(line)
    except Exception:
        return _WITHHELD.encode() if isinstance(line, (bytes, bytearray)) else _WITHHELD


def _redact_record(record: logging.LogRecord) -> None:
    if record.args:
        try:
            text = record.getMessage()
        except Exception as exc:  # bad arguments: keep the template, drop the arguments, never raise
            text = f"{_safe_str(record.msg)} [log arguments did not format: {type(exc).__name__}]"
        record.msg, record.args = redact(text), None
    elif isinstance(record.msg, str):
        record.msg = redact(record.msg)
    elif isinstance(record.msg, (Mapping, list, tuple)):
        record.msg = redact_value(record.msg)
    else:  # e.g. an exception: its text, now, so formatting it later cannot fail
        record.msg = redact(_safe_str(record.msg))


def _record_factory(previous: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            _redact_record(record)
        except Exception:
            record.msg, record.args = _WITHHELD, None
        return record

    factory._form526_redacting = True  # type: ignore[attr-defined]
    factory._form526_previous = previous  # type: ignore[attr-defined]
    return factory


def _redacting_handler_format(original: Callable[[logging.Handler, logging.LogRecord], str]
                              ) -> Callable[[logging.Handler, logging.LogRecord], str]:
    def format(self: logging.Handler, record: logging.LogRecord) -> str:
        return str(redact_rendered(original(self, record)))

    format._form526_redacting = True  # type: ignore[attr-defined]
    return format


def _redacting_sink(original: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    def msg(self: Any, message: Any) -> None:
        if isinstance(message, (str, bytes, bytearray)):
            message = redact_rendered(message)
        original(self, message)

    msg._form526_redacting = True  # type: ignore[attr-defined]
    return msg


def _structlog_sinks() -> list[type]:
    try:
        import structlog
    except ImportError:  # pragma: no cover - structlog is an Airflow dependency
        return []
    return [structlog.PrintLogger, structlog.WriteLogger, structlog.BytesLogger]


def installed() -> bool:
    """Whether the net is in place in this process."""
    factory = logging.getLogRecordFactory()
    return bool(getattr(factory, "_form526_redacting", False)
                and getattr(logging.Handler.format, "_form526_redacting", False)
                and all(getattr(cls.__dict__["msg"], "_form526_redacting", False) for cls in _structlog_sinks()))


def install() -> None:
    """Install the redaction for this process (safe to call more than once, and after a fork)."""
    if not getattr(logging.getLogRecordFactory(), "_form526_redacting", False):
        logging.setLogRecordFactory(_record_factory(logging.getLogRecordFactory()))
    if not getattr(logging.Handler.format, "_form526_redacting", False):
        _originals["handler_format"] = logging.Handler.format
        logging.Handler.format = _redacting_handler_format(logging.Handler.format)  # type: ignore[method-assign]
    for cls in _structlog_sinks():
        original = cls.__dict__["msg"]
        if getattr(original, "_form526_redacting", False):
            continue
        wrapped = _redacting_sink(original)
        for name in _SINK_METHODS:
            if cls.__dict__.get(name) is original:
                _originals[f"{cls.__name__}.{name}"] = original
                setattr(cls, name, wrapped)


def uninstall() -> None:
    """Remove the net (for tests)."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "_form526_redacting", False):
        logging.setLogRecordFactory(factory._form526_previous)  # type: ignore[attr-defined]
    if "handler_format" in _originals:
        logging.Handler.format = _originals.pop("handler_format")  # type: ignore[method-assign]
    for cls in _structlog_sinks():
        for name in _SINK_METHODS:
            if (original := _originals.pop(f"{cls.__name__}.{name}", None)) is not None:
                setattr(cls, name, original)
