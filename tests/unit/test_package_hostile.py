"""Hostile inputs: each ends as a valid package or a PackageError with a specific, PII-free code."""

from __future__ import annotations

import copy
import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from pypdf import PdfReader
from reportlab.platypus import SimpleDocTemplate

from include.form526.package.build import ERROR_CODES, PackageError, build_package
from tools import samples

FIRST, LAST, SSN, BIRLS, PID = "Quintavius", "Zebulonski", "000987654", "000556666", "600998877"
PII = (FIRST, LAST, SSN, "000-98-7654", BIRLS, PID, "1970-07-04", "987 Hostile Lane")


def auth(**overrides: Any) -> dict[str, Any]:
    headers = samples.typical_auth()
    headers.update(
        va_eauth_firstName=FIRST, va_eauth_lastName=LAST, va_eauth_pnid=SSN, va_eauth_birlsfilenumber=BIRLS,
        va_eauth_pid=PID, va_eauth_birthdate="1970-07-04",
    )
    headers.update(overrides)
    return headers


def form(edit: Callable[[dict[str, Any]], Any] | None = None) -> dict[str, Any]:
    """The typical form with the PII address, after `edit(form526.form526)`."""
    data = samples.typical_form()
    inner = samples.form526_of(data)
    inner["veteran"]["currentMailingAddress"]["addressLine1"] = "987 Hostile Lane"
    if edit is not None:
        edit(inner)
    return data


