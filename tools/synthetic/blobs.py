"""The JSON blobs vets-api stores per submission: ``form_json`` and ``auth_headers_json``.

Also the veteran behind them (identity values, account, credentials). All values are fake:
SSNs are in the never-issued 000-xx-xxxx range, names come from built-in lists.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from tools.synthetic.model import Credential, Veteran, iso_z, rand_uuid
from tools.synthetic.vocab import (
    AWKWARD_FIRST_NAMES,
    AWKWARD_LAST_NAMES,
    BANKS,
    BRANCHES,
    CENTERS,
    CITIES,
    DISABILITIES,
    FIRST_NAMES,
    FLASHES,
    INTERNATIONAL,
    LAST_NAMES,
    MILITARY,
    SECONDARY,
    STREETS,
    UPLOADS,
    WORDS,
)

DANGLING_ACCOUNT_SHARE = 0.01  # accounts with no user_accounts row
ACCOUNT_LINK_DAYS = (550, 1000)  # credentials got their user_account this many days before as_of


class BlobMaker:
    """Builds veterans and their blobs from one random stream (deterministic by seed)."""

    def __init__(self, rng: random.Random, as_of: datetime) -> None:
        self.rng = rng
        self.as_of = as_of
        self.vet_seq = 0
        self.ssn_salt = rng.randrange(1_000_000)

    def uuid4(self) -> uuid.UUID:
        return rand_uuid(self.rng)

    def digits(self, k: int) -> str:
        return f"{self.rng.randrange(10 ** k):0{k}d}"

    def words(self, k: int) -> str:
        return " ".join(self.rng.choice(WORDS) for _ in range(k))

    def long_text(self, chars: int) -> str:
        parts: list[str] = []
        size = 0
        while size < chars:
            sentence = self.words(12).capitalize() + ". "
            parts.append(sentence)
            size += len(sentence)
        return "".join(parts).strip()

    # -- veteran and blobs --------------------------------------------------------------------
    def veteran(self, created_at: datetime, awkward: str | None = None, credentials: int = 1) -> Veteran:
        """A new veteran whose first submission is created at ``created_at``."""
        rng = self.rng
        self.vet_seq += 1
        ssn = "000" + f"{(self.vet_seq * 7919 + self.ssn_salt) % 1_000_000:06d}"
        if awkward == "awkward_unicode_names":
            first, last = rng.choice(AWKWARD_FIRST_NAMES), rng.choice(AWKWARD_LAST_NAMES)
        else:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        r = rng.random()
        birls = ssn if r < 0.7 else (rng.choice("23") + self.digits(7) if r < 0.9 else "")
        kind = {"awkward_international_address": "INTERNATIONAL",
                "awkward_military_address": "MILITARY"}.get(awkward or "")
        if kind is None:
            r = rng.random()
            kind = "MILITARY" if r < 0.02 else "INTERNATIONAL" if r < 0.04 else "DOMESTIC"
        address = self.address(kind, plus4=awkward == "awkward_zip_plus4",
                               unicode_line=awkward == "awkward_unicode_names")
        birth = date(rng.randint(1935, 2004), rng.randint(1, 12), rng.randint(1, 28))
        email_user = f"{first[:1]}{last}".lower().replace("'", "").replace(" ", "")
        if awkward == "awkward_blank_identifiers":
            ssn, birls = "", ""
        creds = [Credential(self.uuid4().hex, self.link_time(created_at)) for _ in range(credentials)]
        return Veteran(
            user_account_id=self.uuid4(), icn=f"{rng.randrange(10 ** 10):010d}V{rng.randrange(10 ** 6):06d}",
            account_row=rng.random() >= DANGLING_ACCOUNT_SHARE, credentials=creds, first=first, last=last,
            ssn=ssn, birls=birls, pid=str(rng.randint(600_000_000, 609_999_999)),
            edipi=str(rng.randint(1_000_000_000, 1_999_999_999)), birthdate=birth,
            gender=rng.choice(("MALE", "FEMALE")),
            email=f"{email_user}{rng.randint(1, 999)}@example.com",
            phone=(str(rng.randint(201, 989)), self.digits(7)), address=address,
            csid=rng.choice(("idme", "idme", "logingov", "dslogon")),
        )

    def link_time(self, created_at: datetime) -> datetime:
        """When a credential got its user_account: before or after its first submission."""
        days = self.rng.uniform(*ACCOUNT_LINK_DAYS)
        return min(self.as_of - timedelta(days=days), created_at + timedelta(days=self.rng.uniform(1, 400)))

    def address(self, kind: str, plus4: bool = False, unicode_line: bool = False) -> dict[str, Any]:
        rng = self.rng
        line1 = f"{rng.randint(1, 9999)} {rng.choice(STREETS)}"
        if unicode_line:
            line1 = f"{rng.randint(1, 99)} Calle Núñez, Apt. 5º"
        if kind == "MILITARY":
            post, state, zip_prefix = rng.choice(MILITARY)
            return {"country": "USA", "type": "MILITARY",
                    "addressLine1": f"PSC {rng.randint(1000, 9999)} Box {rng.randint(1, 9999)}",
                    "militaryPostOfficeTypeCode": post, "militaryStateCode": state,
                    "zipFirstFive": zip_prefix + self.digits(5 - len(zip_prefix))}
        if kind == "INTERNATIONAL":
            country, city, postal = rng.choice(INTERNATIONAL)
            return {"country": country, "type": "INTERNATIONAL", "addressLine1": line1,
                    "addressLine2": "Building 3" if rng.random() < 0.3 else "",
                    "city": city, "internationalPostalCode": postal}
        city, state, zip_prefix = rng.choice(CITIES)
        addr: dict[str, Any] = {"country": "USA", "type": "DOMESTIC", "addressLine1": line1,
                                "city": city, "state": state,
                                "zipFirstFive": zip_prefix + self.digits(2)}
        if rng.random() < 0.15:
            addr["addressLine2"] = f"Apt {rng.randint(1, 400)}"
        if plus4 or rng.random() < 0.1:
            addr["zipLastFour"] = self.digits(4)
        return addr

    def auth_headers(self, vet: Veteran, created_at: datetime, awkward: str | None) -> str:
        if awkward == "awkward_empty_auth_bogus":
            return json.dumps({"bogus": None})
        if awkward == "awkward_empty_auth":
            return "{}"
        birth = f"{vet.birthdate.isoformat()}T00:00:00+00:00"
        authorization = {"authorizationResponse": {
            "status": "VETERAN", "idType": "SSN", "id": vet.ssn, "edi": vet.edipi,
            "firstName": vet.first, "lastName": vet.last, "birthDate": birth,
            "gender": vet.gender}}
        headers = {
            "va_eauth_csid": vet.csid, "va_eauth_authenticationmethod": vet.csid,
            "va_eauth_pnidtype": "SSN", "va_eauth_assurancelevel": "3",
            "va_eauth_firstName": vet.first, "va_eauth_lastName": vet.last,
            "va_eauth_issueinstant": created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "va_eauth_dodedipnid": vet.edipi, "va_eauth_birlsfilenumber": vet.birls,
            "va_eauth_pid": vet.pid, "va_eauth_pnid": vet.ssn, "va_eauth_birthdate": birth,
            "va_eauth_authorization": json.dumps(authorization, ensure_ascii=False),
            "va_eauth_service_transaction_id": f"vagov-{self.uuid4()}",
            "va_eauth_gender": vet.gender,
        }
        return json.dumps(headers, ensure_ascii=False)

    def _vet_block(self, vet: Veteran) -> dict[str, Any]:
        """Identity fields the ancillary forms carry."""
        return {"veteranFullName": {"first": vet.first, "middle": "", "last": vet.last},
                "veteranSocialSecurityNumber": vet.ssn, "vaFileNumber": vet.birls,
                "veteranDateOfBirth": vet.birthdate.isoformat(), "email": vet.email,
                "veteranPhone": "".join(vet.phone)}

    def uploads(self, force: bool = False) -> tuple[list[dict[str, Any]], list[str]]:
        """``form526_uploads`` items and each file's true content kind (pdf, jpg, png, tiff, txt)."""
        rng = self.rng
        if not force and rng.random() >= 0.35:
            return [], []
        picked = rng.sample(UPLOADS, rng.randint(2, 3) if force else rng.randint(1, 3))
        items = [{"confirmationCode": str(self.uuid4()), "name": name, "attachmentId": code,
                  "size": rng.randint(20_000, 9_000_000)} for name, code, _ in picked]
        return items, [kind for _, _, kind in picked]

    def form(self, vet: Veteran, created_at: datetime,
             awkward: str | None) -> tuple[dict[str, Any], list[str]]:
        """The ``form_json`` document (EVSS-format claim plus ancillary forms) and upload kinds."""
        rng = self.rng
        disabilities = []
        for name, code, diag in rng.sample(DISABILITIES, rng.choice((1, 1, 2, 2, 3, 4))):
            action = rng.choice(("NEW", "NEW", "INCREASE", "SECONDARY"))
            d: dict[str, Any] = {"name": name, "classificationCode": code,
                                 "disabilityActionType": action}
            if action == "INCREASE":
                d["ratedDisabilityId"] = str(rng.randint(100000, 9999999))
                d["diagnosticCode"] = diag
                d["disabilityActionType"] = "INCREASE"
            else:
                d["serviceRelevance"] = ("Caused by an in-service event, injury, or exposure\n"
                                         + self.words(rng.randint(4, 14)))
            if action == "SECONDARY" or rng.random() < 0.1:
                d["disabilityActionType"] = "NEW" if action == "SECONDARY" else action
                d["secondaryDisabilities"] = [{
                    "name": rng.choice(SECONDARY), "disabilityActionType": "SECONDARY",
                    "serviceRelevance": f"Caused by a service-connected disability\n{name}"}]
            disabilities.append(d)
        if awkward == "awkward_long_text":
            disabilities[0]["name"] = "knee " + self.long_text(3000)
            disabilities[0]["serviceRelevance"] = self.long_text(5000)
        if awkward == "awkward_markup_text":
            disabilities[0]["name"] = "<b>Knee</b> & back"
            disabilities[0]["serviceRelevance"] = (
                "Caused by an in-service event, injury, or exposure\n"
                "<script>alert('x')</script> fell 10' off a \"deuce & a half\" <i>truck</i> &amp; more")
        treatments = [{
            "treatedDisabilityNames": [d["name"] for d in disabilities[: rng.randint(1, 2)]],
            "center": {"name": rng.choice(CENTERS), "country": "USA"},
            "startDate": {"year": str(rng.randint(2000, 2022)), "month": f"{rng.randint(1, 12):02d}"},
        } for _ in range(rng.choice((0, 1, 1, 2)))]
        periods = []
        end_year = rng.randint(1975, 2023)
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            start_year = end_year - rng.randint(2, 8)
            periods.append({"serviceBranch": rng.choice(BRANCHES),
                            "activeDutyBeginDate": f"{start_year}-{rng.randint(1, 12):02d}-01",
                            "activeDutyEndDate": f"{end_year}-{rng.randint(1, 12):02d}-28"})
            end_year = start_year - rng.randint(0, 3)
        service: dict[str, Any] = {"servicePeriods": periods}
        if rng.random() < 0.2:
            service["reservesNationalGuardService"] = {
                "unitName": f"{rng.randint(1, 399)}th Support Battalion",
                "obligationTermOfServiceFromDate": "2008-01-01",
                "obligationTermOfServiceToDate": "2014-01-01",
                "unitPhone": {"areaCode": vet.phone[0], "phoneNumber": self.digits(7)},
                "receivingInactiveDutyTrainingPay": rng.random() < 0.2}
        homeless: dict[str, Any] = {}
        if rng.random() < 0.03:
            homeless = {"pointOfContact": {"pointOfContactName": "Case Manager",
                                           "primaryPhone": {"areaCode": vet.phone[0],
                                                            "phoneNumber": self.digits(7)}},
                        "currentlyHomeless": {"homelessSituationType": "LIVING_IN_A_HOMELESS_SHELTER",
                                              "otherLivingSituation": ""}}
        veteran: dict[str, Any] = {
            "emailAddress": vet.email, "currentMailingAddress": vet.address,
            "daytimePhone": {"areaCode": vet.phone[0], "phoneNumber": vet.phone[1]},
            "homelessness": homeless, "currentlyVAEmployee": rng.random() < 0.03}
        if rng.random() < 0.08:
            city, state, zip_prefix = rng.choice(CITIES)
            veteran["changeOfAddress"] = {
                "country": "USA", "type": "DOMESTIC",
                "addressLine1": f"{rng.randint(1, 9999)} {rng.choice(STREETS)}",
                "city": city, "state": state, "zipFirstFive": zip_prefix + self.digits(2),
                "addressChangeType": "TEMPORARY",
                "beginningDate": (created_at + timedelta(days=30)).date().isoformat(),
                "endingDate": (created_at + timedelta(days=200)).date().isoformat()}
        bdd = rng.random() < 0.03
        inner: dict[str, Any] = {
            "veteran": veteran, "claimantCertification": True, "standardClaim": rng.random() < 0.1,
            "autoCestPDFGenerationDisabled": False,
            "applicationExpirationDate": iso_z(created_at + timedelta(days=365)),
            "bddQualified": bdd, "claimSubmissionSource": "VA.gov",
            "claimDate": created_at.date().isoformat(),
            "directDeposit": {"accountType": rng.choice(("CHECKING", "SAVINGS")),
                              "accountNumber": self.digits(rng.randint(8, 12)),
                              "routingNumber": "0" + self.digits(8),
                              "bankName": rng.choice(BANKS)},
            "serviceInformation": service, "treatments": treatments,
            "disabilities": disabilities,
        }
        if rng.random() < 0.25:
            inner["servicePay"] = {
                "waiveVABenefitsToRetainTrainingPay": False,
                "waiveVABenefitsToRetainRetiredPay": False,
                "militaryRetiredPay": {"receiving": rng.random() < 0.5,
                                       "payment": {"serviceBranch": periods[0]["serviceBranch"]}}}
        if rng.random() < 0.05 or awkward == "awkward_long_text":
            inner["overflowText"] = self.long_text(6000 if awkward else rng.randint(80, 900))
        if awkward == "awkward_missing_claim_date" or rng.random() < 0.04:
            inner.pop("claimDate")
        uploads, kinds = self.uploads(awkward == "awkward_evidence_rows")
        all_ancillary = awkward == "awkward_ancillary_forms"
        form4142 = form0781 = form8940 = None
        if all_ancillary or rng.random() < 0.08:
            city, state, zip_prefix = rng.choice(CITIES)
            form4142 = {**self._vet_block(vet), "veteranAddress": vet.address,
                        "limitedConsent": "", "privacyAgreementAccepted": True,
                        "providerFacility": [{
                            "providerFacilityName": rng.choice(CENTERS),
                            "treatmentDateRange": [{"from": "2015-01-01", "to": "2016-06-30"}],
                            "providerFacilityAddress": {"street": f"{rng.randint(1, 999)} Clinic Way",
                                                        "city": city, "state": state,
                                                        "postalCode": zip_prefix + "01",
                                                        "country": "USA"}}]}
        if all_ancillary or rng.random() < 0.04:
            incident = {"incidentDate": f"{rng.randint(1990, 2020)}-0{rng.randint(1, 9)}-15",
                        "incidentDescription": self.words(20),
                        "incidentLocation": {"city": "Kandahar", "state": "", "country": "Afghanistan"},
                        "unitAssigned": "2nd Battalion", "medalsCitations": "",
                        "personsInvolved": []}
            form0781 = {"form0781": {**self._vet_block(vet), "incidents": [incident],
                                     "remarks": "", "additionalIncidentText": ""},
                        "form0781a": ({**self._vet_block(vet), "incidents": [dict(incident)],
                                       "remarks": ""}
                                      if all_ancillary or rng.random() < 0.5 else None)}
        if all_ancillary or rng.random() < 0.02:
            form8940 = {**self._vet_block(vet), "veteranAddress": vet.address,
                        "unemployability": {"mostIncome": rng.randint(0, 60000),
                                            "yearsOfEducation": rng.randint(8, 18),
                                            "disabilityPreventingEmployment": disabilities[0]["name"][:80],
                                            "underDoctorHopitalCarePast12M": rng.random() < 0.5}}
        flashes = rng.sample(FLASHES, rng.randint(1, 2)) if rng.random() < 0.1 else []
        return {"form526": {"form526": inner}, "form526_uploads": uploads, "form4142": form4142,
                "form0781": form0781, "form8940": form8940, "flashes": flashes}, kinds

    @staticmethod
    def dupe_copy(base: dict[str, Any], created_at: datetime) -> dict[str, Any]:
        """A resubmission of ``base``: identical content, fresh volatile keys."""
        inner = dict(base["form526"]["form526"])
        inner["applicationExpirationDate"] = iso_z(created_at + timedelta(days=365))
        if "claimDate" in inner:
            inner["claimDate"] = created_at.date().isoformat()
        return {**base, "form526": {"form526": inner}}

