"""Package content: evidence attachments, streaming output, 21-0781V2, signature stamps, toxic exposure, BDD."""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import zipfile

import pytest
from pypdf import PdfReader

from include.form526.package.attachments import INVALID_UPLOAD, AttachedEvidence
from include.form526.package.build import build_package
from include.form526.package.evidence import COPY_CHUNK_BYTES, REASON_TEXT, Reason
from tools import gallery, samples


def read_zip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def pdf_text(pdf: bytes) -> str:
    return " ".join(" ".join((p.extract_text() or "").split()) for p in PdfReader(io.BytesIO(pdf)).pages)


class ChunkedOnly(io.BytesIO):
    """A PDF stream that refuses to be read whole."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads: list[int] = []

    def read(self, size: int | None = -1) -> bytes:
        assert size is not None and 0 < size <= COPY_CHUNK_BYTES, "attachment read whole"
        self.reads.append(size)
        return super().read(size)


def uploads_submission(sub_id: int = 31):
    form, auth = samples.with_uploads()
    return samples.submission(form, auth, sub_id=sub_id)


def evidence_outcomes(png_pdf: bytes, record_pdf: bytes) -> list[AttachedEvidence]:
    return [
        AttachedEvidence(0, "L023", None, ChunkedOnly(png_pdf)),
        AttachedEvidence(1, "L451", None, ChunkedOnly(record_pdf)),
        AttachedEvidence(2, "L034", Reason.NOT_FOUND.value, None),
        AttachedEvidence(3, "L451", INVALID_UPLOAD, None),
    ]


@pytest.fixture(scope="module")
def pdfs() -> tuple[bytes, bytes]:
    return gallery.sample_pdf(), gallery.sample_pdf().replace(b"visit note", b"other note")


def test_included_evidence_is_numbered_mapped_and_streamed(pdfs):
    evidence = evidence_outcomes(*pdfs)
    package = build_package(uploads_submission(), evidence)
    assert package.files == ("21-526EZ.pdf", "attachment1.pdf", "attachment2.pdf", "metadata.json", "mappings.json")
    contents = read_zip(package.data)
    assert contents["attachment1.pdf"] == pdfs[0] and contents["attachment2.pdf"] == pdfs[1]  # byte for byte
    assert json.loads(contents["mappings.json"]) == {
        "21-526EZ.pdf": "L533", "attachment1.pdf": "L023", "attachment2.pdf": "L451",
    }
    assert all(item.pdf.reads for item in evidence if item.pdf is not None)
    assert package.size == len(package.data)
    assert package.sha256 == hashlib.sha256(package.data).hexdigest()


def test_numbering_skips_excluded_uploads(pdfs):
    evidence = [
        AttachedEvidence(0, "L023", Reason.CORRUPT.value, None),
        AttachedEvidence(1, "L451", None, io.BytesIO(pdfs[1])),
        AttachedEvidence(2, "L034", None, io.BytesIO(pdfs[0])),
        AttachedEvidence(3, "L451", INVALID_UPLOAD, None),
    ]
    contents = read_zip(build_package(uploads_submission(), evidence).data)
    assert json.loads(contents["mappings.json"]) == {
        "21-526EZ.pdf": "L533", "attachment1.pdf": "L451", "attachment2.pdf": "L034",
    }
    assert contents["attachment1.pdf"] == pdfs[1]


def test_evidence_section_lists_each_upload_with_its_outcome(pdfs):
    text = pdf_text(read_zip(build_package(uploads_submission(), evidence_outcomes(*pdfs)).data)["21-526EZ.pdf"])
    assert "knee_xray_photo.png" in text and "included as attachment1.pdf" in text
    assert "included as attachment2.pdf" in text
    assert " ".join(REASON_TEXT[Reason.NOT_FOUND].split()) in text
    assert REASON_TEXT[Reason.INVALID_UPLOAD].split("(")[0].strip() in text


def test_without_outcomes_uploads_are_listed_as_not_included():
    package = build_package(uploads_submission())
    assert package.files == ("21-526EZ.pdf", "metadata.json", "mappings.json")
    text = pdf_text(read_zip(package.data)["21-526EZ.pdf"])
    assert "uploaded with the claim and are not included in this package" in text
    assert "buddy_statement.pdf" in text


def test_written_to_out_gives_the_same_bytes_and_digest(pdfs):
    in_memory = build_package(uploads_submission(), evidence_outcomes(*pdfs))
    with tempfile.SpooledTemporaryFile(max_size=1024) as out:
        streamed = build_package(uploads_submission(), evidence_outcomes(*pdfs), out=out)
        out.seek(0)
        written = out.read()
    assert streamed.data == b""
    assert written == in_memory.data
    assert (streamed.sha256, streamed.size, streamed.files) == (in_memory.sha256, len(written), in_memory.files)


def test_same_submission_and_evidence_give_the_same_bytes(pdfs):
    first = build_package(uploads_submission(), evidence_outcomes(*pdfs))
    second = build_package(uploads_submission(), evidence_outcomes(*pdfs))
    assert first.data == second.data


@pytest.mark.parametrize(
    "evidence",
    [
        [AttachedEvidence(4, "L451", Reason.CORRUPT.value, None)],  # no such upload
        [AttachedEvidence(0, "L023", Reason.CORRUPT.value, None)] * 2,  # two outcomes for one upload
        [AttachedEvidence(0, "L023", None, None)],  # included without a PDF
    ],
)
def test_contradictory_outcomes_are_a_caller_error(evidence):
    with pytest.raises(ValueError):
        build_package(uploads_submission(), evidence)


def test_form0781v2_rendered_mapped_and_ordered():
    form, auth = samples.ancillary_forms()
    form["form0781"]["form0781v2"] = samples.form0781v2()[0]["form0781"]["form0781v2"]
    package = build_package(samples.submission(form, auth, sub_id=56))
    assert package.files == (
        "21-526EZ.pdf", "21-4142.pdf", "21-0781.pdf", "21-0781V2.pdf", "21-8940.pdf", "metadata.json", "mappings.json",
    )
    contents = read_zip(package.data)
    assert json.loads(contents["mappings.json"])["21-0781V2.pdf"] == "L228"
    text = pdf_text(contents["21-0781V2.pdf"])
    for expected in (
        "VA Form 21-0781V2", "Traumatic events related to combat Yes", "Convoy hit by an IED near the airfield.",
        "Episodes of depression, panic attacks, or anxiety Panic attacks since 2005.",
        "Reports from civilian police officers Yes", "VA medical centers (VAMC) Yes",
        "Example VA Medical Center", "Nightmares most nights.", "Future field", "Some new key kept and labelled",
    ):
        assert expected in text, expected


def test_every_ancillary_pdf_carries_the_signature_stamp():
    form, auth = samples.ancillary_forms()
    form["form0781"]["form0781a"] = {"incidents": [{"incidentDescription": "Assault."}]}
    form["form0781"]["form0781v2"] = {"eventTypes": {"combat": True}}
    contents = read_zip(build_package(samples.submission(form, auth)).data)
    ancillary = [n for n in contents if n.endswith(".pdf") and n != "21-526EZ.pdf"]
    assert ancillary == ["21-4142.pdf", "21-0781.pdf", "21-0781a.pdf", "21-0781V2.pdf", "21-8940.pdf"]
    for name in ancillary:
        text = pdf_text(contents[name])
        assert "Signed electronically on VA.gov by Sample Veteran on 2023-03-14 15:09 UTC" in text, name
        assert "identity-verified account" in text, name


def test_toxic_exposure_shows_checked_places_with_readable_labels_and_dates():
    form, auth = samples.toxic_exposure()
    text = pdf_text(read_zip(build_package(samples.submission(form, auth)).data)["21-526EZ.pdf"])
    section = text[text.index("4. Toxic exposure"):text.index("5. Claimed disabilities")]
    for expected in (
        "Gulf War (1990 or later) Iraq from 1991-03-01 to 1992-01-01", "Kuwait from 1991-03-15",
        "Atlantis No dates given", "Gulf War (2001 or later) Djibouti No dates given",
        "Vietnam or the waters in or off of Vietnam from 1969-01-01 to 1970-06-30",
        "Asbestos from 1975-05-01 to 1979-05-01", "Radiation No dates given",
        "A depot near Example Bay", "Burn pit smoke", "Tinnitus Yes",
    ):
        assert expected in section, expected
    for unchecked in ("Qatar", "1991-02-12", "Mustard", "Left knee", "None of these"):
        assert unchecked not in section, unchecked


def test_bdd_claim_says_the_instruction_sheet_is_not_included():
    form, auth = samples.bdd_claim()
    pdf = read_zip(build_package(samples.submission(form, auth)).data)["21-526EZ.pdf"]
    first_page = " ".join((PdfReader(io.BytesIO(pdf)).pages[0].extract_text() or "").split())
    assert "BDD instruction sheet (document type L023)" in first_page
    assert "This package does not include that sheet." in first_page
    typical = read_zip(build_package(samples.submission(*samples.ancillary_forms())).data)
    assert "BDD instruction sheet" not in pdf_text(typical["21-526EZ.pdf"])


def test_full_account_number_only_in_the_526ez():
    form, auth = samples.ancillary_forms()
    account = samples.form526_of(form)["directDeposit"]["accountNumber"]
    contents = read_zip(build_package(samples.submission(form, auth)).data)
    assert account in pdf_text(contents["21-526EZ.pdf"])
    for name, payload in contents.items():
        if name != "21-526EZ.pdf":
            assert account not in (pdf_text(payload) if name.endswith(".pdf") else payload.decode()), name
