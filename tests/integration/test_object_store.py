"""S3 writes: encryption, end-to-end SHA-256 confirmation, presigning (include/form526/delivery/object_store.py)."""

from __future__ import annotations

import hashlib

import pytest

from include.form526.delivery.object_store import Encryption, ObjectStore, UploadNotConfirmed
from tests import helpers as h


@pytest.mark.integration
def test_put_confirmed_against_s3_over_http(services):
    store = ObjectStore(services.boto3_client())
    data = b"PK" + b"x" * 5000
    sha = hashlib.sha256(data).hexdigest()
    store.put_confirmed(h.BUCKET, "probe/confirmed.zip", data, content_type="application/zip", sha256_hex=sha)
    assert store.matches(h.BUCKET, "probe/confirmed.zip", len(data), sha)
    assert not store.matches(h.BUCKET, "probe/confirmed.zip", len(data) + 1, sha)
    assert store.head(h.BUCKET, "probe/missing.zip") is None
    etags = store.list_etags(h.BUCKET, "probe/")
    assert etags["probe/confirmed.zip"] == (len(data), hashlib.md5(data).hexdigest())


class FakeClient:
    def __init__(self, put_answer: dict, head_answer: dict | None = None):
        self.put_answer, self.head_answer, self.calls = put_answer, head_answer, []

    def put_object(self, **kw):
        self.calls.append(("put", kw))
        return self.put_answer

    def head_object(self, **kw):
        self.calls.append(("head", kw))
        return self.head_answer


def test_a_wrong_checksum_in_the_answer_is_not_a_delivery():
    store = ObjectStore(FakeClient({"ChecksumSHA256": "AAAA"}))
    with pytest.raises(UploadNotConfirmed):
        store.put_confirmed("b", "k", b"data", content_type="x", sha256_hex=hashlib.sha256(b"data").hexdigest())


def test_a_store_without_checksums_is_asked_with_head():
    data = b"data"
    sha = hashlib.sha256(data).hexdigest()
    import base64

    good = FakeClient({}, {"ContentLength": 4, "ChecksumSHA256": base64.b64encode(bytes.fromhex(sha)).decode()})
    ObjectStore(good).put_confirmed("b", "k", data, content_type="x", sha256_hex=sha)
    assert [c[0] for c in good.calls] == ["put", "head"]
    bad = FakeClient({}, {"ContentLength": 3})
    with pytest.raises(UploadNotConfirmed):
        ObjectStore(bad).put_confirmed("b", "k", data, content_type="x", sha256_hex=sha)


def test_encryption_arguments():
    assert Encryption().extra_args == {"ServerSideEncryption": "AES256"}
    assert Encryption("alias/k").extra_args == {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/k"}
    client = FakeClient({})
    ObjectStore(client, Encryption("alias/k")).put("b", "k", b"x", content_type="text/csv")
    assert client.calls[0][1]["SSEKMSKeyId"] == "alias/k" and client.calls[0][1]["ChecksumAlgorithm"] == "SHA256"


@pytest.mark.parametrize("seconds", [0, 7 * 24 * 3600 + 1])
def test_presign_expiry_is_bounded(seconds):
    with pytest.raises(ValueError):
        ObjectStore(FakeClient({})).presign("b", "k", seconds)


@pytest.mark.integration
def test_a_package_over_the_threshold_goes_up_in_parts_and_is_confirmed(services):
    import hashlib
    import io
    import random

    store = ObjectStore(services.boto3_client(), multipart_threshold=5 * 1024 * 1024, part_size=5 * 1024 * 1024)
    body = random.Random(3).randbytes(12 * 1024 * 1024)  # three parts: 5 + 5 + 2 MiB
    sha = hashlib.sha256(body).hexdigest()
    stored = store.put_file_confirmed(h.BUCKET, "mp/pkg.zip", io.BytesIO(body), size=len(body), sha256_hex=sha,
                                      content_type="application/zip")
    assert stored.etag.endswith("-3") and stored.checksum_sha256.endswith("-3")
    # what reconcile relies on: the listing shows the ETag recorded, and a HEAD confirms the recorded checksum
    assert store.list_etags(h.BUCKET, "mp/")["mp/pkg.zip"] == (len(body), stored.etag)
    assert store.matches(h.BUCKET, "mp/pkg.zip", len(body), sha, stored.checksum_sha256)
    assert store.matches_file(h.BUCKET, "mp/pkg.zip", io.BytesIO(body), size=len(body), sha256_hex=sha)
    assert services.boto3_client().get_object(Bucket=h.BUCKET, Key="mp/pkg.zip")["Body"].read() == body
