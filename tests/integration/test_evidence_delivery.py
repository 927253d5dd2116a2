"""The veteran's evidence in the package: form_attachments rows in PostgreSQL, objects on an S3 server over
HTTP (vets-api's upload bucket), the backlog DAG under dag.test()."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import datetime

import psycopg
import pytest
from PIL import Image
from pypdf import PdfReader
from reportlab.pdfgen import canvas

from include.form526.source.attachments import EVIDENCE_PREFIX
from include.form526.source.selection import apply_source_schema
from tests import helpers as h
from tools import samples
from tools.devservices import MotoS3

DAG_ID = "form526_backlog_resubmission"
EVIDENCE_BUCKET = "vets-api-evidence"
CREATED = datetime(2024, 1, 2, 3, 4, 5)


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (30, 30, 200)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def pdf(pages: int = 2) -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, invariant=1)
    for i in range(pages):
        c.drawString(72, 720, f"Private medical record page {i + 1}")
        c.showPage()
    c.save()
    return buf.getvalue()


def insert_submission(conn, sid: int, uploads: list[dict], files: dict[str, tuple[str, bytes | None]],
                      services, *, attachment_type: str = "SupportingEvidenceAttachment") -> None:
    """A failed submission (no claim id, no backup, old) with these uploads; each upload's file under its guid."""
    form = samples.typical_form()
    form["form526_uploads"] = uploads
    h.insert_submission(conn, sid, form, samples.typical_auth(), created_at=CREATED)
    s3 = services.boto3_client()
    for guid, (name, body) in files.items():
        conn.execute("INSERT INTO form_attachments (guid, type, file_data, created_at, updated_at)"
                     " VALUES (%s, %s, %s, now(), now())", (guid, attachment_type, json.dumps({"filename": name})))
        if body is not None:
            s3.put_object(Bucket=EVIDENCE_BUCKET, Key=f"{EVIDENCE_PREFIX}/{guid}/{name}", Body=body)


def upload(guid: str, name: str, attachment_id: str) -> dict:
    return {"confirmationCode": guid, "name": name, "attachmentId": attachment_id, "size": 100}


@pytest.fixture
def source(services, airflow_db):
    h.reset_databases(services)
    h.empty_bucket(services)
    h.empty_bucket(services, EVIDENCE_BUCKET)
    with psycopg.connect(services.source_dsn, autocommit=True) as conn:
        apply_source_schema(conn)
        yield conn


def package(services, sid: int) -> zipfile.ZipFile:
    keys = [k for k in h.list_keys(services) if k.endswith(f"/{sid}.zip")]
    assert len(keys) == 1, keys
    return zipfile.ZipFile(io.BytesIO(h.get_bytes(services, keys[0])))


def test_four_kinds_of_evidence_become_four_mapped_pdfs(source, services):
    g = [str(uuid.uuid4()) for _ in range(4)]
    uploads = [upload(g[0], "knee-xray.png", "L015"), upload(g[1], "photo.jpg", "L014"),
               upload(g[2], "records.pdf", "L070"), upload(g[3], "statement.txt", "L023")]
    files = {g[0]: ("knee-xray.png", png()), g[1]: ("photo.jpg", jpeg()), g[2]: ("records.pdf", pdf(3)),
             g[3]: ("statement.txt", "My statement in support of claim.\nSecond line é.".encode())}
    insert_submission(source, 41, uploads, files, services)

    _, state, tis, _ = h.run_dag(DAG_ID, {"batch_size": 10})
    assert state == "success", tis
    z = package(services, 41)
    attachments = sorted(n for n in z.namelist() if n.startswith("attachment"))
    assert attachments == ["attachment1.pdf", "attachment2.pdf", "attachment3.pdf", "attachment4.pdf"]
    mappings = json.loads(z.read("mappings.json"))
    assert [mappings[n] for n in attachments] == ["L015", "L014", "L070", "L023"]
    pages = [len(PdfReader(io.BytesIO(z.read(n))).pages) for n in attachments]
    assert pages == [1, 1, 3, 1]
    assert z.read("attachment3.pdf") == files[g[2]][1], "a PDF passes through unchanged"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(z.read("attachment4.pdf"))).pages)
    assert "My statement in support of claim." in text
    rows, summary = h.report_of(services, _run_key(services))
    row = next(r for r in rows if r["submission_id"] == "41")
    assert (row["attachments"], row["attachments_missing"]) == ("4", "0")
    assert summary["attachments"] == 4 and summary["missing_evidence"] == {}


