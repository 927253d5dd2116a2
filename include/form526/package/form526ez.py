"""Render a regenerated VA Form 21-526EZ from a submission's form_json and auth headers.

The original PDF came from EVSS/Lighthouse and its template is not public, so this is a
faithful *data* rendering in the form's section order, for VBA staff to key the claim.

Decision — full SSN in the PDF: VBA establishes the claim from this document and needs
the veteran's full SSN, VA file number, birth date and participant ID to do so (the later
remediation batches asked for exactly these). The PDF is therefore PII by design: it only
ever lives in memory, inside the encrypted package store, or in transit over encrypted
channels, and it is never named after or logged with any of its contents. Only the
bank account number is masked (last 4 digits), because VBA does not need it to
establish the claim and it is the most directly abusable value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from reportlab.platypus import Flowable

from include.form526.package import theme as pf
from include.form526.package.ancillary import date_text, flatten, phone_text
from include.form526.package.metadata import claim_date
from include.form526.package.text_safety import to_text

TITLE = "VA Form 21-526EZ"
SUBTITLE = "Application for Disability Compensation and Related Compensation Benefits"
REGENERATED_NOTICE = "Regenerated copy for manual processing by VBA — original submission failed electronically"

MAX_SECONDARY_DEPTH = 5

_ADDRESS_KEYS = frozenset({
    "country", "type", "addressLine1", "addressLine2", "addressLine3", "city", "state",
    "zipFirstFive", "zipLastFour", "militaryPostOfficeTypeCode", "militaryStateCode", "internationalPostalCode",
})
_VETERAN_KEYS = frozenset({
    "emailAddress", "currentMailingAddress", "changeOfAddress", "daytimePhone", "homelessness", "currentlyVAEmployee",
})
_FORM_KEYS = frozenset({
    "veteran", "claimantCertification", "standardClaim", "autoCestPDFGenerationDisabled", "applicationExpirationDate",
    "overflowText", "bddQualified", "claimSubmissionSource", "claimDate", "directDeposit", "servicePay",
    "serviceInformation", "treatments", "disabilities", "toxicExposure",
})
_DISABILITY_KEYS = frozenset({
    "name", "classificationCode", "disabilityActionType", "serviceRelevance", "ratedDisabilityId",
    "diagnosticCode", "secondaryDisabilities",
})
_TREATMENT_KEYS = frozenset({"startDate", "treatedDisabilityNames", "center"})
_PERIOD_KEYS = frozenset({"serviceBranch", "activeDutyBeginDate", "activeDutyEndDate"})
_SERVICE_KEYS = frozenset({"servicePeriods", "reservesNationalGuardService", "separationLocation"})
_DEPOSIT_KEYS = frozenset({"accountType", "accountNumber", "routingNumber", "bankName"})
_ADDRESS_TYPES = {"DOMESTIC": "Domestic", "MILITARY": "Military (APO/FPO/DPO)", "INTERNATIONAL": "International"}


def render_form526ez(
    *,
    submission_id: int,
    created_at: datetime,
    form526: Mapping[str, Any],
    auth_headers: Mapping[str, Any],
    uploads: object = None,
    flashes: object = None,
) -> bytes:
    """PDF bytes of the 21-526EZ for one submission. Expects dicts; tolerates any value inside them."""
    veteran = as_dict(form526.get("veteran"))
    signed_on = claim_date(form526, created_at).isoformat()
    story: list[Flowable] = []
    story += _header(submission_id, created_at, form526, signed_on, flashes)
    story += _identification(auth_headers, veteran)
    story += _change_of_address(veteran.get("changeOfAddress"))
    story += _section("3. Homelessness", veteran.get("homelessness"))
    story += _section("4. Toxic exposure", form526.get("toxicExposure"))
    story += _disabilities(form526.get("disabilities"), form526.get("treatments"))
    story += _service_information(form526.get("serviceInformation"))
    story += _section("7. Service pay", form526.get("servicePay"))
    story += _direct_deposit(form526.get("directDeposit"))
    story += _certification(form526, auth_headers, signed_on)
    story += _uploads(uploads)
    story += _overflow(form526.get("overflowText"))
    story += _other(form526)
    return pf.render_pdf(
        story,
        title=f"{TITLE} — submission {submission_id}",
        subject=SUBTITLE,
        footer=f"{TITLE} · Submission {submission_id}",
    )


# --- value helpers -----------------------------------------------------------------------

def as_dict(value: object) -> Mapping[str, Any]:
    """The value when it is an object (or a one-object list), else an empty mapping."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], Mapping):
        return value[0]
    return {}


