"""S3 writes with server-side encryption and an end-to-end SHA-256 check.

Wraps a boto3 S3 client (the operator gets it from Airflow's S3Hook). Every object is written with
SSE (SSE-S3 by default, SSE-KMS when a key id is configured) and with ``ChecksumAlgorithm=SHA256``,
so S3 verifies the body it received and answers with the checksum of what it stored.

Packages larger than ``multipart_threshold`` (evidence can make them tens of MB) go up as a multipart
upload read part by part from their spooled file: each part carries its SHA-256, which S3 verifies, and the
completed object's composite checksum (SHA-256 of the parts' SHA-256s, ``-N``) is compared with the one
computed here. The ETag to expect in a listing (MD5 for a single PUT, MD5 of the parts' MD5s ``-N`` for a
multipart upload) is returned for the ledger, so reconcile confirms both kinds with one listing.
MD5 serves only as that ETag check (``usedforsecurity=False``: FIPS hosts refuse MD5 otherwise).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
from dataclasses import dataclass
from typing import IO, Any

DEFAULT_PART_SIZE = 16 * 1024 * 1024
DEFAULT_MULTIPART_THRESHOLD = 32 * 1024 * 1024


def md5_hex(data: bytes) -> str:
    """MD5 as S3's ETag of a single PUT (not a security function)."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


@dataclass(frozen=True)
class Stored:
    """What S3 will show for an uploaded object: the ETag of a listing and the checksum of a HEAD."""

    etag: str              # MD5 hex (single PUT) or "<hex>-N" (multipart)
    checksum_sha256: str   # base64 SHA-256 (single PUT) or composite "<b64>-N" (multipart)


@dataclass(frozen=True)
class PartDigests:
    """What a file looks like to S3 when uploaded in parts of ``part_size``."""

    parts: int
    composite_sha256_b64: str  # "<b64>-N", as S3 answers for a multipart object
    etag: str                  # "<hex>-N"


def part_digests(fileobj: IO[bytes], part_size: int) -> PartDigests:
    """Hash a file part by part (reads it once, from the start; leaves it at the start)."""
    fileobj.seek(0)
    shas, md5s, n = [], [], 0
    while chunk := fileobj.read(part_size):
        shas.append(hashlib.sha256(chunk).digest())
        md5s.append(hashlib.md5(chunk, usedforsecurity=False).digest())
        n += 1
    fileobj.seek(0)
    return PartDigests(n, f"{_b64(hashlib.sha256(b''.join(shas)).digest())}-{n}",
                       f"{hashlib.md5(b''.join(md5s), usedforsecurity=False).hexdigest()}-{n}")


@dataclass(frozen=True)
class Encryption:
    """``AES256`` (SSE-S3) or ``aws:kms`` with ``kms_key_id``."""

    kms_key_id: str | None = None

    @property
    def extra_args(self) -> dict[str, str]:
        if self.kms_key_id:
            return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id}
        return {"ServerSideEncryption": "AES256"}


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    sha256_b64: str | None
    encryption: str | None


MAX_PRESIGN_SECONDS = 7 * 24 * 3600


class UploadNotConfirmed(RuntimeError):
    """S3 did not hold what was sent (size or checksum differ); transient: the task retries."""


def _is_missing(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey",
                                                                                           "NotFound")