def top(edit: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    """The typical form after `edit(form_json)`."""
    data = form()
    edit(data)
    return data


def setting(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """An edit that sets a dotted path (list indexes as numbers) inside form526.form526."""
    def edit(inner: dict[str, Any]) -> None:
        keys = path.split(".")
        target: Any = inner
        for key in keys[:-1]:
            target = target[int(key)] if isinstance(target, list) else target[key]
        last = keys[-1]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
    return edit


def text_of(package_data: bytes, name: str = "21-526EZ.pdf") -> tuple[str, int]:
    with zipfile.ZipFile(io.BytesIO(package_data)) as archive:
        pdf = archive.read(name)
    pages = PdfReader(io.BytesIO(pdf)).pages
    return " ".join(" ".join((p.extract_text() or "").split()) for p in pages), len(pages)


LONG_RELEVANCE = ("Constant pain after the fall. " * 700)[:20_000] + " END-OF-LONG-TEXT"
NESTED: Any = "bottom"
for _ in range(40):
    NESTED = {"level": NESTED}

# (id, form_json (dict, raw str or None), auth headers (dict, raw str or None), expected)
# expected: an error code, or a list of strings the 526EZ text must contain.
CASES: list[tuple[str, Any, Any, str | list[str]]] = [
    # --- form_json itself
    ("form-not-json", "{not json", auth(), "form_json_invalid"),
    ("form-json-array", "[1, 2, 3]", auth(), "form_json_invalid"),
    ("form-json-string", json.dumps("a string"), auth(), "form_json_invalid"),
    ("form-json-null", "null", auth(), "form_json_invalid"),
    ("form-none", None, auth(), "form_json_invalid"),
    ("form-empty", "", auth(), "form_json_invalid"),
    ("form-deeply-nested", "[" * 100_000 + "]" * 100_000, auth(), "form_json_too_deep"),
    ("form526-absent", {"form526_uploads": []}, auth(), "form526_missing"),
    ("form526-null", {"form526": None}, auth(), "form526_missing"),
    ("form526-inner-absent", {"form526": {}}, auth(), "form526_missing"),
    ("form526-inner-list", {"form526": {"form526": []}}, auth(), "form526_missing"),
    ("form526-inner-string", {"form526": {"form526": "x"}}, auth(), "form526_missing"),
    # --- auth headers
    ("auth-not-json", form(), "{'va_eauth_firstName': 1", "auth_headers_invalid"),
    ("auth-json-array", form(), "[]", "auth_headers_invalid"),
    ("auth-none", form(), None, "auth_headers_invalid"),
    ("auth-empty-object", form(), {}, "identity_missing"),
    ("auth-bogus-null", form(), {"bogus": None}, "identity_missing"),
    ("auth-no-last-name", form(), auth(va_eauth_lastName=""), "identity_missing"),
    ("auth-name-null", form(), auth(va_eauth_firstName=None), "identity_missing"),
    ("auth-name-only-cjk", form(), auth(va_eauth_firstName="山田"), "identity_missing"),
    ("auth-ssn-7-digits", form(), auth(va_eauth_pnid="0009876"), "file_number_invalid"),
    ("auth-no-file-number", form(), auth(va_eauth_pnid="", va_eauth_birlsfilenumber=""), "file_number_invalid"),
    # --- missing sections, empty lists, nulls
    ("minimal-form526", {"form526": {"form526": {}}}, auth(), ["Not provided in this submission", "Page 1 of"]),
    ("veteran-null", form(setting("veteran", None)), auth(), ["Mailing address Not provided"]),
    ("address-null", form(setting("veteran.currentMailingAddress", None)), auth(), ["Mailing address Not provided"]),
    ("sections-null", form(lambda f: f.update(
        disabilities=None, treatments=None, serviceInformation=None, directDeposit=None, servicePay=None,
    )), auth(), ["No disabilities were listed.", "No treatment was listed."]),
    ("lists-empty", form(lambda f: f.update(disabilities=[], treatments=[])), auth(), ["No disabilities were listed."]),
    ("periods-empty", form(setting("serviceInformation.servicePeriods", [])), auth(), ["Service periods Not provided"]),
    ("treatment-center-null", form(setting("treatments.0.center", None)), auth(), ["Treatment center Not provided"]),
    ("uploads-null", top(lambda d: d.update(form526_uploads=None)), auth(), ["VA Form 21-526EZ"]),
    ("ancillary-odd-shapes", top(lambda d: d.update(form4142="yes", form0781=[1], form8940={"deep": NESTED})),
     auth(), ["VA Form 21-526EZ"]),
    # --- wrong types
    ("numbers-for-strings", form(lambda f: (
        setting("disabilities.0.name", 12345)(f), setting("disabilities.0.classificationCode", 8997)(f),
        setting("veteran.currentMailingAddress.zipFirstFive", 22150)(f),
        setting("directDeposit.accountNumber", 123456789)(f),
        setting("veteran.daytimePhone", {"areaCode": 555, "phoneNumber": 5550100})(f),
    )), auth(), ["Condition 1 12345", "Account number 123456789", "(555) 555-0100"]),
    ("list-for-object", form(lambda f: f.update(veteran=[], serviceInformation=[1, 2], directDeposit=["x"])),
     auth(), ["6. Service information"]),
    ("object-for-list", form(setting("disabilities", {"name": "Lonely knee", "disabilityActionType": "NEW"})),
     auth(), ["Condition 1 Lonely knee"]),
    ("odd-list-items", form(setting("disabilities", [None, "Plain string knee", 7, {"name": None}])), auth(),
     ["Plain string knee", "(unnamed condition)"]),
    ("secondaries-not-a-list", form(setting("disabilities.0.secondaryDisabilities", {"name": "Solo hip"})), auth(),
     ["Solo hip secondary to Left knee strain"]),
    ("nan-and-infinity", form(lambda f: f.update(servicePay=float("nan"), bddQualified=float("inf"))), auth(),
     ["nan"]),
    # --- dates in wrong formats
    ("dates-wrong-format", form(lambda f: (
        setting("serviceInformation.servicePeriods.0.activeDutyBeginDate", "31/12/2001")(f),
        setting("treatments.0.startDate", {"year": "abc", "month": 13})(f),
        setting("claimDate", "yesterday")(f),
    )), auth(va_eauth_birthdate="not a date"), ["31/12/2001", "abc-13", "not a date", "Date signed 2023-03-14"]),
    # --- size
    ("relevance-20000-chars", form(setting("disabilities.0.serviceRelevance", LONG_RELEVANCE)), auth(),
     ["END-OF-LONG-TEXT"]),
    ("word-20000-chars", form(setting("overflowText", "x" * 20_000 + " END-OF-WORD")), auth(), ["END-OF-WORD"]),
    ("newlines-5000", form(setting("overflowText", "line\n" * 5_000 + "LAST-LINE")), auth(), ["LAST-LINE"]),
    ("long-value-in-table", form(setting("treatments.0.center.name", "Clinic " * 600 + "CENTER-END")), auth(),
     ["CENTER-END"]),
    ("long-upload-name", top(lambda d: d.update(form526_uploads=[{"name": "n" * 3000 + " UPLOAD-END"}])), auth(),
     ["UPLOAD-END"]),
    ("disabilities-200", samples.many_disabilities(200)[0], auth(), ["Condition number 1 ", "Condition number 200"]),
    # --- characters
    ("emoji-and-cjk", form(setting("disabilities.0.name", "膝の痛み 🦄 knee")), auth(),
     ["\ufffd\ufffd\ufffd\ufffd \ufffd knee"]),
    ("markup-in-names", form(setting("disabilities.0.name", "<b>Knee</b> & <i>back</i> &amp; <br/>")),
     auth(va_eauth_firstName="<b>Quintavius</b>", va_eauth_lastName="Zebulonski & <font size=40>Co</font>"),
     ["<b>Knee</b> & <i>back</i> &amp; <br/>", "<b>Quintavius</b> Zebulonski & <font size=40>Co</font>"]),
    ("markup-unbalanced", form(setting("disabilities.0.serviceRelevance", "</para><para> <<>> &#0; &bogus;")),
     auth(), ["</para><para> <<>> &#0; &bogus;"]),
    ("control-characters", form(setting("disabilities.0.name", "Knee\x00\x07\x1b pain\u202e")), auth(),
     ["Knee pain"]),
    ("lone-surrogate", json.dumps(form()).replace("Left knee strain", "Left \\ud800 knee"), auth(),
     ["Left \ufffd knee"]),
]


@pytest.mark.parametrize(("case_id", "form_json", "auth_headers", "expected"), CASES, ids=[c[0] for c in CASES])
def test_hostile_input(case_id: str, form_json: Any, auth_headers: Any, expected: str | list[str]) -> None:
    sub = samples.submission(copy.deepcopy(form_json), copy.deepcopy(auth_headers), sub_id=9090)
    if isinstance(expected, str):
        assert expected in ERROR_CODES
        with pytest.raises(PackageError) as error:
            build_package(sub)
        assert error.value.code == expected
        for secret in PII:
            assert secret.lower() not in error.value.detail.lower()
            assert secret.lower() not in str(error.value).lower()
        # no chained exception (e.g. a JSONDecodeError quoting the input) is shown with it
        assert error.value.__cause__ is None
        assert error.value.__context__ is None or error.value.__suppress_context__
        return
    package = build_package(sub)
    text, page_count = text_of(package.data)
    assert f"Page {page_count} of {page_count}" in text
    assert "\x00" not in text
    for fragment in expected:
        assert fragment in text, fragment
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        assert archive.testzip() is None
        for name in package.files:
            if name.endswith(".pdf"):
                PdfReader(io.BytesIO(archive.read(name)))


def test_long_relevance_splits_across_pages() -> None:
    long_form = form(setting("disabilities.0.serviceRelevance", LONG_RELEVANCE))
    package = build_package(samples.submission(long_form, auth()))
    _, pages = text_of(package.data)
    _, typical_pages = text_of(build_package(samples.submission(form(), auth())).data)
    assert pages >= typical_pages + 3


def test_unexpected_reportlab_failure_becomes_render_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(self, *args, **kwargs):
        raise ValueError(f"cannot draw {FIRST} {LAST} {SSN}")

    monkeypatch.setattr(SimpleDocTemplate, "build", explode)
    with pytest.raises(PackageError) as error:
        build_package(samples.submission(form(), auth()))
    assert error.value.code == "render_failed"
    assert "ValueError" in error.value.detail
    for secret in (FIRST, LAST, SSN):
        assert secret not in error.value.detail and secret not in str(error.value)
    assert error.value.__suppress_context__


def test_error_codes_are_the_documented_ones() -> None:
    documented = {
        "form_json_invalid", "form_json_too_large", "form_json_too_deep", "form526_missing", "auth_headers_invalid",
        "identity_missing", "file_number_invalid", "render_failed", "package_unexpected",
    }
    assert documented == ERROR_CODES