def test_missing_and_corrupt_evidence_is_listed_and_counted_but_never_blocks_the_claim(source, services):
    g = [str(uuid.uuid4()) for _ in range(5)]
    uploads = [upload(g[0], "records.pdf", "L070"), upload(g[1], "gone.pdf", "L070"),
               upload(g[2], "broken.pdf", "L070"), upload(g[3], "no-row.png", "L015"),
               upload(g[4], "other-form.png", "L015"), {"name": "no confirmation code", "attachmentId": "L015"}]
    insert_submission(source, 42, uploads, {g[0]: ("records.pdf", pdf(1)), g[1]: ("gone.pdf", None),
                                            g[2]: ("broken.pdf", b"%PDF-1.4\n garbage that is no PDF")}, services)
    insert_submission(source, 43, [], {g[4]: ("other-form.png", png())}, services,
                      attachment_type="Form1010cgAttachment")

    _, state, tis, _ = h.run_dag(DAG_ID, {"batch_size": 10})
    assert state == "success", tis
    z = package(services, 42)
    assert sorted(n for n in z.namelist() if n.startswith("attachment")) == ["attachment1.pdf"]
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(z.read("21-526EZ.pdf"))).pages)
    assert "attachment1.pdf" in text
    assert "not included" in text.lower()
    rows, summary = h.report_of(services, _run_key(services))
    row = next(r for r in rows if r["submission_id"] == "42")
    assert (row["status"], row["attachments"], row["attachments_missing"]) == ("uploaded", "1", "5")
    assert summary["missing_evidence"] == {"evidence_corrupt": 1, "evidence_invalid_upload": 1,
                                           "evidence_not_found": 3}
    report_text = json.dumps(summary) + json.dumps(rows)
    for name in ("gone.pdf", "broken.pdf", "no-row.png", "other-form.png", g[1]):
        assert name not in report_text, "reports carry codes, never file names or guids"


def test_an_evidence_store_that_is_down_fails_the_batch_and_the_retry_delivers_once(source, services, monkeypatch):
    from include.form526.source.attachments import EvidenceStore
    from tools.devservices import aws_conn_json

    own = MotoS3().start()  # vets-api's upload bucket on a server of its own, so it can go down
    try:
        client = own_client(own)
        client.create_bucket(Bucket=EVIDENCE_BUCKET)
        monkeypatch.setenv("AIRFLOW_CONN_FORM526_EVIDENCE", aws_conn_json(own.endpoint_url, "testing", "testing"))
        g = str(uuid.uuid4())
        insert_submission(source, 44, [upload(g, "records.pdf", "L070")], {g: ("records.pdf", None)}, services)
        client.put_object(Bucket=EVIDENCE_BUCKET, Key=f"{EVIDENCE_PREFIX}/{g}/records.pdf", Body=pdf(2))

        original = EvidenceStore.open
        calls = {"n": 0}

        def outage(self, key, max_bytes):
            calls["n"] += 1
            if calls["n"] == 1:  # the first attempt finds the store gone: connections are refused
                own.stop()
                try:
                    return original(self, key, max_bytes)
                finally:
                    own.start()  # same port, same objects: back for the retry
            return original(self, key, max_bytes)

        monkeypatch.setattr(EvidenceStore, "open", outage)
        _, state, tis, _ = h.run_dag(DAG_ID, {"batch_size": 10})
    finally:
        own.stop()
    assert state == "success", tis
    assert calls["n"] == 2, "the first attempt failed on the store, the retry fetched again"
    z = package(services, 44)
    assert len(PdfReader(io.BytesIO(z.read("attachment1.pdf"))).pages) == 2
    with psycopg.connect(services.ledger_dsn) as conn:
        assert conn.execute("SELECT state, attachments FROM form526_deliveries WHERE submission_id = 44"
                            ).fetchone() == ("uploaded", 1)


def own_client(server: MotoS3):
    import boto3

    return boto3.client("s3", endpoint_url=server.endpoint_url, aws_access_key_id="testing",
                        aws_secret_access_key="testing", region_name="us-east-1")


def _run_key(services) -> str:
    with psycopg.connect(services.ledger_dsn) as conn:
        return conn.execute("SELECT run_key FROM form526_runs ORDER BY started_at DESC LIMIT 1").fetchone()[0]
