"""A typed, read-only view of one failed submission, parsed once from its database row.

`parse_submission(row)` reads the two JSON text columns exactly once and returns a `Submission`:
the veteran's identity (from the auth headers, where vets-api keeps name, SSN, file number,
participant id and birth date), the `form526.form526` claim by section, the evidence uploads and
the ancillary forms. The renderers and the metadata read this view, never raw JSON paths.

The view is tolerant the way the PDFs must be: a section of the wrong type becomes "absent" or is
kept as raw JSON (`unparsed`, `extras`) for generic display, so that nothing submitted goes unseen
and nothing but the documented `PackageError` codes is raised. Scalars the PDFs print are kept as
the JSON value (`JsonValue`) when their type matters to the reader (`False` prints "No"), and as
stripped text when they are identifiers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from include.form526.package.errors import (
    AUTH_HEADERS_INVALID,
    FORM526_MISSING,
    FORM_JSON_INVALID,
    FORM_JSON_TOO_DEEP,
    FORM_JSON_TOO_LARGE,
    IDENTITY_MISSING,
    PackageError,
)
from include.form526.package.fields import JsonValue, date_text, extras, is_empty
from include.form526.package.json_limits import TOO_DEEP, TOO_LARGE, json_problem
from include.form526.package.text_safety import to_text

MAX_SECONDARY_DEPTH = 5
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

# Why an upload cannot be fetched at all (its item in form526_uploads is unusable).
UPLOADS_NOT_A_LIST = "uploads_not_a_list"
UPLOAD_NOT_AN_OBJECT = "upload_not_an_object"
UPLOAD_NO_CONFIRMATION_CODE = "upload_no_confirmation_code"

ADDRESS_KEYS = frozenset({
    "country", "type", "addressLine1", "addressLine2", "addressLine3", "city", "state",
    "zipFirstFive", "zipLastFour", "militaryPostOfficeTypeCode", "militaryStateCode", "internationalPostalCode",
})
_VETERAN_KEYS = frozenset({
    "emailAddress", "currentMailingAddress", "changeOfAddress", "daytimePhone", "homelessness", "currentlyVAEmployee",
})
_CLAIM_KEYS = frozenset({
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
_UPLOAD_KEYS = frozenset({"confirmationCode", "name", "attachmentId", "size"})

# Toxic exposure: free-text answers ({description, startDate, endDate} or a string), not checkbox groups.
TOXIC_FREE_TEXT_KEYS = frozenset({"otherHerbicideLocations", "herbicideOtherLocations", "specifyOtherExposures"})

# (form, key in form_json, key inside it or None), in package order.
ANCILLARY_SOURCES: tuple[tuple[str, str, str | None], ...] = (
    ("21-4142", "form4142", None),
    ("21-0781", "form0781", "form0781"),
    ("21-0781a", "form0781", "form0781a"),
    ("21-0781V2", "form0781", "form0781v2"),
    ("21-8940", "form8940", None),
)


# --- the raw row ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SourceSubmission:
    """One `form526_submissions` row as read from vets-api (the JSON columns decrypted, not parsed)."""

    id: int
    created_at: datetime  # naive UTC timestamp from Postgres
    form_json: str | None  # raw text column
    auth_headers_json: str | None  # raw text column


# --- the view -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Identity:
    """The veteran as the auth headers name them; every value stripped text ('' when absent)."""

    first_name: str
    last_name: str
    ssn: str  # va_eauth_pnid
    file_number: str  # va_eauth_birlsfilenumber
    participant_id: str  # va_eauth_pid
    birth_date: str  # va_eauth_birthdate, as a date when it is one

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)


@dataclass(frozen=True)
class Address:
    """A postal address; `unparsed` holds the text of a value that was not an object."""

    country: str = ""
    type: str = ""
    address_line1: str = ""
    address_line2: str = ""
    address_line3: str = ""
    city: str = ""
    state: str = ""
    zip_first_five: str = ""
    zip_last_four: str = ""
    military_post_office_type_code: str = ""
    military_state_code: str = ""
    international_postal_code: str = ""
    extras: Mapping[str, JsonValue] = field(default_factory=dict)
    unparsed: str = ""


@dataclass(frozen=True)
class Veteran:
    email: JsonValue
    mailing_address: Address | None
    change_of_address: Address | None
    daytime_phone: JsonValue
    homelessness: JsonValue
    currently_va_employee: JsonValue
    extras: Mapping[str, JsonValue]


@dataclass(frozen=True)
class Disability:
    """A claimed condition; `is_object` is False for a list item that was a bare value (its text is `name`)."""

    name: str
    is_object: bool
    action_type: JsonValue = None
    classification_code: JsonValue = None
    rated_disability_id: JsonValue = None
    diagnostic_code: JsonValue = None
    service_relevance: JsonValue = None
    secondaries: tuple[Disability, ...] = ()
    extras: Mapping[str, JsonValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Treatment:
    """A treatment record; `unparsed` holds a list item that was not an object."""

    center_name: JsonValue = None
    center_country: JsonValue = None
    center_extras: Mapping[str, JsonValue] = field(default_factory=dict)
    start_date: str = ""
    treated_disability_names: JsonValue = None
    extras: Mapping[str, JsonValue] = field(default_factory=dict)
    unparsed: JsonValue = None
    is_object: bool = True


@dataclass(frozen=True)
class ServicePeriod:
    branch: JsonValue = None
    begin: str = ""
    end: str = ""
    extras: Mapping[str, JsonValue] = field(default_factory=dict)
    unparsed: JsonValue = None
    is_object: bool = True


@dataclass(frozen=True)
class ServiceInformation:
    periods: tuple[ServicePeriod, ...]
    reserves: JsonValue
    separation_location: JsonValue
    extras: Mapping[str, JsonValue]


@dataclass(frozen=True)
class DirectDeposit:
    account_type: str
    account_number: str
    routing_number: str
    bank_name: str
    extras: Mapping[str, JsonValue]


@dataclass(frozen=True)
class ExposureCategory:
    """A checkbox group (`gulfWar1990`, `herbicide`, `conditions`...): the boxes checked, with their details."""

    key: str
    checked: tuple[tuple[str, JsonValue], ...]  # (item key, its details object or None)


@dataclass(frozen=True)
class ToxicExposure:
    categories: tuple[ExposureCategory, ...]
    free_text: tuple[tuple[str, JsonValue], ...]  # (key, answer)
    extras: Mapping[str, JsonValue]
    unparsed: JsonValue = None

    @property
    def is_empty(self) -> bool:
        return not (self.categories or self.free_text or self.extras) and is_empty(self.unparsed)


@dataclass(frozen=True)
class Claim:
    """The `form526.form526` object by section."""

    veteran: Veteran
    claim_date: date  # the form's claimDate when it is a valid ISO date, else the submission's creation date
    claim_date_raw: JsonValue  # the form's claimDate as written (None when absent)
    claimant_certification: JsonValue
    standard_claim: JsonValue
    bdd_qualified: JsonValue
    claim_submission_source: JsonValue
    application_expiration_date: JsonValue
    toxic_exposure: ToxicExposure
    disabilities: tuple[Disability, ...]
    treatments: tuple[Treatment, ...]
    service_information: ServiceInformation | None
    service_information_unparsed: JsonValue
    service_pay: JsonValue
    direct_deposit: DirectDeposit | None
    overflow_text: JsonValue
    extras: Mapping[str, JsonValue]

    @property
    def claim_date_given(self) -> bool:
        """The form's own claimDate was a usable date."""
        text = _text(self.claim_date_raw)
        return bool(_ISO_DATE.match(text)) and text[:10] == self.claim_date.isoformat()

    @property
    def is_bdd(self) -> bool:
        """vets-api adds the BDD instruction sheet when bddQualified is truthy (Ruby truthiness)."""
        return self.bdd_qualified is not None and self.bdd_qualified is not False


