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


GALLERY: dict[str, Any] = {
    "typical": typical_form,
    "awkward-names": awkward_names,
    "military-address": military_address,
    "international-address": international_address,
    "missing-claim-date": missing_claim_date,
    "long-text": long_text,
    "many-disabilities": many_disabilities,
    "ancillary-forms": ancillary_forms,
}


def gallery_submissions() -> dict[str, SourceSubmission]:
    """Named sample submissions, each with its own id."""
    out: dict[str, SourceSubmission] = {}
    for offset, (name, make) in enumerate(GALLERY.items()):
        made = make()
        form, auth = (made, typical_auth()) if isinstance(made, dict) else made
        out[name] = submission(copy.deepcopy(form), auth, sub_id=1001 + offset)
    return out
