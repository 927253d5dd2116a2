"""Generic renderers for the ancillary forms (21-4142, 21-0781, 21-0781a, 21-8940).

Their templates are not public and VBA keys them by hand, so each is rendered as a
labelled list of every field the submission holds; nested objects and lists are
flattened into readable labels ("Provider facility 1 › Treatment date ranges 1 › From").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from reportlab.platypus import Flowable

from include.form526.package import theme as pf
from include.form526.package.text_safety import to_text

# (key in form_json, key inside it or None, file name, form title)
ANCILLARY_FORMS: tuple[tuple[str, str | None, str, str], ...] = (
    ("form4142", None, "21-4142.pdf",
     "VA Form 21-4142 — Authorization to Disclose Information to the Department of Veterans Affairs"),
    ("form0781", "form0781", "21-0781.pdf",
     "VA Form 21-0781 — Statement in Support of Claim for Service Connection for PTSD"),
    ("form0781", "form0781a", "21-0781a.pdf",
     "VA Form 21-0781a — Statement in Support of Claim for Service Connection for PTSD Secondary to Personal Assault"),
    ("form8940", None, "21-8940.pdf",
     "VA Form 21-8940 — Veteran's Application for Increased Compensation Based on Unemployability"),
)

MAX_DEPTH = 12
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_ACRONYMS = {"va": "VA", "ssn": "SSN", "id": "ID", "ptsd": "PTSD", "dob": "DOB", "zip": "ZIP", "mst": "MST"}


def humanize(key: object) -> str:
    """`vaFileNumber` -> `VA file number`; `start_date` -> `Start date`."""
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
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+)?", text.strip()):
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


def flatten(value: object, label: str = "", depth: int = 0) -> list[tuple[str, str]]:
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
            name = humanize(key)
            rows.extend(flatten(item, f"{label} › {name}" if label else name, depth + 1))
        return rows
    if isinstance(value, (list, tuple)):
        if all(not isinstance(v, (Mapping, list, tuple)) for v in value):
            return [(label, to_text(list(value)))]
        rows = []
        for index, item in enumerate(value, start=1):
            rows.extend(flatten(item, f"{label} {index}" if label else f"Item {index}", depth + 1))
        return rows
    return [(label or "Value", to_text(value))]


def _grouped_fields(data: object) -> list[Flowable]:
    """Top-level scalars as one list; each nested object (or list item) under its own small heading."""
    if not isinstance(data, Mapping):
        rows = flatten(data)
        return pf.field_list(rows) if rows else [pf.note("No fields were provided.")]
    story: list[Flowable] = []
    simple: list[tuple[str, str]] = []
    for key, value in data.items():
        name = humanize(key)
        if isinstance(value, Mapping) and value:
            groups = [(name, value)]
        elif isinstance(value, list) and any(isinstance(v, (Mapping, list)) for v in value):
            groups = [(f"{name} {n}", item) for n, item in enumerate(value, start=1)]
        else:
            simple += flatten(value, name)
            continue
        for title, item in groups:
            story.append(pf.minor_heading(title))
            story += pf.field_list(flatten(item) or [(title, "")])
    if not simple and not story:
        return [pf.note("No fields were provided.")]
    return pf.field_list(simple) + story


def ancillary_documents(form_json: Mapping[str, object]) -> list[tuple[str, str, object]]:
    """(file name, title, data) for each ancillary form present and non-null, in a fixed order."""
    found = []
    for top_key, inner_key, file_name, title in ANCILLARY_FORMS:
        data = form_json.get(top_key)
        if inner_key is not None:
            data = data.get(inner_key) if isinstance(data, Mapping) else None
        if data is None or data == {} or data == [] or data == "":
            continue
        found.append((file_name, title, data))
    return found


def render_ancillary(title: str, data: object, *, submission_id: int, created_at: datetime) -> bytes:
    """One ancillary form as a labelled field list."""
    t = pf.theme()
    story: list[Flowable] = [
        pf.safe_paragraph(title, t.title),
        pf.safe_paragraph(
            "Regenerated copy for manual processing by VBA — original submission failed electronically", t.notice
        ),
    ]
    story += pf.field_list([
        ("Submission ID", str(submission_id)),
        ("Original submission date", created_at.strftime("%Y-%m-%d %H:%M UTC")),
    ])
    story.append(pf.heading("Information submitted"))
    story += _grouped_fields(data)
    form_number = title.split(" — ")[0]
    return pf.render_pdf(
        story,
        title=f"{form_number} — submission {submission_id}",
        subject="Regenerated copy for manual processing by VBA",
        footer=f"{form_number} · Submission {submission_id}",
    )