@dataclass(frozen=True)
class Upload:
    """One item of `form526_uploads`; `invalid_reason` is set when it cannot be fetched at all."""

    index: int  # 0-based position in form526_uploads
    confirmation_code: str  # form_attachments.guid
    name: str  # the veteran's file name: PII-bearing, never logged
    attachment_id: str  # the VBMS document type code
    size: JsonValue
    invalid_reason: str | None = None
    extras: Mapping[str, JsonValue] = field(default_factory=dict)

    @property
    def is_valid(self) -> bool:
        return self.invalid_reason is None


@dataclass(frozen=True)
class AncillaryForm:
    form: str  # "21-4142", "21-0781", "21-0781a", "21-0781V2", "21-8940"
    data: JsonValue

    @property
    def file_name(self) -> str:
        return f"{self.form}.pdf"


@dataclass(frozen=True)
class Submission:
    id: int
    created_at: datetime  # naive UTC
    identity: Identity
    claim: Claim
    uploads: tuple[Upload, ...]
    ancillary: tuple[AncillaryForm, ...]
    flashes: JsonValue


# --- parsing --------------------------------------------------------------------------------

def parse_submission(row: SourceSubmission) -> Submission:
    """Parse one row into the view; raises PackageError (form_json_invalid, form_json_too_large,
    form_json_too_deep, form526_missing, auth_headers_invalid, identity_missing) for data no package
    can be built from."""
    form = _parse_object(row.form_json, "form_json", {
        None: FORM_JSON_INVALID, TOO_LARGE: FORM_JSON_TOO_LARGE, TOO_DEEP: FORM_JSON_TOO_DEEP,
    })
    inner = form.get("form526")
    inner = inner.get("form526") if isinstance(inner, Mapping) else None
    if not isinstance(inner, Mapping):
        raise PackageError(FORM526_MISSING, "form_json has no form526.form526 object")
    auth = _parse_object(row.auth_headers_json, "auth_headers_json", {
        None: AUTH_HEADERS_INVALID, TOO_LARGE: AUTH_HEADERS_INVALID, TOO_DEEP: AUTH_HEADERS_INVALID,
    })
    identity = parse_identity(auth)
    if not identity.first_name or not identity.last_name:
        raise PackageError(IDENTITY_MISSING, "auth headers have no veteran first and last name")
    created_at = _naive_utc(row.created_at)
    return Submission(
        id=row.id,
        created_at=created_at,
        identity=identity,
        claim=parse_claim(inner, created_at),
        uploads=parse_uploads(form.get("form526_uploads")),
        ancillary=parse_ancillary(form),
        flashes=form.get("flashes"),
    )


