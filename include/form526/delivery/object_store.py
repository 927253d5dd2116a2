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
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, NamedTuple

DEFAULT_PART_SIZE = 16 * 1024 * 1024
DEFAULT_MULTIPART_THRESHOLD = 32 * 1024 * 1024
WRITER_PART_SIZE = MIN_PART_SIZE = 5 * 1024 * 1024  # S3's minimum for every part but the last; the smallest buffer


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


class Listed(NamedTuple):
    """One entry of a listing: key, size and ETag (quotes removed)."""

    key: str
    size: int
    etag: str


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
        if part_size < MIN_PART_SIZE or multipart_threshold < part_size:
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
            return info.sha256_b64 in (checksum, checksum.rsplit("-", 1)[0])
        return info.sha256_b64 == base64.b64encode(bytes.fromhex(sha256_hex)).decode()

    def put(self, bucket: str, key: str, data: bytes, *, content_type: str, sha256_hex: str | None = None) -> dict:
        sha = sha256_hex or hashlib.sha256(data).hexdigest()
        # the SHA-256 is already known: sent as the checksum S3 verifies, so botocore does not hash the body again
        return self.client.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type,
                                      ChecksumAlgorithm="SHA256", ChecksumSHA256=_b64(bytes.fromhex(sha)),
                                      Metadata={"sha256": sha}, **self.encryption.extra_args)

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
        # S3 answers "<b64>-N"; some S3-compatible stores (moto) leave the "-N" off: the same checksum
        accepted = (None, composite, composite.rsplit("-", 1)[0])
        if done.get("ChecksumSHA256") not in accepted:
            raise UploadNotConfirmed(f"s3://{bucket}/{key} was not confirmed with the checksums sent")
        info = self.head(bucket, key)
        if info is None or info.size != size or info.sha256_b64 not in accepted:
            raise UploadNotConfirmed(f"s3://{bucket}/{key} does not hold what was uploaded")
        return Stored(f"{hashlib.md5(b''.join(md5s), usedforsecurity=False).hexdigest()}-{number}", composite)

    def matches_file(self, bucket: str, key: str, fileobj: IO[bytes], *, size: int, sha256_hex: str) -> bool:
        """Whether the key already holds this file (single PUT or multipart), checked with one HEAD."""
        info = self.head(bucket, key)
        if info is None or info.size != size:
            return False
        if size > self.multipart_threshold:  # uploaded in parts: S3 holds the composite "<b64>-N" (moto: no "-N")
            composite = part_digests(fileobj, self.part_size).composite_sha256_b64
            return info.sha256_b64 in (composite, composite.rsplit("-", 1)[0])
        return info.sha256_b64 == _b64(bytes.fromhex(sha256_hex))

    def presign(self, bucket: str, key: str, expires_seconds: int) -> str:
        """A GET URL for one object, valid for ``expires_seconds`` (S3 caps SigV4 URLs at 7 days)."""
        if not 1 <= expires_seconds <= MAX_PRESIGN_SECONDS:
            raise ValueError("presigned URL expiry must be between 1 second and 7 days")
        return self.client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key},
                                                  ExpiresIn=expires_seconds)

    def iter_listing(self, bucket: str, prefix: str, start_after: str | None = None) -> Iterator[Listed]:
        """The keys under ``prefix`` (after ``start_after``) in S3's order (UTF-8 binary), page by page."""
        extra = {"StartAfter": start_after} if start_after else {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, **extra):
            for obj in page.get("Contents", []):
                yield Listed(obj["Key"], obj["Size"], obj.get("ETag", "").strip('"'))

    def writer(self, bucket: str, key: str, *, content_type: str,
               part_size: int = WRITER_PART_SIZE) -> StreamingUpload:
        """A file-like object to write one object through without holding it: see ``StreamingUpload``."""
        return StreamingUpload(self, bucket, key, content_type=content_type, part_size=part_size)

    def list_etags(self, bucket: str, prefix: str) -> dict[str, tuple[int, str]]:
        """Every key under ``prefix`` with its size and ETag (quotes removed): 1 request per 1,000 keys."""
        out: dict[str, tuple[int, str]] = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                out[obj["Key"]] = (obj["Size"], obj.get("ETag", "").strip('"'))
        return out


