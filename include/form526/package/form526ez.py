"""Render a regenerated VA Form 21-526EZ from the parsed submission.

The original PDF came from EVSS/Lighthouse and its template is not public, so this is a
faithful *data* rendering in the form's section order, for VBA staff to key the claim.

Decision — full SSN and full direct-deposit details in the PDF: VBA establishes the claim from
this document and needs the veteran's full SSN, VA file number, birth date and participant ID
to do so (the later remediation batches asked for exactly these), and the product owner decided
that the bank account and routing numbers are printed in full so VBA can set up payment. The PDF
is therefore PII by design: it only ever lives in memory, inside the encrypted package store, or
in transit over encrypted channels, and it is never named after or logged with any of its
contents. The account number appears in this PDF and nowhere else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from reportlab.platypus import Flowable

from include.form526.package import theme as pf
from include.form526.package.attachments import EvidenceEntry, reason_text
from include.form526.package.fields import date_text, flatten, is_empty, phone_text
from include.form526.package.submission import (
    Address,
    Claim,
    Disability,
    ServiceInformation,
    Submission,
    ToxicExposure,
    Treatment,
)
from include.form526.package.text_safety import to_text
from include.form526.package.toxic import toxic_exposure_rows

TITLE = "VA Form 21-526EZ"
SUBTITLE = "Application for Disability Compensation and Related Compensation Benefits"
REGENERATED_NOTICE = "Regenerated copy for manual processing by VBA — original submission failed electronically"
BDD_NOTICE = (
    "Benefits Delivery at Discharge (BDD) claim: VA.gov would have added VA's BDD instruction sheet "
    "(document type L023) to this claim. This package does not include that sheet."
)

_ADDRESS_TYPES = {"DOMESTIC": "Domestic", "MILITARY": "Military (APO/FPO/DPO)", "INTERNATIONAL": "International"}


def render_form526ez(submission: Submission, evidence: Sequence[EvidenceEntry] = ()) -> bytes:
    """PDF bytes of the 21-526EZ for one submission; `evidence` is the plan for its uploads."""
    claim = submission.claim
    story: list[Flowable] = []
    story += _header(submission)
    story += _identification(submission)
    story += _change_of_address(claim.veteran.change_of_address)
    story += _section("3. Homelessness", claim.veteran.homelessness)
    story += _toxic_exposure(claim.toxic_exposure)
    story += _disabilities(claim.disabilities, claim.treatments)
    story += _service_information(claim)
    story += _section("7. Service pay", claim.service_pay)
    story += _direct_deposit(claim)
    story += _certification(submission)
    story += _evidence(evidence)
    story += _overflow(claim.overflow_text)
    story += _other(claim)
    return pf.render_pdf(
        story,
        title=f"{TITLE} — submission {submission.id}",
        subject=SUBTITLE,
        footer=f"{TITLE} · Submission {submission.id}",
    )


# --- value helpers -----------------------------------------------------------------------

def ssn_text(value: str) -> str:
    return f"{value[:3]}-{value[3:5]}-{value[5:]}" if re.fullmatch(r"[0-9]{9}", value) else value


def address_text(address: Address) -> str:
    """A mailing address as the lines an envelope would carry."""
    if address.unparsed:
        return address.unparsed
    a = address
    kind = a.type.upper()
    lines = [line for line in (a.address_line1, a.address_line2, a.address_line3) if line]
    zip_code = a.zip_first_five + (f"-{a.zip_last_four}" if a.zip_last_four else "")
    if kind == "MILITARY":
        last = " ".join(p for p in (a.military_post_office_type_code, a.military_state_code, zip_code) if p)
    elif kind == "INTERNATIONAL":
        last = " ".join(p for p in (a.city, a.international_postal_code) if p)
    else:
        city_state = ", ".join(p for p in (a.city, a.state) if p)
        last = " ".join(p for p in (
            city_state, zip_code, a.military_post_office_type_code, a.military_state_code, a.international_postal_code,
        ) if p)
    lines += [last, a.country]
    return "\n".join(line for line in lines if line)


def _address_rows(label: str, address: Address | None) -> list[tuple[str, object]]:
    if address is None:
        return [(label, "")]
    if address.unparsed:
        return [(label, address.unparsed)]
    rows: list[tuple[str, object]] = [
        (label, address_text(address)), (f"{label} type", _ADDRESS_TYPES.get(address.type.upper(), address.type)),
    ]
    return rows + flatten(dict(address.extras))


def _rows_of(extra: object, label: str = "") -> list[tuple[str, str]]:
    """Rows for keys a section does not lay out itself, so nothing submitted goes unseen."""
    return flatten(dict(extra), label) if extra else []


# --- sections ----------------------------------------------------------------------------

def _header(submission: Submission) -> list[Flowable]:
    t = pf.theme()
    claim = submission.claim
    story: list[Flowable] = [
        pf.safe_paragraph(TITLE, t.title),
        pf.safe_paragraph(SUBTITLE, t.subtitle),
        pf.safe_paragraph(REGENERATED_NOTICE, t.notice),
    ]
    if claim.is_bdd:
        story.append(pf.safe_paragraph(BDD_NOTICE, t.notice))
    if claim.claim_date_given:
        claim_date = claim.claim_date.isoformat()
    elif is_empty(claim.claim_date_raw):
        claim_date = f"{claim.claim_date.isoformat()} (not in form; submission date used)"
    else:
        claim_date = f"{claim.claim_date.isoformat()} (form value is not a date; submission date used)"
    rows: list[tuple[str, object]] = [
        ("Submission ID", str(submission.id)),
        ("Original submission date", submission.created_at.strftime("%Y-%m-%d %H:%M UTC")),
        ("Claim date", claim_date),
        ("Claim submission source", claim.claim_submission_source),
        ("Standard claim", claim.standard_claim),
        ("BDD qualified", claim.bdd_qualified),
    ]
    if claim.application_expiration_date:
        rows.append(("Application expiration date", date_text(claim.application_expiration_date)))
    if submission.flashes:
        rows.append(("Flashes", submission.flashes))
    return story + pf.field_list(rows)


def _identification(submission: Submission) -> list[Flowable]:
    who = submission.identity
    veteran = submission.claim.veteran
    rows: list[tuple[str, object]] = [
        ("Veteran's name", who.full_name),
        ("Social Security number", ssn_text(who.ssn)),
        ("VA file number", who.file_number),
        ("Participant ID", who.participant_id),
        ("Date of birth", who.birth_date),
    ]
    rows += _address_rows("Mailing address", veteran.mailing_address)
    rows += [
        ("Daytime phone", phone_text(veteran.daytime_phone)),
        ("Email address", veteran.email),
        ("Currently a VA employee", veteran.currently_va_employee),
    ]
    rows += _rows_of(veteran.extras)
    return [pf.heading("1. Veteran identification"), *pf.field_list(rows)]


def _change_of_address(address: Address | None) -> list[Flowable]:
    story: list[Flowable] = [pf.heading("2. Change of address")]
    if address is None:
        return [*story, pf.note("No change of address was provided.")]
    return story + pf.field_list(_address_rows("New address", address))


def _section(title: str, value: object) -> list[Flowable]:
    """A section rendered from whatever its object holds, or "not provided"."""
    story: list[Flowable] = [pf.heading(title)]
    rows = flatten(value) if not is_empty(value) else []
    return story + (pf.field_list(rows) if rows else [pf.note("Not provided in this submission.")])


def _toxic_exposure(exposure: ToxicExposure) -> list[Flowable]:
    story: list[Flowable] = [pf.heading("4. Toxic exposure")]
    groups = toxic_exposure_rows(exposure)
    if not groups:
        return [*story, pf.note("No toxic exposure was reported.")]
    for title, rows in groups:
        story.append(pf.minor_heading(title))
        story += pf.field_list(rows) if rows else [pf.note("Nothing checked.")]
    return story


def disability_statement(item: Disability, parent: str | None = None) -> str:
    """The claimed condition as VBA reads it: "X" or "X secondary to Y"."""
    name = item.name or "(unnamed condition)"
    return f"{name} secondary to {parent}" if parent else name


def _disabilities(disabilities: Sequence[Disability], treatments: Sequence[Treatment]) -> list[Flowable]:
    story: list[Flowable] = [pf.heading("5. Claimed disabilities and treatment")]
    if not disabilities:
        story.append(pf.note("No disabilities were listed."))
    else:
        summary: list[tuple[str, str]] = []
        for number, item in enumerate(disabilities, start=1):
            summary.append((f"Condition {number}", disability_statement(item)))
            summary += _secondary_statements(item, f"Condition {number}")
        story.append(pf.subheading("Claimed conditions"))
        story += pf.field_list(summary)
        for number, item in enumerate(disabilities, start=1):
            story += _disability_detail(number, item)
    story += _treatments(treatments)
    return story


def _secondary_statements(item: Disability, label: str) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    parent_name = item.name or "(unnamed condition)"
    for index, secondary in enumerate(item.secondaries, start=1):
        sub_label = f"{label}.{index}"
        rows.append((f"{sub_label} (secondary)", disability_statement(secondary, parent_name)))
        rows += _secondary_statements(secondary, sub_label)
    return rows


def _disability_rows(item: Disability) -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = [
        ("Action type", item.action_type),
        ("Classification code", item.classification_code),
    ]
    for value, label in ((item.rated_disability_id, "Rated disability ID"), (item.diagnostic_code, "Diagnostic code")):
        if value is not None and value != "":
            rows.append((label, value))
    rows.append(("Service relevance", item.service_relevance))
    return rows + _rows_of(item.extras)


def _disability_detail(number: int, item: Disability) -> list[Flowable]:
    story: list[Flowable] = [pf.subheading(f"Condition {number}: {disability_statement(item)}")]
    if not item.is_object:
        return story
    story += pf.field_list(_disability_rows(item))
    story += _secondary_detail(item, f"Condition {number}")
    return story


def _secondary_detail(item: Disability, label: str) -> list[Flowable]:
    story: list[Flowable] = []
    parent_name = item.name or "(unnamed condition)"
    for index, secondary in enumerate(item.secondaries, start=1):
        sub_label = f"{label}.{index}"
        story.append(pf.subheading(f"{sub_label}: {disability_statement(secondary, parent_name)}"))
        if secondary.is_object:
            story += pf.field_list(_disability_rows(secondary))
            story += _secondary_detail(secondary, sub_label)
    return story


def _treatments(treatments: Sequence[Treatment]) -> list[Flowable]:
    story: list[Flowable] = [pf.subheading("Treatment records")]
    if not treatments:
        return [*story, pf.note("No treatment was listed.")]
    for number, item in enumerate(treatments, start=1):
        story.append(pf.minor_heading(f"Treatment {number}"))
        if not item.is_object:
            story += pf.field_list([("Treatment", item.unparsed)])
            continue
        rows: list[tuple[str, object]] = [
            ("Treatment center", item.center_name),
            ("Country", item.center_country),
            ("Start date", item.start_date),
            ("Conditions treated", item.treated_disability_names),
        ]
        rows += _rows_of(item.center_extras, "Center")
        rows += _rows_of(item.extras)
        story += pf.field_list(rows)
    return story


def _service_information(claim: Claim) -> list[Flowable]:
    story: list[Flowable] = [pf.heading("6. Service information")]
    info: ServiceInformation | None = claim.service_information
    if info is None:
        rows = flatten(claim.service_information_unparsed) if not is_empty(claim.service_information_unparsed) else []
        return story + (pf.field_list(rows) if rows else [pf.note("Not provided in this submission.")])
    if not info.periods:
        story += pf.field_list([("Service periods", "")])
    for number, period in enumerate(info.periods, start=1):
        story.append(pf.minor_heading(f"Service period {number}"))
        if not period.is_object:
            story += pf.field_list([("Service period", period.unparsed)])
            continue
        rows: list[tuple[str, object]] = [
            ("Branch of service", period.branch),
            ("Active duty from", period.begin),
            ("Active duty to", period.end),
        ]
        story += pf.field_list(rows + _rows_of(period.extras))
    story.append(pf.minor_heading("Reserves / National Guard service"))
    if is_empty(info.reserves):
        story.append(pf.note("None reported."))
    else:
        story += pf.field_list(flatten(info.reserves))
    if not is_empty(info.separation_location):
        story.append(pf.minor_heading("Separation location"))
        story += pf.field_list(flatten(info.separation_location))
    rest = _rows_of(info.extras)
    if rest:
        story.append(pf.minor_heading("Other service information"))
        story += pf.field_list(rest)
    return story


def _direct_deposit(claim: Claim) -> list[Flowable]:
    story: list[Flowable] = [pf.heading("8. Direct deposit")]
    deposit = claim.direct_deposit
    if deposit is None:
        return [*story, pf.note("Not provided in this submission.")]
    rows: list[tuple[str, object]] = [
        ("Account type", deposit.account_type),
        ("Bank name", deposit.bank_name),
        ("Routing number", deposit.routing_number),
        ("Account number", deposit.account_number),
    ]
    return story + pf.field_list(rows + _rows_of(deposit.extras))


def _certification(submission: Submission) -> list[Flowable]:
    certified = submission.claim.claimant_certification
    name = submission.identity.full_name
    statement = (
        "Yes — the claimant certified on VA.gov that the statements in this application are true and complete"
        if certified is True else to_text(certified)
    )
    rows = [
        ("Claimant certification", statement),
        ("Signature", f"Signed electronically on VA.gov by {name}" if name else ""),
        ("Date signed", submission.claim.claim_date.isoformat()),
    ]
    return [pf.heading("9. Claimant certification and signature"), *pf.field_list(rows)]


def _evidence(entries: Sequence[EvidenceEntry]) -> list[Flowable]:
    if not entries:
        return []
    retrieved = any(e.file_name or e.reason for e in entries)
    story: list[Flowable] = [pf.heading("Supporting evidence uploaded")]
    if not retrieved:
        story.append(pf.note("These files were uploaded with the claim and are not included in this package."))
    else:
        included = sum(1 for e in entries if e.file_name)
        story.append(pf.note(
            f"{len(entries)} file(s) were uploaded with the claim; {included} are included in this package as "
            "the attachment named below, converted to PDF where needed. The others are listed with the reason."
        ))
    rows = []
    for entry in entries:
        upload = entry.upload
        if entry.file_name:
            status = f"included as {entry.file_name}"
        elif entry.reason:
            status = f"not included: {reason_text(entry.reason)}"
        else:
            status = "not included"
        rows.append([upload.name, upload.attachment_id, upload.confirmation_code, status])
    header = ["File name", "Type", "Confirmation code", "In this package"]
    return story + pf.grid(header, rows, (0.28, 0.07, 0.40, 0.25))


def _overflow(value: object) -> list[Flowable]:
    if is_empty(value):
        return []
    return [pf.heading("Additional remarks (overflow text)"), *pf.text_flowables(value, pf.theme().block)]


def _other(claim: Claim) -> list[Flowable]:
    rows = _rows_of(claim.extras)
    if not rows:
        return []
    return [pf.heading("Other information submitted"), *pf.field_list(rows)]
