"""Benefits Intake `metadata.json` and `mappings.json` for one submission's package.

metadata.json has exactly the nine keys vets-api's backup path writes (Processor#get_meta_data):

- veteranFirstName / veteranLastName: the auth headers' names, cleaned by the current Benefits
  Intake rules: transliterated to ASCII, stripped of anything but letters, `-`, `/` and spaces,
  whitespace collapsed, cut to 50 characters. A name with nothing left (e.g. written only in CJK)
  fails with `identity_missing`: the validator requires a non-empty name.
- fileNumber: `va_eauth_pnid` (the SSN header); dashes and spaces removed; it must then be 8 or
  9 digits (`file_number_invalid`). vets-api has no fallback; this project keeps one: when the SSN
  header is empty, `va_eauth_birlsfilenumber` (the VA file number) is used instead. An SSN header
  that is present but invalid is an error, never silently replaced.
- zipCode: as vets-api's determine_zip: the mailing address's country is USA (also `US` and
  `UNITED STATES`, case-insensitive, which vets-api would miss), whatever the address type
  (military included): `zipFirstFive`, plus `-zipLastFour` when that is 4 digits. No address,
  another country, or a first five that is not 5 digits: `00000`.
- source `va.gov backup submission`, docType `21-526EZ`, businessLine `CMP`.
- claimDate: the submission's `created_at` (naive UTC) as Rails writes `created_at.iso8601`:
  `2024-01-02T03:04:05Z`.
- forceOfframp: the string `"true"` (not a JSON boolean), as vets-api sends it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime

from include.form526.package.errors import FILE_NUMBER_INVALID, FILE_NUMBER_MESSAGE, IDENTITY_MISSING, PackageError
from include.form526.package.submission import Address, Identity, Submission
from include.form526.package.text_safety import to_text

SOURCE = "va.gov backup submission"
DOC_TYPE = "21-526EZ"
BUSINESS_LINE = "CMP"
FORCE_OFFRAMP = "true"
NO_ZIP = "00000"
NAME_MAX = 50
USA = frozenset({"USA", "US", "UNITED STATES"})

DOCUMENT_TYPES = {
    "21-526EZ.pdf": "L533",
    "21-4142.pdf": "L107",
    "21-0781.pdf": "L228",
    "21-0781a.pdf": "L229",
    "21-0781V2.pdf": "L228",
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


def transliterate_name(value: object) -> str:
    """ASCII name as the validator accepts it (may be empty)."""
    text = to_text(value).translate(_TRANSLITERATIONS)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = _WHITESPACE.sub(" ", _NAME_DISALLOWED.sub("", text)).strip()
    return text[:NAME_MAX].strip()


def file_number(identity: Identity) -> str:
    """The SSN header, else the BIRLS file number, as 8 or 9 digits."""
    for raw in (identity.ssn, identity.file_number):
        digits = _FILE_NUMBER_NOISE.sub("", raw)
        if digits:
            if _FILE_NUMBER.fullmatch(digits):
                return digits
            raise PackageError(FILE_NUMBER_INVALID, FILE_NUMBER_MESSAGE)
    raise PackageError(FILE_NUMBER_INVALID, FILE_NUMBER_MESSAGE)


def zip_code(address: Address | None) -> str:
    """`12345`, `12345-6789` or `00000` for the mailing address."""
    if address is None or address.country.upper() not in USA:
        return NO_ZIP
    if not _ZIP5.fullmatch(address.zip_first_five):
        return NO_ZIP
    if _ZIP4.fullmatch(address.zip_last_four):
        return f"{address.zip_first_five}-{address.zip_last_four}"
    return address.zip_first_five


def rails_iso8601(created_at: datetime) -> str:
    """A naive UTC timestamp as Rails' `Time#iso8601` writes it in UTC: `2024-01-02T03:04:05Z`."""
    return created_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_metadata(submission: Submission) -> dict[str, str]:
    """Benefits Intake metadata for the 21-526EZ; raises PackageError on unusable identity data."""
    first = transliterate_name(submission.identity.first_name)
    last = transliterate_name(submission.identity.last_name)
    if not first or not last:
        raise PackageError(IDENTITY_MISSING, "veteran first or last name has no letters usable in metadata")
    return {
        "veteranFirstName": first,
        "veteranLastName": last,
        "fileNumber": file_number(submission.identity),
        "zipCode": zip_code(submission.claim.veteran.mailing_address),
        "source": SOURCE,
        "docType": DOC_TYPE,
        "businessLine": BUSINESS_LINE,
        "claimDate": rails_iso8601(submission.created_at),
        "forceOfframp": FORCE_OFFRAMP,
    }


def build_mappings(forms: Iterable[str], attachments: Mapping[str, str] | None = None) -> dict[str, str]:
    """File name -> VBA document type code: each form PDF by its form, each attachment by its upload's code.

    `attachments` maps `attachmentN.pdf` to its upload's attachmentId; an empty code is left out
    (vets-api would have fallen back to the 526's own type, which would mislabel the evidence).
    """
    mappings = {name: DOCUMENT_TYPES[name] for name in forms if name in DOCUMENT_TYPES}
    for name, code in (attachments or {}).items():
        if code:
            mappings[name] = code
    return mappings
