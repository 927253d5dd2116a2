"""Error keys: one job failure's error class and message reduced to the cause it names.

Only what varies per occurrence is stripped: GUIDs (with a ``GUID:`` label), timestamps (ISO, Ruby
``2024-01-02 03:04:05 UTC``, bare dates and clock times) -> ``<time>``, e-mail addresses -> ``<email>``,
long hex ids and digit runs of 6 or more (ids, claim numbers) -> ``<id>``. What identifies a cause stays:
EVSS keys and codes (``EVSS502`` vs ``EVSS400``), HTTP statuses, fixed numbers in fixed text ("It must be 8
or 9 digits").

EVSS Ruby-inspect lists (``[{"key"=>"...", "severity"=>"FATAL", "text"=>"..."}]``) are parsed by reading
``=>`` as ``:`` (as vets-api's ``form526:errors`` rake task does). Per entry the key loses its ``[n]``
indexes; FATAL entries keep their text, ERROR (validation) entries do not (it can echo what the veteran
typed), WARN entries are dropped; several keys are sorted and joined with ``-``. A message that looks like
an EVSS list but does not parse becomes ``unparsed:<ErrorClass>``, an empty one ``no_message:<ErrorClass>``.

Identity values of the submission are replaced before a key is made (``identity.Identity.scrub``); this
module knows nothing of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

MAX_KEY_CHARS = 200
MAX_TEXT_CHARS = 2_000  # only the head of a text is normalised (the key keeps 200 characters anyway)
MAX_MESSAGE_CHARS = 50_000  # a longer EVSS list is reported unparsed rather than parsed at length

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_GUID_RE = re.compile(rf"\bGUID\b\s*[:=#]?\s*(?:{_UUID})?|{_UUID}", re.IGNORECASE)
_TIMESTAMP_RE = re.compile(
    r"(?<!\d)\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?"
    r"(?:Z\b|\s?UTC\b|\s?[+-]\d{2}:?\d{2}\b)?"
    r"|(?<![\d:])\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?(?:\s?UTC\b)?"
    r"|(?<![\d/])\d{1,2}/\d{1,2}/\d{4}(?![\d/])")
_EMAIL_RE = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+")
_HEX_RE = re.compile(r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{16,}\b")
_LONG_DIGITS_RE = re.compile(r"\d{6,}")
_INDEX_RE = re.compile(r"\[\d*\]|\\|\.\d+(?=\.|$)")
_RUBY_NIL_RE = re.compile(r"(?<=[:\[,])\s*nil\s*(?=[,}\]])")
_RUBY_SYMBOL_HASH_RE = re.compile(r"\{\s*:\w+\s*=>")
_RUBY_PAIR_RE = re.compile(r':(\w+)\s*=>\s*("(?:[^"\\]|\\.)*"|nil|[^,}]+)')
_CLASS_NAME_RE = re.compile(r"[A-Za-z_]\w*(?:::[A-Za-z_]\w*)*")
MAX_CLASS_CHARS = 120
INVALID_CLASS = "invalid_error_class"


def error_class_name(value: Any) -> str:
    """A Ruby class name as stored, ``""`` for none; anything else (free text) becomes INVALID_CLASS."""
    if value is None:
        return ""
    text = str(value).strip()
    if not text:
        return ""
    return text if len(text) <= MAX_CLASS_CHARS and _CLASS_NAME_RE.fullmatch(text) else INVALID_CLASS


def normalise_text(text: str) -> str:
    """``text`` without what varies between occurrences of one cause; whitespace folds to single spaces."""
    text = _GUID_RE.sub(" ", text[:MAX_TEXT_CHARS])
    text = _TIMESTAMP_RE.sub(" <time> ", text)
    text = _EMAIL_RE.sub("<email>", text)
    text = _HEX_RE.sub("<id>", text)
    text = _LONG_DIGITS_RE.sub("<id>", text)
    return " ".join(text.split()).strip(" :;,-")


def clip(key: str) -> str:
    """``key`` cut to MAX_KEY_CHARS (with an ellipsis)."""
    return key if len(key) <= MAX_KEY_CHARS else key[: MAX_KEY_CHARS - 1] + "…"


def looks_like_evss(message: str) -> bool:
    """An EVSS error list as vets-api stored it: the Ruby inspect of an array (or one hash) of hashes."""
    m = message.strip()
    return "=>" in m and (m.startswith("[{") or m.startswith('{"') or m.startswith("[ {"))


def parse_evss(message: str) -> list[dict[str, Any]] | None:
    """The entries of an EVSS Ruby-inspect error list, or None when it does not parse.

    vets-api's ``form526:errors`` rake task does ``JSON.parse(message.gsub('=>', ':'))``; Ruby ``nil``
    values are turned into ``null`` as well.
    """
    text = message.strip().replace("=>", ":")
    for candidate in (text, _RUBY_NIL_RE.sub(" null", text)):
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, dict):
            data = [data]
        if isinstance(data, list) and data and all(isinstance(e, dict) for e in data):
            return data
        return None
    return None


def _evss_key(entries: Sequence[Mapping[str, Any]]) -> str | None:
    tokens: set[str] = set()
    usable = [e for e in entries if str(e.get("severity") or "").upper() != "WARN"] or list(entries)
    for entry in usable:
        raw_key = entry.get("key")
        if not isinstance(raw_key, str) or not raw_key.strip():
            return None
        key = _INDEX_RE.sub("", raw_key.strip())
        severity = str(entry.get("severity") or "FATAL").upper()
        text = entry.get("text")
        norm = normalise_text(text) if isinstance(text, str) else ""
        tokens.add(f"{key}: {norm}" if severity not in ("ERROR", "WARN") and norm else key)
    return "-".join(sorted(tokens)) if tokens else None


def _ruby_hash_key(message: str) -> str | None:
    """``BackendServiceException: {:status=>502, :detail=>nil, :code=>"EVSS502"}`` -> readable pairs."""
    start = message.find("{")
    prefix = normalise_text(message[:start])
    pairs = []
    for name, value in _RUBY_PAIR_RE.findall(message[start:]):
        value = value.strip()
        if value == "nil":
            continue
        value = normalise_text(value.strip('"'))
        if value:
            pairs.append(f"{name}={value}")
    if not pairs:
        return None
    return f"{prefix}: {' '.join(sorted(pairs))}" if prefix else " ".join(sorted(pairs))


def error_key(error_class: str | None, error_message: Any) -> str:
    """The normalised key one cause of failure is grouped under (never raises)."""
    cls = clip(" ".join(str(error_class).split()) if error_class is not None else "") or "unknown"
    try:
        if error_message is not None and not isinstance(error_message, str):
            error_message = str(error_message)
        if error_message is None or not error_message.strip():
            return clip(f"no_message:{cls}")
        error_message = error_message[:MAX_MESSAGE_CHARS]
        if looks_like_evss(error_message):
            entries = parse_evss(error_message)
            key = _evss_key(entries) if entries else None
            return clip(key) if key else clip(f"unparsed:{cls}")
        if _RUBY_SYMBOL_HASH_RE.search(error_message):
            key = _ruby_hash_key(error_message)
            if key:
                return clip(key)
        key = normalise_text(error_message)
        return clip(key) if key else clip(f"unparsed:{cls}")
    except Exception:  # bad input must never stop the report
        return clip(f"unparsed:{cls}")