def as_list(value: object) -> list[Any]:
    """The value when it is a list; a lone object or scalar becomes a one-item list."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def ssn_text(value: object) -> str:
    text = to_text(value).strip()
    return f"{text[:3]}-{text[3:5]}-{text[5:]}" if re.fullmatch(r"[0-9]{9}", text) else text


def mask_account(value: object) -> str:
    """Every character but the last 4 replaced by `*` (all of them when 4 or fewer)."""
    text = re.sub(r"\s", "", to_text(value))
    if len(text) <= 4:
        return "*" * len(text)
    return "*" * (len(text) - 4) + text[-4:]


def address_text(value: object) -> str:
    """A mailing address as the lines an envelope would carry."""
    if not isinstance(value, Mapping):
        return to_text(value)
    get = lambda key: to_text(value.get(key)).strip()  # noqa: E731
    kind = get("type").upper()
    lines = [get(k) for k in ("addressLine1", "addressLine2", "addressLine3") if get(k)]
    zip_code = get("zipFirstFive") + (f"-{get('zipLastFour')}" if get("zipLastFour") else "")
    if kind == "MILITARY":
        last = " ".join(p for p in (get("militaryPostOfficeTypeCode"), get("militaryStateCode"), zip_code) if p)
    elif kind == "INTERNATIONAL":
        last = " ".join(p for p in (get("city"), get("internationalPostalCode")) if p)
    else:
        city_state = ", ".join(p for p in (get("city"), get("state")) if p)
        last = " ".join(p for p in (
            city_state, zip_code, get("militaryPostOfficeTypeCode"), get("militaryStateCode"),
            get("internationalPostalCode"),
        ) if p)
    lines.append(last)
    lines.append(get("country"))
    return "\n".join(line for line in lines if line)


def _address_rows(label: str, value: object) -> list[tuple[str, str]]:
    if not isinstance(value, Mapping):
        return [(label, to_text(value))]
    kind = to_text(value.get("type")).strip()
    rows = [(label, address_text(value)), (f"{label} type", _ADDRESS_TYPES.get(kind.upper(), kind))]
    extras = {k: v for k, v in value.items() if k not in _ADDRESS_KEYS}
    return rows + flatten(extras)


def _extras(value: Mapping[str, Any], known: frozenset[str], label: str = "") -> list[tuple[str, str]]:
    """Rows for keys a section does not lay out itself, so nothing submitted goes unseen."""
    rest = {k: v for k, v in value.items() if k not in known and v not in (None, "", [], {})}
    return flatten(rest, label) if rest else []


# --- sections ----------------------------------------------------------------------------

def _header(
    submission_id: int, created_at: datetime, form526: Mapping[str, Any], signed_on: str, flashes: object
) -> list[Flowable]:
    t = pf.theme()
    story: list[Flowable] = [
        pf.safe_paragraph(TITLE, t.title),
        pf.safe_paragraph(SUBTITLE, t.subtitle),
        pf.safe_paragraph(REGENERATED_NOTICE, t.notice),
    ]
    rows = [
        ("Submission ID", str(submission_id)),
        ("Original submission date", created_at.strftime("%Y-%m-%d %H:%M UTC")),
        ("Claim date", signed_on + ("" if form526.get("claimDate") else " (not in form; submission date used)")),
        ("Claim submission source", form526.get("claimSubmissionSource")),
        ("Standard claim", form526.get("standardClaim")),
        ("BDD qualified", form526.get("bddQualified")),
    ]
    if form526.get("applicationExpirationDate"):
        rows.append(("Application expiration date", date_text(form526["applicationExpirationDate"])))
    if flashes:
        rows.append(("Flashes", flashes))
    return story + pf.field_list(rows)


def _identification(auth: Mapping[str, Any], veteran: Mapping[str, Any]) -> list[Flowable]:
    first = to_text(auth.get("va_eauth_firstName")).strip()
    last = to_text(auth.get("va_eauth_lastName")).strip()
    rows: list[tuple[str, object]] = [
        ("Veteran's name", " ".join(p for p in (first, last) if p)),
        ("Social Security number", ssn_text(auth.get("va_eauth_pnid"))),
        ("VA file number", auth.get("va_eauth_birlsfilenumber")),
        ("Participant ID", auth.get("va_eauth_pid")),
        ("Date of birth", date_text(auth.get("va_eauth_birthdate"))),
    ]
    rows += _address_rows("Mailing address", veteran.get("currentMailingAddress"))
    rows += [
        ("Daytime phone", phone_text(veteran.get("daytimePhone"))),
        ("Email address", veteran.get("emailAddress")),
        ("Currently a VA employee", veteran.get("currentlyVAEmployee")),
    ]
    rows += _extras(veteran, _VETERAN_KEYS)
    return [pf.heading("1. Veteran identification"), *pf.field_list(rows)]


def _change_of_address(value: object) -> list[Flowable]:
    story: list[Flowable] = [pf.heading("2. Change of address")]
    if value in (None, "", {}, []):
        return [*story, pf.note("No change of address was provided.")]
    rows = _address_rows("New address", value)
    return story + pf.field_list(rows)


def _section(title: str, value: object) -> list[Flowable]:
    """A section rendered from whatever its object holds, or "not provided"."""
    story: list[Flowable] = [pf.heading(title)]
    rows = flatten(value) if value not in (None, "", {}, []) else []
    return story + (pf.field_list(rows) if rows else [pf.note("Not provided in this submission.")])


def disability_statement(item: object, parent: str | None = None) -> str:
    """The claimed condition as VBA reads it: "X" or "X secondary to Y"."""
    name = to_text(as_dict(item).get("name") if isinstance(item, Mapping) else item).strip() or "(unnamed condition)"
    return f"{name} secondary to {parent}" if parent else name


def _disabilities(disabilities: object, treatments: object) -> list[Flowable]:
    story: list[Flowable] = [pf.heading("5. Claimed disabilities and treatment")]
    items = as_list(disabilities)
    if not items:
        story.append(pf.note("No disabilities were listed."))
    else:
        summary = []
        for number, item in enumerate(items, start=1):
            summary.append((f"Condition {number}", disability_statement(item)))
            summary += _secondary_statements(item, disability_statement(item), f"Condition {number}", 1)
        story.append(pf.subheading("Claimed conditions"))
        story += pf.field_list(summary)
        for number, item in enumerate(items, start=1):
            story += _disability_detail(number, item)
    story += _treatments(treatments)
    return story


def _secondary_statements(item: object, parent: str, label: str, depth: int) -> list[tuple[str, str]]:
    if not isinstance(item, Mapping) or depth > MAX_SECONDARY_DEPTH:
        return []
    rows: list[tuple[str, str]] = []
    parent_name = to_text(item.get("name")).strip() or "(unnamed condition)"
    for index, secondary in enumerate(as_list(item.get("secondaryDisabilities")), start=1):
        sub_label = f"{label}.{index}"
        rows.append((f"{sub_label} (secondary)", disability_statement(secondary, parent_name)))
        rows += _secondary_statements(secondary, parent_name, sub_label, depth + 1)
    return rows


def _disability_rows(item: Mapping[str, Any]) -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = [
        ("Action type", item.get("disabilityActionType")),
        ("Classification code", item.get("classificationCode")),
    ]
    for key, label in (("ratedDisabilityId", "Rated disability ID"), ("diagnosticCode", "Diagnostic code")):
        if item.get(key) not in (None, ""):
            rows.append((label, item.get(key)))
    rows.append(("Service relevance", item.get("serviceRelevance")))
    return rows + _extras(item, _DISABILITY_KEYS)


def _disability_detail(number: int, item: object) -> list[Flowable]:
    story: list[Flowable] = [pf.subheading(f"Condition {number}: {disability_statement(item)}")]
    if not isinstance(item, Mapping):
        return story
    story += pf.field_list(_disability_rows(item))
    story += _secondary_detail(item, f"Condition {number}", 1)
    return story


def _secondary_detail(item: Mapping[str, Any], label: str, depth: int) -> list[Flowable]:
    if depth > MAX_SECONDARY_DEPTH:
        return []
    story: list[Flowable] = []
    parent_name = to_text(item.get("name")).strip() or "(unnamed condition)"
    for index, secondary in enumerate(as_list(item.get("secondaryDisabilities")), start=1):
        sub_label = f"{label}.{index}"
        story.append(pf.subheading(f"{sub_label}: {disability_statement(secondary, parent_name)}"))
        if isinstance(secondary, Mapping):
            story += pf.field_list(_disability_rows(secondary))
            story += _secondary_detail(secondary, sub_label, depth + 1)
    return story


def _treatments(treatments: object) -> list[Flowable]:
    story: list[Flowable] = [pf.subheading("Treatment records")]
    items = as_list(treatments)
    if not items:
        return [*story, pf.note("No treatment was listed.")]
    for number, item in enumerate(items, start=1):
        story.append(pf.minor_heading(f"Treatment {number}"))
        if not isinstance(item, Mapping):
            story += pf.field_list([("Treatment", item)])
            continue
        center = item.get("center")
        center_map = as_dict(center)
        rows: list[tuple[str, object]] = [
            ("Treatment center", center_map.get("name") if center_map else center),
            ("Country", center_map.get("country")),
            ("Start date", date_text(item.get("startDate"))),
            ("Conditions treated", item.get("treatedDisabilityNames")),
        ]
        rows += _extras(center_map, frozenset({"name", "country"}), "Center")
        rows += _extras(item, _TREATMENT_KEYS)
        story += pf.field_list(rows)
    return story


def _service_information(value: object) -> list[Flowable]:
    story: list[Flowable] = [pf.heading("6. Service information")]
    info = as_dict(value)
    if not info:
        rows = flatten(value) if value not in (None, "", [], {}) else []
        return story + (pf.field_list(rows) if rows else [pf.note("Not provided in this submission.")])
    periods = as_list(info.get("servicePeriods"))
    if not periods:
        story += pf.field_list([("Service periods", "")])
    for number, period in enumerate(periods, start=1):
        story.append(pf.minor_heading(f"Service period {number}"))
        p = as_dict(period)
        if not p:
            story += pf.field_list([("Service period", period)])
            continue
        rows: list[tuple[str, object]] = [
            ("Branch of service", p.get("serviceBranch")),
            ("Active duty from", date_text(p.get("activeDutyBeginDate"))),
            ("Active duty to", date_text(p.get("activeDutyEndDate"))),
        ]
        story += pf.field_list(rows + _extras(p, _PERIOD_KEYS))
    story.append(pf.minor_heading("Reserves / National Guard service"))
    reserves = info.get("reservesNationalGuardService")
    if reserves in (None, "", {}, []):
        story.append(pf.note("None reported."))
    else:
        story += pf.field_list(flatten(reserves))
    location = info.get("separationLocation")
    if location not in (None, "", {}, []):
        story.append(pf.minor_heading("Separation location"))
        story += pf.field_list(flatten(location))
    rest = _extras(info, _SERVICE_KEYS)
    if rest:
        story.append(pf.minor_heading("Other service information"))
        story += pf.field_list(rest)
    return story


def _direct_deposit(value: object) -> list[Flowable]:
    story: list[Flowable] = [pf.heading("8. Direct deposit")]
    deposit = as_dict(value)
    if not deposit:
        return [*story, pf.note("Not provided in this submission.")]
    rows: list[tuple[str, object]] = [
        ("Account type", deposit.get("accountType")),
        ("Bank name", deposit.get("bankName")),
        ("Routing number", deposit.get("routingNumber")),
        ("Account number (masked)", mask_account(deposit.get("accountNumber"))),
    ]
    # Unknown keys are listed only when they cannot be another account number.
    extra = {k: v for k, v in deposit.items() if k not in _DEPOSIT_KEYS and "account" not in k.lower()}
    rows += _extras(extra, frozenset())
    return story + pf.field_list(rows)


def _certification(form526: Mapping[str, Any], auth: Mapping[str, Any], signed_on: str) -> list[Flowable]:
    certified = form526.get("claimantCertification")
    name = " ".join(
        p for p in (to_text(auth.get("va_eauth_firstName")).strip(), to_text(auth.get("va_eauth_lastName")).strip())
        if p
    )
    statement = (
        "Yes — the claimant certified on VA.gov that the statements in this application are true and complete"
        if certified is True else to_text(certified)
    )
    rows = [
        ("Claimant certification", statement),
        ("Signature", f"Signed electronically on VA.gov by {name}" if name else ""),
        ("Date signed", signed_on),
    ]
    return [pf.heading("9. Claimant certification and signature"), *pf.field_list(rows)]


def _uploads(uploads: object) -> list[Flowable]:
    items = as_list(uploads)
    if not items:
        return []
    story: list[Flowable] = [
        pf.heading("Supporting evidence uploaded"),
        pf.note("These files were uploaded with the claim and are not included in this package."),
    ]
    rows = []
    for item in items:
        upload = as_dict(item)
        if upload:
            rows.append([upload.get("name"), upload.get("attachmentId"), upload.get("confirmationCode"),
                         "not included"])
        else:
            rows.append([item, "", "", "not included"])
    header = ["File name", "Type", "Confirmation code", "In this package"]
    return story + pf.grid(header, rows, (0.31, 0.12, 0.39, 0.18))


def _overflow(value: object) -> list[Flowable]:
    if value in (None, "", [], {}):
        return []
    return [pf.heading("Additional remarks (overflow text)"), pf.safe_paragraph(value, pf.theme().block)]


def _other(form526: Mapping[str, Any]) -> list[Flowable]:
    rows = _extras(form526, _FORM_KEYS)
    if not rows:
        return []
    return [pf.heading("Other information submitted"), *pf.field_list(rows)]
