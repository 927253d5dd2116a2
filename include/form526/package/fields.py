"""Turning JSON values into readable (label, text) rows; shared by every renderer.

Nothing here raises on odd input: any JSON value (or a hostile object) becomes text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from include.form526.package.text_safety import to_text

JsonValue = Any
"""A value as `json.loads` gives it (dict, list, str, int, float, bool or None)."""

MAX_DEPTH = 12
EMPTY = (None, "", [], {})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_ACRONYMS = {
    "va": "VA", "ssn": "SSN", "id": "ID", "ptsd": "PTSD", "dob": "DOB", "zip": "ZIP", "mst": "MST", "uae": "UAE",
    "mos": "MOS", "bdd": "BDD",
}
_ISO_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+)?")


def is_empty(value: object) -> bool:
    """True for None, '', [] and {} (False, 0 and NaN are values)."""
    return isinstance(value, (type(None), str, list, dict)) and not value


def humanize(key: object, labels: Mapping[str, str] | None = None) -> str:
    """`vaFileNumber` -> `VA file number`; `start_date` -> `Start date`; a key in `labels` -> its label."""
    if labels and isinstance(key, str) and key in labels:
        return labels[key]
    words = _CAMEL.sub(" ", to_text(key).replace("_", " ")).split()
    if not words:
        return "(unnamed field)"
    words = [_ACRONYMS.get(w.lower(), w if w.isupper() and len(w) > 1 else w.lower()) for w in words]
    return words[0][:1].upper() + words[0][1:] + "".join(" " + w for w in words[1:])


def date_text(value: object) -> str:
    """`{year, month, day}` -> `YYYY-MM(-DD)`; an ISO timestamp -> its date; anything else as written."""
    if isinstance(value, Mapping):
        parts = [to_text(value.get(k)).strip() for k in ("year", "month", "day")]
        parts = [p.zfill(2) if i and p.isdigit() else p for i, p in enumerate(parts)]
        while parts and not parts[-1]:
            parts.pop()
        return "-".join(p or "??" for p in parts) if parts else ""
    text = to_text(value)
    if _ISO_TIMESTAMP.fullmatch(text.strip()):
        return text.strip()[:10]
    return text


def phone_text(value: object) -> str:
    """`{areaCode, phoneNumber}` -> `(555) 555-0100` when it has that shape, else as written."""
    if not isinstance(value, Mapping):
        return to_text(value)
    area = to_text(value.get("areaCode")).strip()
    number = to_text(value.get("phoneNumber")).strip()
    if re.fullmatch(r"[0-9]{3}", area) and re.fullmatch(r"[0-9]{7}", number):
        return f"({area}) {number[:3]}-{number[3:]}"
    rest = {k: v for k, v in value.items() if k not in ("areaCode", "phoneNumber")}
    return " ".join(p for p in (area, number, to_text(rest)) if p)


def flatten(
    value: object, label: str = "", depth: int = 0, labels: Mapping[str, str] | None = None
) -> list[tuple[str, str]]:
    """(label, text) rows for any JSON value; lists of scalars are joined on one row."""
    if depth > MAX_DEPTH:
        return [(label, "[nested data too deep to display]")]
    if isinstance(value, Mapping):
        if not value:
            return [(label, "")] if label else []
        if set(value) == {"areaCode", "phoneNumber"}:
            return [(label or "Phone", phone_text(value))]
        if set(value) <= {"year", "month", "day"} and "year" in value:
            return [(label or "Date", date_text(value))]
        rows: list[tuple[str, str]] = []
        for key, item in value.items():
            name = humanize(key, labels)
            rows.extend(flatten(item, f"{label} › {name}" if label else name, depth + 1, labels))
        return rows
    if isinstance(value, (list, tuple)):
        if all(not isinstance(v, (Mapping, list, tuple)) for v in value):
            return [(label, to_text(list(value)))]
        rows = []
        for index, item in enumerate(value, start=1):
            rows.extend(flatten(item, f"{label} {index}" if label else f"Item {index}", depth + 1, labels))
        return rows
    return [(label or "Value", to_text(value))]


def extras(value: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """The keys of `value` a section does not lay out itself (empty values dropped), in input order."""
    return {k: v for k, v in value.items() if k not in known and not is_empty(v)}
