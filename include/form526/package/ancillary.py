"""Generic renderers for the ancillary forms (21-4142, 21-0781, 21-0781a, 21-0781V2, 21-8940).

Their templates are not public and VBA keys them by hand, so each is rendered as a labelled list
of every field the submission holds; nested objects and lists are flattened into readable labels
("Provider facility 1 › Treatment date range 1 › From"). The 21-0781V2's sections and checkboxes
carry VA.gov's own wording where it is known; any other key gets a humanised label.

Each form ends with an electronic-signature stamp: the veteran signed on VA.gov, at the
submission's time (UTC), from an identity-verified account.
"""

from __future__ import annotations

from collections.abc import Mapping

from reportlab.platypus import Flowable

from include.form526.package import theme as pf
from include.form526.package.fields import flatten, humanize
from include.form526.package.submission import AncillaryForm, Submission

TITLES = {
    "21-4142": "VA Form 21-4142 — Authorization to Disclose Information to the Department of Veterans Affairs",
    "21-0781": "VA Form 21-0781 — Statement in Support of Claim for Service Connection for PTSD",
    "21-0781a": "VA Form 21-0781a — Statement in Support of Claim for Service Connection for PTSD Secondary to "
                "Personal Assault",
    "21-0781V2": "VA Form 21-0781V2 — Statement in Support of Claimed Mental Health Disorder(s) Due to an "
                 "In-Service Traumatic Event(s)",
    "21-8940": "VA Form 21-8940 — Veteran's Application for Increased Compensation Based on Unemployability",
}
REGENERATED_NOTICE = "Regenerated copy for manual processing by VBA — original submission failed electronically"

# 21-0781V2 (vets-api Form0781#create_form_v2): section titles, then the labels of each section's keys.
_V2_SECTIONS = {
    "eventTypes": "Types of traumatic events",
    "events": "Traumatic event",
    "behaviors": "Behavioral changes after the traumatic events",
    "behaviorsDetails": "Behavioral change details",
    "evidence": "Supporting evidence",
    "treatmentNoneCheckbox": "No treatment providers to include",
    "treatmentProviders": "Treatment providers",
    "treatmentProvidersDetails": "Treatment provider",
    "optionIndicator": "Option to add an indicator of claim events to the VA medical record",
    "additionalInformation": "Additional information",
    "veteranPhone": "Veteran's phone",
    "veteranSecondaryPhone": "Veteran's secondary phone",
    "veteranServiceNumber": "Veteran's service number",
}
_V2_BEHAVIORS = {
    "reassignment": "Request for a change in occupational series or duty assignment",
    "absences": "Increased or decreased use of leave",
    "performance": "Changes in performance or performance evaluations",
    "consultations": "Increased or decreased visits to a healthcare professional, counselor, or treatment facility",
    "episodes": "Episodes of depression, panic attacks, or anxiety",
    "medications": "Increased or decreased use of prescription medications",
    "selfMedication": "Increased or decreased use of over-the-counter medications",
    "substances": "Increased or decreased use of alcohol or drugs",
    "appetite": "Changes in eating habits, such as overeating or undereating, or significant changes in weight",
    "pregnancy": "Pregnancy tests around the time of the traumatic experiences",
    "screenings": "Tests for sexually transmitted infections",
    "socialEconomic": "Economic or social behavioral changes",
    "relationships": "Changes in or breakup of a significant relationship",
    "misconduct": "Disciplinary or legal difficulties",
    "unlisted": "Other behavioral changes not in this list",
}
_V2_LABELS: dict[str, dict[str, str]] = {
    "eventTypes": {
        "combat": "Traumatic events related to combat",
        "mst": "Traumatic events related to sexual assault or harassment (military sexual trauma, MST)",
        "nonMst": "Traumatic events related to other personal interactions",
        "other": "Other traumatic events",
    },
    "behaviors": _V2_BEHAVIORS,
    "behaviorsDetails": _V2_BEHAVIORS,
    "evidence": {
        "police": "Reports from civilian police officers",
        "physicians": "Records of visits to civilian physicians or caregivers after the incident",
        "counseling": "Records of visits to counseling facilities or health clinics",
        "crisis": "Records of visits to rape crisis centers or centers for domestic abuse",
        "family": "Statements from family members or roommates",
        "faculty": "Statements from faculty members",
        "service": "Statements from fellow service members",
        "clergy": "Statements from chaplains or clergy members",
        "personal": "Personal diaries or journals",
        "restricted": "Restricted incident report",
        "unrestricted": "Unrestricted incident report",
        "pre2005": "Incident report filed with the military before 2005",
        "none": "No supporting documents to include",
        "other": "Other supporting documents",
        "otherDetails": "Other supporting documents (details)",
    },
    "treatmentProviders": {
        "medicalCenter": "VA medical centers (VAMC)",
        "communityOutpatient": "Community-based outpatient clinics (CBOC)",
        "vaPaid": "VA paid community care providers",
        "dod": "Department of Defense military treatment facilities (MTF)",
        "nonVa": "Non-VA health care providers",
        "vaCenters": "VA Vet Centers",
    },
}


