"""The typed submission view: parsed once, tolerant of odd shapes, uploads and toxic exposure by the rules."""

from __future__ import annotations

import json

import pytest

from include.form526.package.errors import PackageError
from include.form526.package.submission import (
    UPLOAD_NO_CONFIRMATION_CODE,
    UPLOAD_NOT_AN_OBJECT,
    UPLOADS_NOT_A_LIST,
    parse_submission,
    parse_toxic_exposure,
    parse_uploads,
)
from tools import samples


def test_typical_submission_view():
    view = parse_submission(samples.submission(samples.typical_form(), samples.typical_auth(), sub_id=7))
    assert view.id == 7
    assert view.identity.full_name == "Sample Veteran"
    assert (view.identity.ssn, view.identity.file_number, view.identity.birth_date) == (
        "000123456", "000112222", "1980-01-31")
    assert view.claim.veteran.mailing_address.zip_first_five == "22150"
    assert [d.name for d in view.claim.disabilities] == ["Left knee strain", "Tinnitus"]
    assert view.claim.disabilities[0].secondaries[0].name == "Right hip pain"
    assert view.claim.direct_deposit.account_number == "000123456789"
    assert view.claim.claim_date_given and not view.claim.is_bdd
    assert view.uploads[0].attachment_id == "L451" and view.uploads[0].is_valid
    assert view.ancillary == ()


def test_ancillary_forms_in_package_order_including_0781v2():
    form, auth = samples.ancillary_forms()
    form["form0781"]["form0781v2"] = {"eventTypes": {"combat": True}}
    forms = parse_submission(samples.submission(form, auth)).ancillary
    assert [f.file_name for f in forms] == ["21-4142.pdf", "21-0781.pdf", "21-0781V2.pdf", "21-8940.pdf"]


@pytest.mark.parametrize(
    ("uploads", "expected"),
    [
        (None, []),
        ([], []),
        ({"name": "x.pdf", "confirmationCode": "c"}, [(0, UPLOADS_NOT_A_LIST)]),
        ("x.pdf", [(0, UPLOADS_NOT_A_LIST)]),
        ([{"confirmationCode": "c1", "attachmentId": "L451"}, None, "a.pdf", {"name": "b.pdf"},
          {"confirmationCode": "  "}],
         [(0, None), (1, UPLOAD_NOT_AN_OBJECT), (2, UPLOAD_NOT_AN_OBJECT), (3, UPLOAD_NO_CONFIRMATION_CODE),
          (4, UPLOAD_NO_CONFIRMATION_CODE)]),
    ],
)
def test_bad_uploads_become_invalid_entries_not_exceptions(uploads, expected):
    parsed = parse_uploads(uploads)
    assert [(u.index, u.invalid_reason) for u in parsed] == expected


def test_upload_fields():
    (upload,) = parse_uploads([{"name": "scan.png", "confirmationCode": "guid-1", "attachmentId": "L023",
                                "size": 2048, "extra": 1}])
    assert (upload.name, upload.confirmation_code, upload.attachment_id, upload.size) == (
        "scan.png", "guid-1", "L023", 2048)
    assert upload.extras == {"extra": 1}


def test_toxic_exposure_keeps_only_checked_boxes_with_their_details():
    exposure = parse_toxic_exposure(samples.form526_of(samples.toxic_exposure()[0])["toxicExposure"])
    by_key = {c.key: dict(c.checked) for c in exposure.categories}
    assert by_key["gulfWar1990"] == {
        "iraq": {"startDate": "1991-03-01", "endDate": "1992-01-01"}, "kuwait": {"startDate": "1991-03-15"},
        "atlantis": None,
    }
    assert "qatar" not in by_key["gulfWar1990"]
    assert set(by_key["otherExposures"]) == {"asbestos", "radiation"}
    assert set(by_key["conditions"]) == {"tinnitus"}
    assert [k for k, _ in exposure.free_text] == ["otherHerbicideLocations", "specifyOtherExposures"]
    assert exposure.extras == {}


def test_toxic_exposure_odd_shapes_are_kept_for_display():
    exposure = parse_toxic_exposure({"gulfWar1990": {"iraq": "yes"}, "newThing": [1], "herbicide": {}})
    assert exposure.categories == ()
    assert exposure.extras == {"gulfWar1990": {"iraq": "yes"}, "newThing": [1]}
    assert parse_toxic_exposure("free text").unparsed == "free text"
    assert parse_toxic_exposure(None).is_empty


@pytest.mark.parametrize(
    ("form_json", "auth", "code"),
    [
        ("{", {}, "form_json_invalid"),
        ({"form526": {}}, {}, "form526_missing"),
        (samples.typical_form(), "[]", "auth_headers_invalid"),
        (samples.typical_form(), {"va_eauth_firstName": "A"}, "identity_missing"),
    ],
)
def test_parse_errors(form_json, auth, code):
    with pytest.raises(PackageError) as error:
        parse_submission(samples.submission(form_json, auth))
    assert error.value.code == code


def test_deep_secondaries_are_kept_as_data():
    form = samples.typical_form()
    node = samples.form526_of(form)["disabilities"][0]
    for level in range(8):
        node["secondaryDisabilities"] = [{"name": f"Level {level}"}]
        node = node["secondaryDisabilities"][0]
    view = parse_submission(samples.submission(form, samples.typical_auth()))
    deepest = view.claim.disabilities[0]
    while deepest.secondaries:
        deepest = deepest.secondaries[0]
    assert "secondaryDisabilities" in deepest.extras  # not dropped: shown generically
    assert "Level 7" in json.dumps(deepest.extras)