class StreamingUpload:
    """Write one object of unknown length through a bounded buffer: ``write(bytes)``, then ``close()``.

    Bytes collect up to ``part_size``; each full part goes up as a part of a multipart upload with its
    SHA-256, which S3 verifies. ``close()`` sends the rest and completes the upload, then checks the composite
    checksum and the size S3 answers. A body that never filled a part goes up as one PUT instead. As a
    context manager, an exception aborts the upload (no half-written object, no orphaned parts).
    """

    def __init__(self, store: ObjectStore, bucket: str, key: str, *, content_type: str,
                 part_size: int = WRITER_PART_SIZE):
        if part_size < MIN_PART_SIZE:
            raise ValueError("part_size must be at least 5 MiB (S3's minimum)")
        self.store, self.bucket, self.key = store, bucket, key
        self.content_type, self.part_size = content_type, part_size
        self.size = 0
        self.parts = 0
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._shas: list[bytes] = []
        self._closed = False

    def write(self, data: bytes) -> int:
        if self._closed:
            raise ValueError("write to a closed upload")
        self._buffer += data
        self.size += len(data)
        while len(self._buffer) >= self.part_size:
            with memoryview(self._buffer) as view:  # one copy of the part (a bytearray slice would be a second)
                part = bytes(view[:self.part_size])
            del self._buffer[:self.part_size]
            self._send(part)
        return len(data)

    def _send(self, part: bytes) -> None:
        client = self.store.client
        if self._upload_id is None:
            self._upload_id = client.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, ContentType=self.content_type, ChecksumAlgorithm="SHA256",
                **self.store.encryption.extra_args)["UploadId"]
        self.parts += 1
        sha = hashlib.sha256(part).digest()
        r = client.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, PartNumber=self.parts,
                               Body=part, ChecksumAlgorithm="SHA256", ChecksumSHA256=_b64(sha))
        if r.get("ChecksumSHA256") not in (None, _b64(sha)):
            raise UploadNotConfirmed(f"s3://{self.bucket}/{self.key} part {self.parts} was not confirmed")
        self._parts.append({"ETag": r["ETag"], "PartNumber": self.parts, "ChecksumSHA256": _b64(sha)})
        self._shas.append(sha)

    def close(self) -> None:
        """Send what is left and finish the object; raises UploadNotConfirmed if S3 holds something else."""
        if self._closed:
            return
        self._closed = True
        rest, self._buffer = bytes(self._buffer), bytearray()
        if self._upload_id is None:
            self.store.put(self.bucket, self.key, rest, content_type=self.content_type)
            return
        if rest:
            self._send(rest)
        done = self.store.client.complete_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id,
                                                           MultipartUpload={"Parts": self._parts})
        composite = f"{_b64(hashlib.sha256(b''.join(self._shas)).digest())}-{self.parts}"
        if done.get("ChecksumSHA256") not in (None, composite):
            raise UploadNotConfirmed(f"s3://{self.bucket}/{self.key} was not confirmed with the checksums sent")
        info = self.store.head(self.bucket, self.key)
        # S3 answers "<b64>-N"; some S3-compatible stores (moto) leave out the part count
        if info is None or info.size != self.size or info.sha256_b64 not in (None, composite,
                                                                              composite.rsplit("-", 1)[0]):
            raise UploadNotConfirmed(f"s3://{self.bucket}/{self.key} does not hold what was uploaded")

    def abort(self) -> None:
        """Drop the upload: the parts sent so far are discarded and no object appears."""
        self._closed = True
        self._buffer = bytearray()
        if self._upload_id is not None:
            with contextlib.suppress(Exception):
                self.store.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id)

    def __enter__(self) -> StreamingUpload:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