class ObjectStore:
    def __init__(self, client: Any, encryption: Encryption | None = None, *,
                 multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD, part_size: int = DEFAULT_PART_SIZE):
        if part_size < 5 * 1024 * 1024 or multipart_threshold < part_size:
            raise ValueError("part_size must be at least 5 MiB (S3's minimum) and at most multipart_threshold")
        self.client = client
        self.encryption = encryption or Encryption()
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        try:
            r = self.client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        except Exception as exc:
            if _is_missing(exc):
                return None
            raise
        return ObjectInfo(size=r["ContentLength"], sha256_b64=r.get("ChecksumSHA256"),
                          encryption=r.get("ServerSideEncryption"))

    def matches(self, bucket: str, key: str, size: int, sha256_hex: str, checksum: str | None = None) -> bool:
        """Whether the key holds ``size`` bytes with this SHA-256 (or, for a multipart object, the recorded
        composite ``checksum``), checked with one HEAD."""
        info = self.head(bucket, key)
        if info is None or info.size != size:
            return False
        if checksum and "-" in checksum:
            return info.sha256_b64 == checksum
        return info.sha256_b64 == base64.b64encode(bytes.fromhex(sha256_hex)).decode()

    def put(self, bucket: str, key: str, data: bytes, *, content_type: str, sha256_hex: str | None = None) -> dict:
        sha = sha256_hex or hashlib.sha256(data).hexdigest()
        return self.client.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type,
                                      ChecksumAlgorithm="SHA256", Metadata={"sha256": sha},
                                      **self.encryption.extra_args)

    def put_confirmed(self, bucket: str, key: str, data: bytes, *, content_type: str, sha256_hex: str) -> None:
        """Upload and make sure S3 holds exactly these bytes, or raise UploadNotConfirmed.

        S3 verifies the SHA-256 sent with the body and answers with the checksum of what it stored: one
        request. A store that does not answer with a checksum is asked again with a HEAD.
        """
        response = self.put(bucket, key, data, content_type=content_type, sha256_hex=sha256_hex)
        expected = base64.b64encode(bytes.fromhex(sha256_hex)).decode()
        answered = response.get("ChecksumSHA256")
        if answered == expected:
            return
        if answered is None and self.matches(bucket, key, len(data), sha256_hex):
            return
        raise UploadNotConfirmed(f"s3://{bucket}/{key} was not confirmed with the SHA-256 sent")

    def put_file_confirmed(self, bucket: str, key: str, fileobj: IO[bytes], *, size: int, sha256_hex: str,
                           content_type: str) -> Stored:
        """Upload a seekable file and make sure S3 holds exactly it; returns what S3 will show for it.

        Up to ``multipart_threshold`` bytes: one confirmed PUT. Above: a multipart upload, part by part.
        """
        fileobj.seek(0)
        if size <= self.multipart_threshold:
            data = fileobj.read()
            self.put_confirmed(bucket, key, data, content_type=content_type, sha256_hex=sha256_hex)
            return Stored(md5_hex(data), _b64(bytes.fromhex(sha256_hex)))
        return self._put_multipart(bucket, key, fileobj, size=size, sha256_hex=sha256_hex, content_type=content_type)

    def _put_multipart(self, bucket: str, key: str, fileobj: IO[bytes], *, size: int, sha256_hex: str,
                       content_type: str) -> Stored:
        upload = self.client.create_multipart_upload(
            Bucket=bucket, Key=key, ContentType=content_type, ChecksumAlgorithm="SHA256",
            Metadata={"sha256": sha256_hex}, **self.encryption.extra_args)["UploadId"]
        try:
            parts, shas, md5s = [], [], []
            number = 0
            while chunk := fileobj.read(self.part_size):
                number += 1
                sha = hashlib.sha256(chunk).digest()
                r = self.client.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=chunk,
                                            ChecksumAlgorithm="SHA256", ChecksumSHA256=_b64(sha))
                if r.get("ChecksumSHA256") not in (None, _b64(sha)):
                    raise UploadNotConfirmed(f"s3://{bucket}/{key} part {number} was not confirmed")
                parts.append({"ETag": r["ETag"], "PartNumber": number, "ChecksumSHA256": _b64(sha)})
                shas.append(sha)
                md5s.append(hashlib.md5(chunk, usedforsecurity=False).digest())
            done = self.client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload,
                                                         MultipartUpload={"Parts": parts})
        except BaseException:
            with contextlib.suppress(Exception):
                self.client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)
            raise
        composite = f"{_b64(hashlib.sha256(b''.join(shas)).digest())}-{number}"
        answered = done.get("ChecksumSHA256")
        if answered is not None and answered != composite:
            raise UploadNotConfirmed(f"s3://{bucket}/{key} was not confirmed with the checksums sent")
        info = self.head(bucket, key)
        if info is None or info.size != size or info.sha256_b64 not in (None, composite):
            raise UploadNotConfirmed(f"s3://{bucket}/{key} does not hold what was uploaded")
        return Stored(f"{hashlib.md5(b''.join(md5s), usedforsecurity=False).hexdigest()}-{number}", composite)

    def matches_file(self, bucket: str, key: str, fileobj: IO[bytes], *, size: int, sha256_hex: str) -> bool:
        """Whether the key already holds this file (single PUT or multipart), checked with one HEAD."""
        info = self.head(bucket, key)
        if info is None or info.size != size:
            return False
        if info.sha256_b64 and "-" in info.sha256_b64:  # composite "<b64>-N": standard base64 has no "-"
            return info.sha256_b64 == part_digests(fileobj, self.part_size).composite_sha256_b64
        return info.sha256_b64 == _b64(bytes.fromhex(sha256_hex))

    def presign(self, bucket: str, key: str, expires_seconds: int) -> str:
        """A GET URL for one object, valid for ``expires_seconds`` (S3 caps SigV4 URLs at 7 days)."""
        if not 1 <= expires_seconds <= MAX_PRESIGN_SECONDS:
            raise ValueError("presigned URL expiry must be between 1 second and 7 days")
        return self.client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key},
                                                  ExpiresIn=expires_seconds)

    def list_etags(self, bucket: str, prefix: str) -> dict[str, tuple[int, str]]:
        """Every key under ``prefix`` with its size and ETag (quotes removed): 1 request per 1,000 keys."""
        out: dict[str, tuple[int, str]] = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                out[obj["Key"]] = (obj["Size"], obj.get("ETag", "").strip('"'))
        return out
