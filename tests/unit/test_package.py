"""build_package end to end on realistic samples: content, determinism, zip layout, masking, footers."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader

from include.form526.package.build import SourceSubmission, build_package
from tools import samples

ROOT = Path(__file__).resolve().parents[2]


def read_zip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def page_texts(pdf: bytes) -> list[str]:
    """Text of each page, whitespace collapsed (wrapped lines join with a space)."""
    return [" ".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(pdf)).pages]


def pdf_text(pdf: bytes) -> str:
    return " ".join(page_texts(pdf))


@pytest.fixture(scope="module")
def typical() -> tuple[dict, dict, SourceSubmission]:
    form, auth = samples.typical_form(), samples.typical_auth()
    return form, auth, samples.submission(form, auth, sub_id=4242)


@pytest.fixture(scope="module")
def typical_text(typical) -> str:
    return pdf_text(read_zip(build_package(typical[2]).data)["21-526EZ.pdf"])


def test_header_and_identification(typical_text):
    for expected in (
        "VA Form 21-526EZ",
        "Application for Disability Compensation and Related Compensation Benefits",
        "Regenerated copy for manual processing by VBA — original submission failed electronically",
        "Submission ID 4242",
        "2023-03-14 15:09 UTC",
        "Sample Veteran",
        "000-12-3456",  # full SSN by design: VBA keys the claim from this PDF
        "000112222",
        "1980-01-31",
        "123 Example Street",
        "Springfield, VA 22150-1234",
        "(555) 555-0100",
        "sample.veteran@example.com",
    ):
        assert expected in typical_text, expected


def test_every_disability_secondary_treatment_and_period_appears(typical, typical_text):
    form526 = samples.form526_of(typical[0])
    for disability in form526["disabilities"]:
        assert disability["name"] in typical_text
        assert disability["classificationCode"] in typical_text
        assert disability["disabilityActionType"] in typical_text
        assert disability["serviceRelevance"] in typical_text
        for secondary in disability.get("secondaryDisabilities", []):
            assert f"{secondary['name']} secondary to {disability['name']}" in typical_text
    assert "Rated disability ID 1100583" in typical_text
    assert "Diagnostic code 6260" in typical_text
    for treatment in form526["treatments"]:
        assert treatment["center"]["name"] in typical_text
        assert ", ".join(treatment["treatedDisabilityNames"]) in typical_text
        assert "Start date 2009-07" in typical_text
    for period in form526["serviceInformation"]["servicePeriods"]:
        assert f"Branch of service {period['serviceBranch']}" in typical_text
        assert f"Active duty from {period['activeDutyBeginDate']}" in typical_text
        assert f"Active duty to {period['activeDutyEndDate']}" in typical_text
    assert "Example Reserve Unit" in typical_text


def test_uploads_listed_as_not_included(typical_text):
    assert "private_medical_record.pdf" in typical_text
    assert "L451" in typical_text
    assert "00000000-0000-4000-8000-00000000abcd" in typical_text
    assert "uploaded with the claim and are not included in this package" in typical_text
    assert "00000000abcd not included" in typical_text


def test_signature_uses_claim_date_or_created_at():
    form, auth = samples.missing_claim_date()
    text = pdf_text(read_zip(build_package(samples.submission(form, auth)).data)["21-526EZ.pdf"])
    assert "Date signed 2023-03-14" in text
    assert "not in form; submission date used" in text


def test_markup_in_user_text_appears_literally():
    form, auth = samples.awkward_names()
    package = build_package(samples.submission(form, auth))
    text = pdf_text(read_zip(package.data)["21-526EZ.pdf"])
    assert "<b>Knee</b> & back — “quoted” pain" in text
    assert "<script>alert(1)</script> and &amp; literally" in text
    assert "Zoë-Łucja Ő'Néill Müller-Þórsdóttir d’Ærø" in text
    meta = json.loads(read_zip(package.data)["metadata.json"])
    assert meta["veteranFirstName"] == "Zoe-Lucja ONeill"
    assert meta["veteranLastName"] == "Muller-Thorsdottir dAEro"


def test_direct_deposit_printed_in_full(typical, typical_text):
    """Product-owner decision: VBA sets up payment from the 21-526EZ, so nothing is masked there."""
    deposit = samples.form526_of(typical[0])["directDeposit"]
    assert f"Account number {deposit['accountNumber']}" in typical_text
    assert f"Routing number {deposit['routingNumber']}" in typical_text
    assert "Account type CHECKING" in typical_text and "Bank name EXAMPLE FEDERAL CREDIT UNION" in typical_text
    assert "*" not in typical_text


def test_footer_on_every_page():
    form, auth = samples.long_text()
    pages = page_texts(read_zip(build_package(samples.submission(form, auth, sub_id=777)).data)["21-526EZ.pdf"])
    assert len(pages) > 2
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in text
        assert "Submission 777" in text


def test_zip_layout_metadata_and_mappings(typical):
    package = build_package(typical[2])
    assert package.submission_id == 4242
    assert package.files == ("21-526EZ.pdf", "metadata.json", "mappings.json")
    assert package.sha256 == hashlib.sha256(package.data).hexdigest()
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        assert archive.testzip() is None
        assert tuple(archive.namelist()) == package.files
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    contents = read_zip(package.data)
    assert contents["21-526EZ.pdf"].startswith(b"%PDF-")
    meta = json.loads(contents["metadata.json"])
    assert meta == {
        "veteranFirstName": "Sample", "veteranLastName": "Veteran", "fileNumber": "000123456",
        "zipCode": "22150-1234", "source": "va.gov backup submission", "docType": "21-526EZ",
        "businessLine": "CMP", "claimDate": "2023-03-14T15:09:26Z", "forceOfframp": "true",
    }
    assert list(meta) == sorted(meta)
    assert json.loads(contents["mappings.json"]) == {"21-526EZ.pdf": "L533"}


def test_ancillary_forms_rendered_and_mapped():
    form, auth = samples.ancillary_forms()
    package = build_package(samples.submission(form, auth, sub_id=55))
    assert package.files == (
        "21-526EZ.pdf", "21-4142.pdf", "21-0781.pdf", "21-8940.pdf", "metadata.json", "mappings.json",
    )  # form0781a is null, so it has no PDF
    contents = read_zip(package.data)
    assert json.loads(contents["mappings.json"]) == {
        "21-526EZ.pdf": "L533", "21-4142.pdf": "L107", "21-0781.pdf": "L228", "21-8940.pdf": "L149",
    }
    text_4142 = pdf_text(contents["21-4142.pdf"])
    assert "VA Form 21-4142" in text_4142
    assert "Example Orthopedic Clinic" in text_4142
    assert "Provider facility 1" in text_4142
    assert "Treatment date range 1 › From 2010-01-01" in text_4142
    assert "Veteran full name" in text_4142 and "Last Veteran" in text_4142
    assert "Convoy came under fire." in pdf_text(contents["21-0781.pdf"])
    for name in ("21-4142.pdf", "21-0781.pdf", "21-8940.pdf"):
        pages = page_texts(contents[name])
        assert all(f"Page {n} of {len(pages)}" in p and "Submission 55" in p for n, p in enumerate(pages, 1))


def test_form0781a_gets_its_own_pdf():
    form, auth = samples.ancillary_forms()
    form["form0781"]["form0781a"] = {"incidents": [{"incidentDescription": "Assault."}]}
    package = build_package(samples.submission(form, auth))
    assert "21-0781a.pdf" in package.files
    assert json.loads(read_zip(package.data)["mappings.json"])["21-0781a.pdf"] == "L229"


def test_package_is_byte_identical_across_builds(typical):
    first, second = build_package(typical[2]), build_package(typical[2])
    assert first.data == second.data
    assert first.sha256 == second.sha256


def test_package_is_byte_identical_across_processes(typical):
    script = (
        "from tools import samples as s; from include.form526.package.build import build_package; "
        "print(build_package(s.submission(s.typical_form(), s.typical_auth(), sub_id=4242)).sha256)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "123"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == build_package(typical[2]).sha256


def test_different_submissions_differ(typical):
    form, auth, _ = typical
    assert build_package(samples.submission(form, auth, sub_id=1)).sha256 != build_package(
        samples.submission(form, auth, sub_id=2)
    ).sha256


def test_zip_entries_carry_their_sizes_in_the_local_header():
    """No data descriptors (general purpose flag bit 3): Java's streaming ZipInputStream refuses them for
    stored entries, and the PDFs are stored."""
    import io as _io
    import struct
    import tempfile
    import zipfile as _zipfile

    pkg = build_package(samples.submission(samples.typical_form(), samples.typical_auth()))
    with tempfile.SpooledTemporaryFile() as out:
        spooled = build_package(samples.submission(samples.typical_form(), samples.typical_auth()), out=out)
        out.seek(0)
        assert out.read() == pkg.data and spooled.sha256 == pkg.sha256 and spooled.size == len(pkg.data)
    with _zipfile.ZipFile(_io.BytesIO(pkg.data)) as z:
        for info in z.infolist():
            flags = struct.unpack_from("<H", pkg.data, info.header_offset + 6)[0]
            assert not flags & 0x08, info.filename
