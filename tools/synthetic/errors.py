"""Error catalogue: (error_class, error_message) pairs as vets-api's jobs record them (form526.md §7)."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

Error = tuple[str, str]

SERVICE_EXCEPTION = "EVSS::DisabilityCompensationForm::ServiceException"
TIMEOUT: Error = ("Common::Exceptions::GatewayTimeout",
                  "Did not receive a timely response from an upstream server")
FILE_NUMBER_INVALID: Error = ("ArgumentError", "file number is invalid. It must be 8 or 9 digits")
BACKUP_REJECTION_REASONS = ("ZIP Code must be 5 or 9 digits",
                            "Unsupported File type (only PDFs are accepted)",
                            "ERR-EMMS-FAILED, Corrupted File detected.")


def ruby_inspect(entries: Sequence[dict[str, str]]) -> str:
    """EVSS error list as vets-api stores it: a Ruby ``inspect`` of an array of hashes."""
    return "[" + ", ".join(
        "{" + ", ".join(f"{json.dumps(k)}=>{json.dumps(v, ensure_ascii=False)}" for k, v in e.items()) + "}"
        for e in entries
    ) + "]"


def _backend(status: int, code: str, detail: str | None = None) -> Error:
    shown = "nil" if detail is None else json.dumps(detail)
    return ("Common::Exceptions::BackendServiceException",
            f"BackendServiceException: {{:status=>{status}, :detail=>{shown}, :code=>\"{code}\", :source=>nil}}")


def evss_error(key: str, text: str, severity: str = "FATAL") -> Error:
    return (SERVICE_EXCEPTION, ruby_inspect([{"key": key, "severity": severity, "text": text}]))


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def retryable_primary_error(rng: random.Random, at: datetime) -> Error:
    """A transient primary-path error (the job retries)."""
    kind = rng.choices(("timeout", "evss502", "outage", "bgs", "vetrecord", "faraday"),
                       (28, 25, 15, 18, 8, 6))[0]
    if kind == "timeout":
        return TIMEOUT
    if kind == "evss502":
        return _backend(502, "EVSS502")
    if kind == "outage":
        start = at - timedelta(minutes=rng.randint(5, 600))
        return ("Breakers::OutageException",
                f"Outage detected on EVSS/DisabilityCompensationForm beginning at {start:%Y-%m-%d %H:%M:%S} UTC")
    if kind == "bgs":
        return evss_error("form526.submit.establishClaim.serviceError",
                     f"Claim not established. System error with BGS. GUID: {_guid(rng)}")
    if kind == "vetrecord":
        return evss_error("form526.submit.establishClaim.serviceError",
                     "Error calling external service to establish the claim during Submit. "
                     "gov.va.vba.benefits.vdc.exceptions.VeteranRecordWsClientException "
                     f"GUID: {_guid(rng)}")
    return ("Faraday::ConnectionFailed", "Failed to open TCP connection to evss (execution expired)")


def fatal_primary_error(rng: random.Random) -> Error:
    """A primary-path error that ends the job as non_retryable_error."""
    kind = rng.choices(("pif", "maxep", "payee", "validation", "unmapped", "birls", "evss400", "nomethod"),
                       (22, 11, 9, 16, 9, 9, 10, 14))[0]
    if kind == "pif":
        return evss_error("form526.submit.save.draftForm.PIFInUse",
                     "Claim could not be established. Retries will fail.")
    if kind == "maxep":
        return evss_error("form526.submit.save.draftForm.MaxEPCode",
                     "The maximum number of EP codes have been reached for this benefit type claim code")
    if kind == "payee":
        return evss_error("form526.submit.establishClaim.serviceError",
                     f"Benefit Type, Payee code or EP Code is not valid. GUID: {_guid(rng)}")
    if kind == "validation":
        i, j = rng.randint(0, 3), rng.randint(0, 3)
        entries = [{"key": f"form526.treatments[{i}].treatedDisabilityNames.isInvalidValue", "severity": "ERROR",
                    "text": "treatedDisabilityNames must match the name of a claimed disability"}]
        if rng.random() < 0.5:
            entries.append({"key": f"form526.disabilities[{j}].name.Pattern", "severity": "ERROR",
                            "text": "must match \"([a-zA-Z0-9\\-'.,/()]([a-zA-Z0-9\\-',. ])?)+$\""})
        if rng.random() < 0.2:
            entries.append({"key": "form526.veteran.homelessness.pointOfContact", "severity": "WARN",
                            "text": "point of contact is recommended"})
        return (SERVICE_EXCEPTION, ruby_inspect(entries))
    if kind == "unmapped":
        return evss_error("form526.submit.save.draftForm.UnmappedError",
                     f"Claim could not be established. GUID: {_guid(rng)}")
    if kind == "birls":
        return evss_error("form526.submit.establishClaim.serviceError",
                     f"Claim not established. BIRLS ID does not match the file number of record. GUID: {_guid(rng)}")
    if kind == "evss400":
        return _backend(400, "EVSS400", "Bad Request")
    return ("NoMethodError", "undefined method `[]' for nil:NilClass")


def backup_error(rng: random.Random, fatal: bool) -> Error:
    """A backup-path (Benefits Intake) error; ``fatal`` ones fail on every retry."""
    if fatal:
        return rng.choice((FILE_NUMBER_INVALID, FILE_NUMBER_INVALID,
                           ("ArgumentError", "veteran first and last name are required")))
    return rng.choice((
        TIMEOUT,
        _backend(500, "EVSS500", "generatePDF failed"),
        ("Faraday::ServerError", "the server responded with status 503"),
        ("Breakers::OutageException",
         "Outage detected on Lighthouse Benefits Intake API beginning at 2024-03-02 11:04:10 UTC"),
    ))


def ancillary_error(rng: random.Random, job_class: str) -> Error:
    """An error of an ancillary job (uploads, 4142, 0781, 8940, BDD instructions)."""
    if job_class == "SubmitUploads" and rng.random() < 0.3:
        return rng.choice((("ArgumentError", "supporting evidence attachment has no file data"),
                           ("Common::Exceptions::UnprocessableEntity",
                            "Unsupported File type (only PDFs are accepted)")))
    return rng.choice((
        _backend(400, "EVSS400", "Document upload failed"),
        _backend(502, "EVSS502"),
        TIMEOUT,
        ("Faraday::ConnectionFailed", "Failed to open TCP connection (execution expired)"),
        ("NoMethodError", "undefined method `[]' for nil:NilClass"),
    ))
