"""Benefits Intake metadata rules, case by case."""

from __future__ import annotations

from datetime import datetime

import pytest

from include.form526.package.build import PackageError
from include.form526.package.metadata import build_mappings, build_metadata, transliterate_name, zip_code

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


def form(address=None, **fields):
    return {"veteran": {"currentMailingAddress": address}, **fields}


def test_fixed_fields():
    meta = build_metadata(auth(), form(), CREATED)
    assert meta["source"] == "va.gov backup submission"
    assert meta["docType"] == "21-526EZ"
    assert meta["businessLine"] == "CMP"
    assert meta["forceOfframp"] is False
    assert set(meta) == {
        "veteranFirstName", "veteranLastName", "fileNumber", "zipCode", "source", "docType", "businessLine",
        "claimDate", "forceOfframp",
    }


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
    meta = build_metadata(auth(va_eauth_lastName="X" * 51), form(), CREATED)
    assert meta["veteranLastName"] == "X" * 50


def test_name_with_no_usable_letters_is_identity_missing():
    with pytest.raises(PackageError) as error:
        build_metadata(auth(va_eauth_firstName="山田"), form(), CREATED)
    assert error.value.code == "identity_missing"
    assert "山田" not in error.value.detail


@pytest.mark.parametrize(
    ("pnid", "birls", "expected"),
    [
        ("12345678", "", "12345678"),
        ("000123456", "", "000123456"),
        ("000-12-3456", "", "000123456"),
        ("", "00011222", "00011222"),
        (None, "000112222", "000112222"),
        (123456789, None, "123456789"),
    ],
)
def test_file_number_valid(pnid, birls, expected):
    meta = build_metadata(auth(va_eauth_pnid=pnid, va_eauth_birlsfilenumber=birls), form(), CREATED)
    assert meta["fileNumber"] == expected


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
        build_metadata(auth(va_eauth_pnid=pnid, va_eauth_birlsfilenumber=birls), form(), CREATED)
    assert error.value.code == "file_number_invalid"
    assert error.value.detail == "file number is invalid. It must be 8 or 9 digits"


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ({"type": "DOMESTIC", "country": "USA", "zipFirstFive": "22150"}, "22150"),
        ({"type": "DOMESTIC", "country": "USA", "zipFirstFive": "22150", "zipLastFour": "1234"}, "22150-1234"),
        ({"type": "DOMESTIC", "zipFirstFive": "22150", "zipLastFour": ""}, "22150"),
        ({"type": "DOMESTIC", "zipFirstFive": "221501234"}, "22150-1234"),
        ({"type": "DOMESTIC", "zipFirstFive": 22150}, "22150"),
        ({"type": "DOMESTIC", "zipFirstFive": "2215"}, "00000"),
        ({"type": "DOMESTIC", "zipFirstFive": "ABCDE"}, "00000"),
        ({"type": "DOMESTIC"}, "00000"),
        ({"type": "MILITARY", "militaryPostOfficeTypeCode": "APO", "zipFirstFive": "96278"}, "00000"),
        ({"type": "INTERNATIONAL", "country": "Germany", "internationalPostalCode": "67655"}, "00000"),
        ({"country": "USA", "zipFirstFive": "22150"}, "22150"),
        ({"country": "Canada", "zipFirstFive": "22150"}, "00000"),
        (None, "00000"),
        ("22150", "00000"),
    ],
)
def test_zip_code(address, expected):
    assert zip_code(address) == expected
    assert build_metadata(auth(), form(address), CREATED)["zipCode"] == expected


def test_claim_date_from_form():
    assert build_metadata(auth(), form(claimDate="2022-12-31"), CREATED)["claimDate"] == "2022-12-31"
    assert build_metadata(auth(), form(claimDate="2022-12-31T23:00:00Z"), CREATED)["claimDate"] == "2022-12-31"


@pytest.mark.parametrize("claim_date", [None, "", "31/12/2022", "2022-13-45", 20221231])
def test_claim_date_falls_back_to_created_at(claim_date):
    fields = {} if claim_date is None else {"claimDate": claim_date}
    assert build_metadata(auth(), form(**fields), CREATED)["claimDate"] == "2023-05-06"


def test_mappings():
    files = ["21-526EZ.pdf", "21-4142.pdf", "21-0781.pdf", "21-0781a.pdf", "21-8940.pdf", "metadata.json"]
    assert build_mappings(files, None) == {
        "21-526EZ.pdf": "L533", "21-4142.pdf": "L107", "21-0781.pdf": "L228", "21-0781a.pdf": "L229",
        "21-8940.pdf": "L149",
    }
    uploads = [{"attachmentId": "L451"}, {"attachmentId": "L023"}]
    assert build_mappings(["attachment1.pdf", "attachment2.pdf", "attachment3.pdf"], uploads) == {
        "attachment1.pdf": "L451", "attachment2.pdf": "L023",
    }