_PROBLEM_DETAIL = {TOO_LARGE: "is over the size limit", TOO_DEEP: "nests deeper than the limit"}


def _parse_object(raw: object, what: str, codes: Mapping[str | None, str]) -> dict[str, Any]:
    """The JSON object in `raw`; `codes[None]` for bad JSON, `codes[problem]` for text over a limit.

    The limits are checked before parsing: json.loads (and every walk of its result) recurses once
    per nesting level.
    """
    # json errors quote the input around the fault, so their text is never kept.
    if raw is None or not isinstance(raw, (str, bytes, bytearray)):
        raise PackageError(codes[None], f"{what} is empty")
    if isinstance(raw, (bytes, bytearray)):
        try:
            raw = bytes(raw).decode(json.detect_encoding(raw), "surrogatepass")  # as json.loads decodes
        except (UnicodeDecodeError, LookupError):
            raise PackageError(codes[None], f"{what} is not valid JSON") from None
    problem = json_problem(raw)
    if problem is not None:
        raise PackageError(codes[problem], f"{what} {_PROBLEM_DETAIL[problem]}")
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise PackageError(codes[None], f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise PackageError(codes[None], f"{what} is JSON but not an object")
    return value


def _naive_utc(value: datetime) -> datetime:
    if value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _text(value: object) -> str:
    return to_text(value).strip()


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


def parse_identity(auth: Mapping[str, Any]) -> Identity:
    return Identity(
        first_name=_text(auth.get("va_eauth_firstName")),
        last_name=_text(auth.get("va_eauth_lastName")),
        ssn=_text(auth.get("va_eauth_pnid")),
        file_number=_text(auth.get("va_eauth_birlsfilenumber")),
        participant_id=_text(auth.get("va_eauth_pid")),
        birth_date=date_text(auth.get("va_eauth_birthdate")).strip(),
    )


def parse_address(value: object) -> Address | None:
    """None when absent or empty; an object by its fields; anything else as `unparsed` text."""
    if is_empty(value):
        return None
    if not isinstance(value, Mapping):
        return Address(unparsed=to_text(value))
    g = lambda key: _text(value.get(key))  # noqa: E731
    return Address(
        country=g("country"), type=g("type"), address_line1=g("addressLine1"), address_line2=g("addressLine2"),
        address_line3=g("addressLine3"), city=g("city"), state=g("state"), zip_first_five=g("zipFirstFive"),
        zip_last_four=g("zipLastFour"), military_post_office_type_code=g("militaryPostOfficeTypeCode"),
        military_state_code=g("militaryStateCode"), international_postal_code=g("internationalPostalCode"),
        extras=extras(value, ADDRESS_KEYS),
    )


def parse_claim(inner: Mapping[str, Any], created_at: datetime) -> Claim:
    veteran = as_dict(inner.get("veteran"))
    claim_date = _claim_date(inner.get("claimDate"), created_at)
    service = inner.get("serviceInformation")
    return Claim(
        veteran=Veteran(
            email=veteran.get("emailAddress"),
            mailing_address=parse_address(veteran.get("currentMailingAddress")),
            change_of_address=parse_address(veteran.get("changeOfAddress")),
            daytime_phone=veteran.get("daytimePhone"),
            homelessness=veteran.get("homelessness"),
            currently_va_employee=veteran.get("currentlyVAEmployee"),
            extras=extras(veteran, _VETERAN_KEYS),
        ),
        claim_date=claim_date,
        claim_date_raw=inner.get("claimDate"),
        claimant_certification=inner.get("claimantCertification"),
        standard_claim=inner.get("standardClaim"),
        bdd_qualified=inner.get("bddQualified"),
        claim_submission_source=inner.get("claimSubmissionSource"),
        application_expiration_date=inner.get("applicationExpirationDate"),
        toxic_exposure=parse_toxic_exposure(inner.get("toxicExposure")),
        disabilities=tuple(_disability(item, 1) for item in as_list(inner.get("disabilities"))),
        treatments=tuple(_treatment(item) for item in as_list(inner.get("treatments"))),
        service_information=_service_information(service),
        service_information_unparsed=None if as_dict(service) or is_empty(service) else service,
        service_pay=inner.get("servicePay"),
        direct_deposit=_direct_deposit(inner.get("directDeposit")),
        overflow_text=inner.get("overflowText"),
        extras=extras(inner, _CLAIM_KEYS),
    )


def _claim_date(raw: object, created_at: datetime) -> date:
    # vets-api fills a missing claimDate with the submission's UTC creation date.
    text = _text(raw)
    if _ISO_DATE.match(text):
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            pass
    return created_at.date()


def _disability(item: object, depth: int) -> Disability:
    if not isinstance(item, Mapping):
        return Disability(name=_text(item), is_object=False)
    secondaries: tuple[Disability, ...] = ()
    rest = extras(item, _DISABILITY_KEYS)
    if depth <= MAX_SECONDARY_DEPTH:
        secondaries = tuple(_disability(s, depth + 1) for s in as_list(item.get("secondaryDisabilities")))
    elif not is_empty(item.get("secondaryDisabilities")):
        rest["secondaryDisabilities"] = item["secondaryDisabilities"]  # too deep to lay out: shown as data
    return Disability(
        name=_text(item.get("name")),
        is_object=True,
        action_type=item.get("disabilityActionType"),
        classification_code=item.get("classificationCode"),
        rated_disability_id=item.get("ratedDisabilityId"),
        diagnostic_code=item.get("diagnosticCode"),
        service_relevance=item.get("serviceRelevance"),
        secondaries=secondaries,
        extras=rest,
    )


def _treatment(item: object) -> Treatment:
    if not isinstance(item, Mapping):
        return Treatment(unparsed=item, is_object=False)
    center = item.get("center")
    center_map = as_dict(center)
    return Treatment(
        center_name=center_map.get("name") if center_map else center,
        center_country=center_map.get("country"),
        center_extras=extras(center_map, frozenset({"name", "country"})),
        start_date=date_text(item.get("startDate")),
        treated_disability_names=item.get("treatedDisabilityNames"),
        extras=extras(item, _TREATMENT_KEYS),
    )


def _service_information(value: object) -> ServiceInformation | None:
    info = as_dict(value)
    if not info:
        return None
    periods = []
    for period in as_list(info.get("servicePeriods")):
        p = as_dict(period)
        if not p:
            periods.append(ServicePeriod(unparsed=period, is_object=False))
            continue
        periods.append(ServicePeriod(
            branch=p.get("serviceBranch"),
            begin=date_text(p.get("activeDutyBeginDate")),
            end=date_text(p.get("activeDutyEndDate")),
            extras=extras(p, _PERIOD_KEYS),
        ))
    return ServiceInformation(
        periods=tuple(periods),
        reserves=info.get("reservesNationalGuardService"),
        separation_location=info.get("separationLocation"),
        extras=extras(info, _SERVICE_KEYS),
    )


def _direct_deposit(value: object) -> DirectDeposit | None:
    deposit = as_dict(value)
    if not deposit:
        return None
    return DirectDeposit(
        account_type=_text(deposit.get("accountType")),
        account_number="".join(to_text(deposit.get("accountNumber")).split()),
        routing_number=_text(deposit.get("routingNumber")),
        bank_name=_text(deposit.get("bankName")),
        extras=extras(deposit, _DEPOSIT_KEYS),
    )


def parse_toxic_exposure(value: object) -> ToxicExposure:
    """Checkbox groups keep only the boxes checked (`true`), each with its `<group>Details` entry."""
    if not isinstance(value, Mapping):
        return ToxicExposure(categories=(), free_text=(), extras={}, unparsed=None if is_empty(value) else value)
    categories: list[ExposureCategory] = []
    free_text: list[tuple[str, JsonValue]] = []
    rest: dict[str, JsonValue] = {}
    details_keys = {k for k in value if isinstance(k, str) and k.endswith("Details")}
    used_details: set[str] = set()
    for key, answer in value.items():
        if key in details_keys:
            continue
        if key in TOXIC_FREE_TEXT_KEYS:
            if not is_empty(answer):
                free_text.append((key, answer))
        elif isinstance(answer, Mapping) and answer and all(isinstance(v, bool) or v is None for v in answer.values()):
            details_key = next((d for d in _details_keys_for(key) if d in details_keys), None)
            details = as_dict(value.get(details_key)) if details_key else {}
            if details_key:
                used_details.add(details_key)
            checked = tuple((item, details.get(item)) for item, ticked in answer.items() if ticked is True)
            if checked:
                categories.append(ExposureCategory(key=key, checked=checked))
        elif not is_empty(answer):
            rest[key] = answer
    # A details object whose group is absent or not a checkbox group is data the veteran gave: keep it.
    for key in details_keys - used_details:
        if not is_empty(value[key]) and not _is_orphan_of_checkbox_group(key, value):
            rest[key] = value[key]
    return ToxicExposure(categories=tuple(categories), free_text=tuple(free_text), extras=rest)


def _details_keys_for(key: str) -> tuple[str, ...]:
    # vets-website writes otherExposuresDetails; an early contract said otherExposureDetails.
    return (f"{key}Details", f"{key[:-1]}Details") if key.endswith("s") else (f"{key}Details",)


def _is_orphan_of_checkbox_group(details_key: str, value: Mapping[str, Any]) -> bool:
    """Details left over for a group with nothing checked (vets-website purges these; old ones may remain)."""
    base = details_key[: -len("Details")]
    return any(isinstance(value.get(k), Mapping) for k in (base, f"{base}s"))


def parse_uploads(value: object) -> tuple[Upload, ...]:
    """Every item of form526_uploads; unusable ones are kept, marked with an `invalid_reason`."""
    if value is None or value == []:
        return ()
    if not isinstance(value, list):
        return (Upload(index=0, confirmation_code="", name=to_text(value) if not isinstance(value, Mapping)
                       else _text(value.get("name")), attachment_id="", size=None,
                       invalid_reason=UPLOADS_NOT_A_LIST),)
    uploads = []
    for index, item in enumerate(value):
        if not isinstance(item, Mapping):
            uploads.append(Upload(index=index, confirmation_code="", name=to_text(item), attachment_id="",
                                  size=None, invalid_reason=UPLOAD_NOT_AN_OBJECT))
            continue
        code = _text(item.get("confirmationCode"))
        uploads.append(Upload(
            index=index,
            confirmation_code=code,
            name=_text(item.get("name")),
            attachment_id=_text(item.get("attachmentId")),
            size=item.get("size"),
            invalid_reason=None if code else UPLOAD_NO_CONFIRMATION_CODE,
            extras=extras(item, _UPLOAD_KEYS),
        ))
    return tuple(uploads)


def parse_ancillary(form: Mapping[str, Any]) -> tuple[AncillaryForm, ...]:
    """Each ancillary form present and non-empty, in package order."""
    found = []
    for form_number, top_key, inner_key in ANCILLARY_SOURCES:
        data = form.get(top_key)
        if inner_key is not None:
            data = data.get(inner_key) if isinstance(data, Mapping) else None
        if is_empty(data):
            continue
        found.append(AncillaryForm(form=form_number, data=data))
    return tuple(found)
