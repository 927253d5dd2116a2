"""S3 writes with server-side encryption and an end-to-end SHA-256 check.

Wraps a boto3 S3 client (the operator gets it from Airflow's S3Hook). Every object is written with
SSE (SSE-S3 by default, SSE-KMS when a key id is configured) and with ``ChecksumAlgorithm=SHA256``,
so S3 verifies the body it received and answers with the checksum of what it stored.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Encryption:
    """``AES256`` (SSE-S3) or ``aws:kms`` with ``kms_key_id``."""

    kms_key_id: str | None = None

    @property
    def extra_args(self) -> dict[str, str]:
        if self.kms_key_id:
            return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id}
        return {"ServerSideEncryption": "AES256"}

    @property
    def header_value(self) -> str:
        return "aws:kms" if self.kms_key_id else "AES256"


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


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
    def __init__(self, client: Any, encryption: Encryption | None = None):
        self.client = client
        self.encryption = encryption or Encryption()

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        try:
            r = self.client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        except Exception as exc:
            if _is_missing(exc):
                return None
            raise
        return ObjectInfo(size=r["ContentLength"], sha256_b64=r.get("ChecksumSHA256"),
                          encryption=r.get("ServerSideEncryption"))

    def matches(self, bucket: str, key: str, size: int, sha256_hex: str) -> bool:
        info = self.head(bucket, key)
        return (info is not None and info.size == size
                and info.sha256_b64 == base64.b64encode(bytes.fromhex(sha256_hex)).decode())

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
