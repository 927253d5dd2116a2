"""Benefits Intake `metadata.json` and `mappings.json` for one submission's package.

Rules follow the Benefits Intake validator as the vets-api backup path applied them:

- veteranFirstName / veteranLastName: transliterated to ASCII, stripped of anything but
  letters, `-`, `/` and spaces, whitespace collapsed, cut to 50 characters. A name with
  nothing left (e.g. written only in CJK) fails with `identity_missing`: the validator
  requires a non-empty name.
- fileNumber: `va_eauth_pnid` (the SSN header), or `va_eauth_birlsfilenumber` when the SSN
  header is empty; dashes and spaces removed; it must then be 8 or 9 digits.
- zipCode: a DOMESTIC address's `zipFirstFive` (5 digits) plus `zipLastFour` (4 digits) when
  present, as `12345` or `12345-6789`; anything else, and military or international addresses,
  give `00000`.
- claimDate: the form's `claimDate` when it is an ISO 8601 date or timestamp, else the
  submission's `created_at` (naive UTC); written as an ISO 8601 date `YYYY-MM-DD`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from include.form526.package.text_safety import to_text

SOURCE = "va.gov backup submission"
DOC_TYPE = "21-526EZ"
BUSINESS_LINE = "CMP"
NO_ZIP = "00000"
NAME_MAX = 50

# Error codes, spelled as in include.package.
FILE_NUMBER_INVALID = "file_number_invalid"
IDENTITY_MISSING = "identity_missing"
FILE_NUMBER_MESSAGE = "file number is invalid. It must be 8 or 9 digits"

DOCUMENT_TYPES = {
    "21-526EZ.pdf": "L533",
    "21-4142.pdf": "L107",
    "21-0781.pdf": "L228",
    "21-0781a.pdf": "L229",
    "21-8940.pdf": "L149",
}

# Letters NFKD does not decompose into ASCII.
_TRANSLITERATIONS = str.maketrans({
    "ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE",
    "ß": "ss", "ẞ": "SS", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th",
    "ı": "i", "ħ": "h", "Ħ": "H", "ŧ": "t", "Ŧ": "T", "ĸ": "k", "ŋ": "n", "Ŋ": "N",
})
_NAME_DISALLOWED = re.compile(r"[^A-Za-z\-/\s]")
_WHITESPACE = re.compile(r"\s+")
_FILE_NUMBER_NOISE = re.compile(r"[\s\-]")
_FILE_NUMBER = re.compile(r"[0-9]{8,9}")
_ZIP5 = re.compile(r"[0-9]{5}")
_ZIP4 = re.compile(r"[0-9]{4}")
_ZIP9 = re.compile(r"([0-9]{5})-?([0-9]{4})")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _error(code: str, detail: str) -> Exception:
    # include.package imports this module, so its error class is fetched at raise time.
    from include.form526.package.build import PackageError

    return PackageError(code, detail)


def transliterate_name(value: object) -> str:
    """ASCII name as the validator accepts it (may be empty)."""
    text = to_text(value).translate(_TRANSLITERATIONS)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = _WHITESPACE.sub(" ", _NAME_DISALLOWED.sub("", text)).strip()
    return text[:NAME_MAX].strip()


def file_number(auth_headers: Mapping[str, Any]) -> str:
    """The SSN header, else the BIRLS file number, as 8 or 9 digits."""
    for key in ("va_eauth_pnid", "va_eauth_birlsfilenumber"):
        raw = _FILE_NUMBER_NOISE.sub("", to_text(auth_headers.get(key)))
        if raw:
            if _FILE_NUMBER.fullmatch(raw):
                return raw
            raise _error(FILE_NUMBER_INVALID, FILE_NUMBER_MESSAGE)
    raise _error(FILE_NUMBER_INVALID, FILE_NUMBER_MESSAGE)


def zip_code(address: object) -> str:
    """`12345`, `12345-6789` or `00000` for a mailing address."""
    if not isinstance(address, Mapping) or not _is_domestic(address):
        return NO_ZIP
    first = to_text(address.get("zipFirstFive")).strip()
    last = to_text(address.get("zipLastFour")).strip()
    if _ZIP5.fullmatch(first):
        return f"{first}-{last}" if _ZIP4.fullmatch(last) else first
    nine = _ZIP9.fullmatch(first)
    if nine:
        return f"{nine.group(1)}-{nine.group(2)}"
    return NO_ZIP


def _is_domestic(address: Mapping[str, Any]) -> bool:
    kind = to_text(address.get("type")).strip().upper()
    if kind:
        return kind == "DOMESTIC"
    return to_text(address.get("country")).strip().upper() in {"USA", "US", "UNITED STATES"}


def claim_date(form526: Mapping[str, Any], created_at: datetime) -> date:
    """The form's claimDate when it is a valid ISO date, else the submission's creation date."""
    raw = to_text(form526.get("claimDate")).strip()
    if _ISO_DATE.match(raw):
        try:
            return date.fromisoformat(raw[:10])
        except ValueError:
            pass
    return created_at.date()


def build_metadata(auth_headers: dict, form526: dict, created_at: datetime) -> dict:
    """Benefits Intake metadata for the 21-526EZ; raises PackageError on unusable identity data."""
    first = transliterate_name(auth_headers.get("va_eauth_firstName"))
    last = transliterate_name(auth_headers.get("va_eauth_lastName"))
    if not first or not last:
        raise _error(IDENTITY_MISSING, "veteran first or last name has no letters usable in metadata")
    veteran = form526.get("veteran")
    address = veteran.get("currentMailingAddress") if isinstance(veteran, Mapping) else None
    return {
        "veteranFirstName": first,
        "veteranLastName": last,
        "fileNumber": file_number(auth_headers),
        "zipCode": zip_code(address),
        "source": SOURCE,
        "docType": DOC_TYPE,
        "businessLine": BUSINESS_LINE,
        "claimDate": claim_date(form526, created_at).isoformat(),
        "forceOfframp": False,
    }


def build_mappings(files: Iterable[str], uploads: object) -> dict:
    """File name -> VBA document type code, for the PDFs in the package.

    Evidence files named `attachmentN.pdf` (1-based) take their upload's `attachmentId`.
    """
    upload_list = uploads if isinstance(uploads, list) else []
    mappings: dict[str, str] = {}
    for name in files:
        if name in DOCUMENT_TYPES:
            mappings[name] = DOCUMENT_TYPES[name]
            continue
        match = re.fullmatch(r"attachment([0-9]+)\.pdf", name)
        if match:
            index = int(match.group(1)) - 1
            if 0 <= index < len(upload_list) and isinstance(upload_list[index], Mapping):
                code = to_text(upload_list[index].get("attachmentId")).strip()
                if code:
                    mappings[name] = code
    return mappings
