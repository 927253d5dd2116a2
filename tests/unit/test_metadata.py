"""Benefits Intake metadata rules, case by case, against vets-api's backup path (Processor#get_meta_data)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from include.form526.package.build import PackageError
from include.form526.package.metadata import build_mappings, build_metadata, transliterate_name, zip_code
from include.form526.package.submission import parse_address, parse_submission
from tools import samples

CREATED = datetime(2023, 5, 6, 7, 8, 9)


def auth(**overrides):
    headers = {
        "va_eauth_firstName": "Sample",
        "va_eauth_lastName": "Veteran",
        "va_eauth_pnid": "000123456",
        "va_eauth_birlsfilenumber": "00011222",
    }
    headers.update(overrides)
    return headers


def metadata(auth_headers=None, address=None, created_at=CREATED, **fields):
    form = {"form526": {"form526": {"veteran": {"currentMailingAddress": address}, **fields}}}
    row = samples.submission(form, auth_headers or auth(), created_at=created_at)
    return build_metadata(parse_submission(row))


NINE_KEYS = {
    "veteranFirstName", "veteranLastName", "fileNumber", "zipCode", "source", "docType", "businessLine",
    "claimDate", "forceOfframp",
}


@pytest.mark.parametrize(
    ("make", "zip_expected"),
    [
        (samples.typical_form, "22150-1234"),  # domestic
        (lambda: samples.military_address()[0], "96278"),  # APO, country USA: determine_zip keeps its zip
        (lambda: samples.international_address()[0], "00000"),
    ],
    ids=["domestic", "military", "international"],
)
def test_all_nine_keys_and_values(make, zip_expected):
    row = samples.submission(make(), samples.typical_auth(), created_at=datetime(2024, 1, 2, 3, 4, 5))
    meta = build_metadata(parse_submission(row))
    assert meta == {
        "veteranFirstName": "Sample",
        "veteranLastName": "Veteran",
        "fileNumber": "000123456",
        "zipCode": zip_expected,
        "source": "va.gov backup submission",
        "docType": "21-526EZ",
        "businessLine": "CMP",
        "claimDate": "2024-01-02T03:04:05Z",
        "forceOfframp": "true",
    }
    assert set(meta) == NINE_KEYS
    assert json.loads(json.dumps(meta))["forceOfframp"] == "true"  # a JSON string, not a boolean


def test_claim_date_is_created_at_not_the_form_claim_date():
    assert metadata(claimDate="2022-12-31")["claimDate"] == "2023-05-06T07:08:09Z"
    assert metadata(created_at=datetime(2023, 5, 6, 7, 8, 9, 654321))["claimDate"] == "2023-05-06T07:08:09Z"


def test_aware_created_at_is_written_in_utc():
    aware = datetime(2023, 5, 6, 7, 8, 9, tzinfo=UTC).astimezone()
    assert metadata(created_at=aware)["claimDate"] == "2023-05-06T07:08:09Z"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("José", "Jose"),
        ("Zoë-Łucja", "Zoe-Lucja"),
        ("Ő'Néill", "ONeill"),
        ("O’Brien", "OBrien"),
        ("Ærøskøbing", "AEroskobing"),
        ("Straße", "Strasse"),
        ("Mary Ann", "Mary Ann"),
        ("Smith/Jones", "Smith/Jones"),
        ("<b>Bob</b>", "bBob/b"),  # markup is stripped to letters, "/" is allowed
        ("  Anne \t\n Marie  ", "Anne Marie"),
        ("Jr. III 2nd", "Jr III nd"),
    ],
)
def test_names_transliterated_and_stripped(raw, expected):
    assert transliterate_name(raw) == expected


def test_names_cut_to_50_characters():
    long_name = "A" * 49 + " Bcdef"
    assert len(transliterate_name(long_name)) <= 50
    assert transliterate_name(long_name) == "A" * 49  # the cut leaves no trailing space
    assert metadata(auth(va_eauth_lastName="X" * 51))["veteranLastName"] == "X" * 50


def test_name_with_no_usable_letters_is_identity_missing():
    with pytest.raises(PackageError) as error:
        metadata(auth(va_eauth_firstName="山田"))
    assert error.value.code == "identity_missing"
    assert "山田" not in error.value.detail


@pytest.mark.parametrize(
    ("pnid", "birls", "expected"),
    [
        ("12345678", "", "12345678"),
        ("000123456", "", "000123456"),
        ("000-12-3456", "", "000123456"),
        ("", "00011222", "00011222"),  # this project's fallback; vets-api has none
        (None, "000112222", "000112222"),
        (123456789, None, "123456789"),
    ],
)
def test_file_number_valid(pnid, birls, expected):
    assert metadata(auth(va_eauth_pnid=pnid, va_eauth_birlsfilenumber=birls))["fileNumber"] == expected


@pytest.mark.parametrize(
    ("pnid", "birls"),
    [
        ("1234567", ""),  # 7 digits
        ("1234567890", ""),  # 10 digits
        ("12345678A", ""),  # a letter
        ("", "1234567"),  # fallback also too short
        ("", ""),
        (None, None),
        ("1234567", "000112222"),  # an invalid SSN header is not silently replaced by another number
    ],
)
def test_file_number_invalid(pnid, birls):
    with pytest.raises(PackageError) as error:
        metadata(auth(va_eauth_pnid=pnid, va_eauth_birlsfilenumber=birls))
    assert error.value.code == "file_number_invalid"
    assert error.value.detail == "file number is invalid. It must be 8 or 9 digits"


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ({"type": "DOMESTIC", "country": "USA", "zipFirstFive": "22150"}, "22150"),
        ({"type": "DOMESTIC", "country": "USA", "zipFirstFive": "22150", "zipLastFour": "1234"}, "22150-1234"),
        ({"type": "DOMESTIC", "country": "usa", "zipFirstFive": "22150", "zipLastFour": ""}, "22150"),
        ({"type": "DOMESTIC", "country": "USA", "zipFirstFive": "22150", "zipLastFour": "12"}, "22150"),
        ({"type": "DOMESTIC", "country": "US", "zipFirstFive": 22150}, "22150"),
        ({"type": "DOMESTIC", "country": "United States", "zipFirstFive": "22150"}, "22150"),
        ({"type": "DOMESTIC", "country": "USA", "zipFirstFive": "221501234"}, "00000"),
        ({"type": "DOMESTIC", "country": "USA", "zipFirstFive": "2215"}, "00000"),
        ({"type": "DOMESTIC", "country": "USA", "zipFirstFive": "ABCDE"}, "00000"),
        ({"type": "DOMESTIC", "country": "USA"}, "00000"),
        ({"type": "DOMESTIC", "zipFirstFive": "22150"}, "00000"),  # no country: determine_zip gives 00000
        ({"type": "MILITARY", "country": "USA", "militaryPostOfficeTypeCode": "APO", "zipFirstFive": "96278",
          "zipLastFour": "0001"}, "96278-0001"),
        ({"type": "INTERNATIONAL", "country": "Germany", "internationalPostalCode": "67655"}, "00000"),
        ({"country": "USA", "zipFirstFive": "22150"}, "22150"),
        ({"country": "Canada", "zipFirstFive": "22150"}, "00000"),
        (None, "00000"),
        ("22150", "00000"),
    ],
)
def test_zip_code(address, expected):
    assert zip_code(parse_address(address)) == expected
    assert metadata(address=address)["zipCode"] == expected


def test_mappings():
    files = ["21-526EZ.pdf", "21-4142.pdf", "21-0781.pdf", "21-0781a.pdf", "21-0781V2.pdf", "21-8940.pdf",
             "metadata.json"]
    assert build_mappings(files) == {
        "21-526EZ.pdf": "L533", "21-4142.pdf": "L107", "21-0781.pdf": "L228", "21-0781a.pdf": "L229",
        "21-0781V2.pdf": "L228", "21-8940.pdf": "L149",
    }
    attachments = {"attachment1.pdf": "L451", "attachment2.pdf": "L023", "attachment3.pdf": ""}
    assert build_mappings(["21-526EZ.pdf"], attachments) == {
        "21-526EZ.pdf": "L533", "attachment1.pdf": "L451", "attachment2.pdf": "L023",
    }
