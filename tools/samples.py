"""Obviously fake sample submissions (SSNs in the never-issued 000 range) for tests and the gallery.

Shapes follow the vets-api form_json / auth_headers_json blobs (domain notes, section 4).
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from typing import Any

from include.form526.package.build import SourceSubmission

CREATED_AT = datetime(2023, 3, 14, 15, 9, 26)


def typical_auth() -> dict[str, Any]:
    """Auth headers of a fake veteran."""
    return {
        "va_eauth_csid": "DSLogon",
        "va_eauth_authenticationmethod": "DSLogon",
        "va_eauth_pnidtype": "SSN",
        "va_eauth_assurancelevel": "3",
        "va_eauth_firstName": "Sample",
        "va_eauth_lastName": "Veteran",
        "va_eauth_issueinstant": "2023-03-14T15:09:20Z",
        "va_eauth_dodedipnid": "0000000001",
        "va_eauth_birlsfilenumber": "000112222",
        "va_eauth_pid": "600000001",
        "va_eauth_pnid": "000123456",
        "va_eauth_birthdate": "1980-01-31T00:00:00+00:00",
        "va_eauth_authorization": json.dumps({"authorizationResponse": {"status": "VETERAN"}}),
        "va_eauth_service_transaction_id": "vagov-00000000-0000-4000-8000-000000000001",
    }


def typical_form() -> dict[str, Any]:
    """form_json of a typical claim: new and increased conditions, a secondary, treatment, direct deposit."""
    form526 = {
        "veteran": {
            "emailAddress": "sample.veteran@example.com",
            "currentMailingAddress": {
                "country": "USA", "type": "DOMESTIC", "addressLine1": "123 Example Street", "addressLine2": "Apt 4",
                "city": "Springfield", "state": "VA", "zipFirstFive": "22150", "zipLastFour": "1234",
            },
            "daytimePhone": {"areaCode": "555", "phoneNumber": "5550100"},
            "homelessness": {"pointOfContact": None, "currentlyHomeless": None, "homelessnessRisk": None},
            "currentlyVAEmployee": False,
        },
        "claimantCertification": True,
        "standardClaim": False,
        "autoCestPDFGenerationDisabled": False,
        "applicationExpirationDate": "2024-03-14T15:09:20.000Z",
        "bddQualified": False,
        "claimSubmissionSource": "VA.gov",
        "claimDate": "2023-03-14",
        "directDeposit": {
            "accountType": "CHECKING", "accountNumber": "000123456789", "routingNumber": "021000021",
            "bankName": "EXAMPLE FEDERAL CREDIT UNION",
        },
        "servicePay": {
            "waiveVABenefitsToRetainTrainingPay": False,
            "waiveVABenefitsToRetainRetiredPay": False,
            "militaryRetiredPay": {"receiving": False},
        },
        "serviceInformation": {
            "servicePeriods": [
                {"serviceBranch": "Army", "activeDutyBeginDate": "2001-06-01", "activeDutyEndDate": "2009-05-31"},
                {"serviceBranch": "Army Reserves", "activeDutyBeginDate": "2010-01-01",
                 "activeDutyEndDate": "2012-12-31"},
            ],
            "reservesNationalGuardService": {
                "unitName": "Example Reserve Unit", "obligationTermOfServiceFromDate": "2010-01-01",
                "obligationTermOfServiceToDate": "2012-12-31", "receivingInactiveDutyTrainingPay": False,
                "unitPhone": {"areaCode": "555", "phoneNumber": "5550199"},
            },
        },
        "treatments": [
            {"startDate": {"year": "2009", "month": "7"}, "treatedDisabilityNames": ["Left knee strain", "Tinnitus"],
             "center": {"name": "Example VA Medical Center", "country": "USA"}},
        ],
        "disabilities": [
            {"name": "Left knee strain", "classificationCode": "8997", "disabilityActionType": "NEW",
             "serviceRelevance": "Injured during a training exercise in 2005.",
             "secondaryDisabilities": [
                 {"name": "Right hip pain", "classificationCode": "8996", "disabilityActionType": "SECONDARY",
                  "serviceRelevance": "Caused by favoring the left knee."},
             ]},
            {"name": "Tinnitus", "classificationCode": "3140", "disabilityActionType": "INCREASE",
             "ratedDisabilityId": "1100583", "diagnosticCode": 6260,
             "serviceRelevance": "Worsened since the last rating."},
        ],
    }
    return {
        "form526": {"form526": form526},
        "form526_uploads": [
            {"name": "private_medical_record.pdf", "confirmationCode": "00000000-0000-4000-8000-00000000abcd",
             "attachmentId": "L451"},
        ],
        "form4142": None,
        "form0781": None,
        "form8940": None,
        "flashes": ["Priority Processing - Veteran over age 85"],
    }


def submission(form: Any, auth: Any, sub_id: int = 1001, created_at: datetime = CREATED_AT) -> SourceSubmission:
    """A SourceSubmission with the blobs serialised as the database holds them."""
    return SourceSubmission(
        id=sub_id,
        created_at=created_at,
        form_json=form if isinstance(form, str) or form is None else json.dumps(form),
        auth_headers_json=auth if isinstance(auth, str) or auth is None else json.dumps(auth),
    )


def form526_of(form: dict[str, Any]) -> dict[str, Any]:
    return form["form526"]["form526"]


def awkward_names() -> tuple[dict[str, Any], dict[str, Any]]:
    """Accents, apostrophes, hyphens and markup in names and text."""
    form, auth = typical_form(), typical_auth()
    auth.update(va_eauth_firstName="Zoë-Łucja Ő'Néill", va_eauth_lastName="Müller-Þórsdóttir d’Ærø")
    f = form526_of(form)
    f["disabilities"][0]["name"] = "<b>Knee</b> & back — “quoted” pain"
    f["disabilities"][0]["serviceRelevance"] = "Lifting <crates> & \"boxes\" at Ft. O'Hare; pain ≥ 7/10 — daily."
    f["veteran"]["currentMailingAddress"]["addressLine1"] = "12 Rue de l’Église <Bldg 3>"
    f["overflowText"] = "Remarks with ampersands & <script>alert(1)</script> and &amp; literally."
    return form, auth


def military_address() -> tuple[dict[str, Any], dict[str, Any]]:
    form, auth = typical_form(), typical_auth()
    form526_of(form)["veteran"]["currentMailingAddress"] = {
        "country": "USA", "type": "MILITARY", "addressLine1": "Unit 2050 Box 4190",
        "militaryPostOfficeTypeCode": "APO", "militaryStateCode": "AP", "zipFirstFive": "96278",
    }
    form526_of(form)["serviceInformation"]["separationLocation"] = {
        "separationLocationCode": "98283", "separationLocationName": "Example Separation Point",
    }
    return form, auth


def international_address() -> tuple[dict[str, Any], dict[str, Any]]:
    form, auth = typical_form(), typical_auth()
    f = form526_of(form)
    f["veteran"]["currentMailingAddress"] = {
        "country": "Germany", "type": "INTERNATIONAL", "addressLine1": "Beispielstraße 12",
        "city": "Kaiserslautern", "internationalPostalCode": "67655",
    }
    f["veteran"]["changeOfAddress"] = {
        "country": "USA", "type": "DOMESTIC", "addressLine1": "9 Return Road", "city": "Norfolk", "state": "VA",
        "zipFirstFive": "23501", "addressChangeType": "TEMPORARY", "beginningDate": "2023-06-01",
        "endingDate": "2023-12-31",
    }
    return form, auth


def missing_claim_date() -> tuple[dict[str, Any], dict[str, Any]]:
    form, auth = typical_form(), typical_auth()
    del form526_of(form)["claimDate"]
    return form, auth


def long_text(chars: int = 20_000) -> tuple[dict[str, Any], dict[str, Any]]:
    form, auth = typical_form(), typical_auth()
    sentence = "The veteran describes constant pain after a fall from a vehicle during deployment. "
    form526_of(form)["disabilities"][0]["serviceRelevance"] = (sentence * (chars // len(sentence) + 1))[:chars]
    return form, auth


def many_disabilities(count: int = 200) -> tuple[dict[str, Any], dict[str, Any]]:
    form, auth = typical_form(), typical_auth()
    form526_of(form)["disabilities"] = [
        {"name": f"Condition number {n}", "classificationCode": str(8000 + n), "disabilityActionType": "NEW",
         "serviceRelevance": f"Began during service, episode {n}.",
         "secondaryDisabilities": [{"name": f"Secondary of {n}", "disabilityActionType": "SECONDARY"}] if n % 10 == 0
         else []}
        for n in range(1, count + 1)
    ]
    return form, auth


def ancillary_forms() -> tuple[dict[str, Any], dict[str, Any]]:
    form, auth = typical_form(), typical_auth()
    identity = {
        "veteranFullName": {"first": "Sample", "middle": None, "last": "Veteran"},
        "veteranSocialSecurityNumber": "000123456", "vaFileNumber": "000112222", "veteranDateOfBirth": "1980-01-31",
    }
    form["form4142"] = {
        **identity,
        "veteranAddress": {"street": "123 Example Street", "city": "Springfield", "state": "VA",
                           "postalCode": "22150", "country": "USA"},
        "email": "sample.veteran@example.com",
        "limitedConsent": "Only records about the left knee.",
        "providerFacility": [
            {"providerFacilityName": "Example Orthopedic Clinic",
             "providerFacilityAddress": {"street": "1 Clinic Way", "city": "Springfield", "state": "VA",
                                         "postalCode": "22150", "country": "USA"},
             "treatmentDateRange": [{"from": "2010-01-01", "to": "2011-06-30"}],
             "conditionsTreated": "Left knee strain"},
        ],
    }
    form["form0781"] = {
        "form0781": {**identity, "incidents": [
            {"incidentDate": "2004-05-01", "incidentDescription": "Convoy came under fire.",
             "incidentLocation": {"city": "Example", "country": "Iraq"}, "medalsCitations": "Bronze Star"}]},
        "form0781a": None,
    }
    form["form8940"] = {**identity, "unemployability": {"disabilityPreventingEmployment": "Left knee strain",
                                                      "underDoctorsCare": True, "hospitalized": False}}
    return form, auth


def toxic_exposure() -> tuple[dict[str, Any], dict[str, Any]]:
    """A PACT Act claim: checked places with dates, one unchecked, an unknown key, free text, conditions."""
    form, auth = typical_form(), typical_auth()
    form526_of(form)["toxicExposure"] = {
        "conditions": {"leftkneestrain": False, "tinnitus": True, "none": False},
        "gulfWar1990": {"iraq": True, "kuwait": True, "qatar": False, "atlantis": True},
        "gulfWar1990Details": {
            "iraq": {"startDate": "1991-03-01", "endDate": "1992-01-01"},
            "kuwait": {"startDate": "1991-03-15"},
            "qatar": {"startDate": "1991-02-12", "endDate": "1991-06-01"},
        },
        "gulfWar2001": {"djibouti": True},
        "gulfWar2001Details": {"djibouti": {}},
        "herbicide": {"vietnam": True, "none": False},
        "herbicideDetails": {"vietnam": {"startDate": "1969-01-01", "endDate": "1970-06-30"}},
        "otherHerbicideLocations": {"description": "A depot near Example Bay", "startDate": "1971-01-01",
                                    "endDate": "1971-03-01"},
        "otherExposures": {"asbestos": True, "mustardgas": False, "radiation": True},
        "otherExposuresDetails": {"asbestos": {"startDate": "1975-05-01", "endDate": "1979-05-01"}},
        "specifyOtherExposures": {"description": "Burn pit smoke", "startDate": "2004-01-01"},
    }
    return form, auth


def form0781v2() -> tuple[dict[str, Any], dict[str, Any]]:
    """A mental-health statement on the 2024 21-0781 (vets-api Form0781#create_form_v2)."""
    form, auth = typical_form(), typical_auth()
    form["form0781"] = {"form0781v2": {
        "vaFileNumber": "000123456", "veteranSocialSecurityNumber": "000123456",
        "veteranFullName": {"first": "Sample", "middle": None, "last": "Veteran"},
        "veteranDateOfBirth": "1980-01-31", "email": "sample.veteran@example.com",
        "veteranPhone": "5555550100", "veteranSecondaryPhone": "", "veteranServiceNumber": "",
        "eventTypes": {"combat": True, "mst": False, "nonMst": False, "other": False},
        "events": [{"details": "Convoy hit by an IED near the airfield.", "location": "Example Province",
                    "timing": "Spring 2004"}],
        "behaviors": {"episodes": True, "relationships": True},
        "behaviorsDetails": {"episodes": "Panic attacks since 2005.", "relationships": "Divorce in 2007."},
        "evidence": {"police": True, "otherDetails": "Unit history"},
        "treatmentNoneCheckbox": {"none": False},
        "treatmentProviders": {"medicalCenter": True},
        "treatmentProvidersDetails": [{"facilityInfo": "Example VA Medical Center", "treatmentMonth": "06",
                                       "treatmentYear": "2006", "noDates": False}],
        "optionIndicator": "yes",
        "additionalInformation": "Nightmares most nights.",
        "futureField": {"someNewKey": "kept and labelled"},
    }}
    return form, auth


def bdd_claim() -> tuple[dict[str, Any], dict[str, Any]]:
    """A Benefits Delivery at Discharge claim: vets-api would add VA's BDD instruction sheet."""
    form, auth = typical_form(), typical_auth()
    form526_of(form)["bddQualified"] = True
    return form, auth


def with_uploads() -> tuple[dict[str, Any], dict[str, Any]]:
    """Three uploads (a scan, a PDF, one that will be missing) and one unusable entry."""
    form, auth = typical_form(), typical_auth()
    form["form526_uploads"] = [
        {"name": "knee_xray_photo.png", "confirmationCode": "00000000-0000-4000-8000-0000000000a1",
         "attachmentId": "L023", "size": 2048},
        {"name": "private_medical_record.pdf", "confirmationCode": "00000000-0000-4000-8000-0000000000a2",
         "attachmentId": "L451", "size": 4096},
        {"name": "buddy_statement.pdf", "confirmationCode": "00000000-0000-4000-8000-0000000000a3",
         "attachmentId": "L034", "size": 1024},
        {"name": "no_code.pdf", "attachmentId": "L451"},
    ]
    return form, auth


# --- hostile input: every one must still give structurally valid PDFs -----------------------------

HOSTILE_TEXT = (
    "Emoji 😀😂🙀 🦄 𝐀𝔅 | RTL שלום עולם مرحبا بالعالم \u202eevil\u202c | combining e\u0301\u0301\u0301 Z\u0335\u0321 "
    "| NUL\x00 BEL\x07 ESC\x1b DEL\x7f | <script>alert('x')</script> &amp; </para> &#0; | \ud800 lone"
)
"""One line of everything a PDF writer can trip over (emoji, astral letters, RTL, bidi overrides,
combining marks, control characters, markup, a lone surrogate)."""
HOSTILE_END = "END-OF-HOSTILE-TEXT"


def nested(depth: int, leaf: Any = "bottom") -> Any:
    """`leaf` inside `depth` levels of alternating objects and lists."""
    value = leaf
    for level in range(depth):
        value = {"level": value} if level % 2 else [value]
    return value


def hostile_characters() -> tuple[dict[str, Any], dict[str, Any]]:
    """HOSTILE_TEXT in names, the address, free text, a disability and an ancillary form."""
    form, auth = ancillary_forms()
    auth.update(va_eauth_firstName=f"Sam 😀 {HOSTILE_TEXT[:40]}", va_eauth_lastName="O'Néill <b>שלום</b>")
    f = form526_of(form)
    f["veteran"]["currentMailingAddress"]["addressLine1"] = HOSTILE_TEXT
    f["disabilities"][0]["name"] = f"Knee 😀 {HOSTILE_TEXT}"
    f["disabilities"][0]["serviceRelevance"] = HOSTILE_TEXT * 30
    f["overflowText"] = f"{HOSTILE_TEXT}\n\n{HOSTILE_TEXT} {HOSTILE_END}"
    form["form4142"]["limitedConsent"] = HOSTILE_TEXT
    form["form4142"][HOSTILE_TEXT] = "a key full of hostile characters"
    return form, auth


def hostile_sizes(chars: int = 1_000_000) -> tuple[dict[str, Any], dict[str, Any]]:
    """A `chars`-long remark, a very long word, a long table cell and a long key, deep ancillary nesting."""
    form, auth = ancillary_forms()
    f = form526_of(form)
    words = (f"Pain after the fall {HOSTILE_TEXT} " * (chars // 120 + 1))[:chars]
    f["overflowText"] = f"{words} {HOSTILE_END}"
    f["disabilities"][0]["serviceRelevance"] = "W" * 50_000 + " END-OF-WORD"
    f["treatments"][0]["center"]["name"] = "Clinic 😀 " * 10_000 + "END-OF-CELL"
    form["form8940"]["k" * 5_000] = "value of a very long key"
    form["form8940"]["nested"] = nested(60)
    form["form0781"]["form0781"]["incidents"][0]["incidentDescription"] = "line\n" * 3_000 + "END-OF-LINES"
    return form, auth


HOSTILE: dict[str, Any] = {
    "hostile-characters": hostile_characters,
    "hostile-sizes": hostile_sizes,
}
"""Hostile samples (not in the gallery): input a renderer must survive with valid PDFs."""


GALLERY: dict[str, Any] = {
    "typical": typical_form,
    "awkward-names": awkward_names,
    "military-address": military_address,
    "international-address": international_address,
    "missing-claim-date": missing_claim_date,
    "long-text": long_text,
    "many-disabilities": many_disabilities,
    "ancillary-forms": ancillary_forms,
    "toxic-exposure": toxic_exposure,
    "form0781v2": form0781v2,
    "bdd-claim": bdd_claim,
}


def gallery_submissions() -> dict[str, SourceSubmission]:
    """Named sample submissions, each with its own id."""
    out: dict[str, SourceSubmission] = {}
    for offset, (name, make) in enumerate(GALLERY.items()):
        made = make()
        form, auth = (made, typical_auth()) if isinstance(made, dict) else made
        out[name] = submission(copy.deepcopy(form), auth, sub_id=1001 + offset)
    return out