def signature_stamp(submission: Submission) -> str:
    """The electronic-signature statement printed on every ancillary form."""
    when = submission.created_at.strftime("%Y-%m-%d %H:%M UTC")
    name = submission.identity.full_name
    return (
        f"Signed electronically on VA.gov by {name} on {when}. The veteran signed this form while signed in "
        "to VA.gov with an identity-verified account, and submitted it with the 21-526EZ."
    )


def _grouped_fields(
    data: object, titles: Mapping[str, str] | None = None, section_labels: Mapping[str, Mapping[str, str]] | None = None
) -> list[Flowable]:
    """Top-level scalars as one list; each nested object (or list item) under its own small heading."""
    if not isinstance(data, Mapping):
        rows = flatten(data)
        return pf.field_list(rows) if rows else [pf.note("No fields were provided.")]
    story: list[Flowable] = []
    simple: list[tuple[str, str]] = []
    for key, value in data.items():
        name = humanize(key, titles)
        labels = (section_labels or {}).get(key) if isinstance(key, str) else None
        if isinstance(value, Mapping) and value:
            groups = [(name, value)]
        elif isinstance(value, list) and any(isinstance(v, (Mapping, list)) for v in value):
            groups = [(f"{name} {n}", item) for n, item in enumerate(value, start=1)]
        else:
            simple += flatten(value, name, labels=labels)
            continue
        for title, item in groups:
            story.append(pf.minor_heading(title))
            story += pf.field_list(flatten(item, labels=labels) or [(title, "")])
    if not simple and not story:
        return [pf.note("No fields were provided.")]
    return pf.field_list(simple) + story


def render_ancillary(form: AncillaryForm, submission: Submission) -> bytes:
    """One ancillary form as a labelled field list, ending with the electronic-signature stamp."""
    t = pf.theme()
    title = TITLES.get(form.form, f"VA Form {form.form}")
    story: list[Flowable] = [
        pf.safe_paragraph(title, t.title),
        pf.safe_paragraph(REGENERATED_NOTICE, t.notice),
    ]
    story += pf.field_list([
        ("Submission ID", str(submission.id)),
        ("Original submission date", submission.created_at.strftime("%Y-%m-%d %H:%M UTC")),
    ])
    story.append(pf.heading("Information submitted"))
    if form.form == "21-0781V2":
        story += _grouped_fields(form.data, _V2_SECTIONS, _V2_LABELS)
    else:
        story += _grouped_fields(form.data)
    story.append(pf.heading("Electronic signature"))
    story += pf.text_flowables(signature_stamp(submission), t.block)
    form_number = f"VA Form {form.form}"
    return pf.render_pdf(
        story,
        title=f"{form_number} — submission {submission.id}",
        subject="Regenerated copy for manual processing by VBA",
        footer=f"{form_number} · Submission {submission.id}",
    )
