"""Decrypt vets-api's Lockbox + kms_encrypted columns outside Rails (pure Python, no Airflow).

Facts: /work/shared/domain/vets-api-encryption.md (ankane/lockbox 2.1.0, ankane/kms_encrypted 1.8.1).

* A ``*_ciphertext`` column is strict Base64 of ``nonce(12) || ciphertext || tag(16)``, AES-256-GCM, no AAD.
  The GCM plaintext may carry ISO/IEC 7816-4 padding to 16 bytes (vets-api ``padding: true``), or not
  (rows written 2022-01-21..25 with ``padding: false``).
* ``encrypted_kms_key`` is ``"v<N>:" + strict_base64(KMS CiphertextBlob)``; KMS Decrypt with the context
  ``{"model_name": <class>, "model_id": "<id>"}`` gives the 32-byte data key, used as the AES key as is.
* SQL NULL stays ``None``; ``""`` is stored unencrypted and stays ``""``.

Error messages carry only fixed codes and ids, never plaintext, keys or ciphertext.
"""

from __future__ import annotations

import base64
import binascii
import os
import random
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "DECRYPT_FAILED",
    "KMS_KEY_FORMAT",
    "KMS_KEY_MISSING",
    "KMS_THROTTLE_CODES",
    "DataKeyCache",
    "DecryptError",
    "KeyResolver",
    "KmsDecrypt",
    "boto3_kms_decrypt",
    "decrypt_column",
    "encrypt_column",
    "encryption_context",
    "is_kms_invalid_ciphertext",
    "is_kms_throttle",
    "kms_key_version",
    "legacy_master_key_data_key",
    "lockbox_pad",
    "lockbox_unpad",
    "parse_encrypted_kms_key",
]

DECRYPT_FAILED = "decrypt_failed"
KMS_KEY_MISSING = "kms_key_missing"
KMS_KEY_FORMAT = "kms_key_format"
_CODES = frozenset({DECRYPT_FAILED, KMS_KEY_MISSING, KMS_KEY_FORMAT})

NONCE_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32
PAD_BLOCK = 16
_PAD_FIRST = 0x80
_PAD_ZERO = 0x00

# kms_encrypted box.rb: `\Av(\d+):`; Ruby's \d is ASCII-only, hence [0-9].
_KMS_PREFIX = re.compile(r"v([0-9]+):")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")

# KMS returns ThrottlingException when a request exceeds the account's request quota; the other codes
# are the generic throttle codes botocore's retry handlers know. Transient server errors
# (KMSInternalException, DependencyTimeoutException, KeyUnavailableException) are deliberately NOT here:
# the boto3 client's own retry config covers them and, if they persist, they propagate so the Airflow
# task retries as for an unreachable KMS.
KMS_THROTTLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
    }
)

KmsDecrypt = Callable[[bytes, dict[str, str]], bytes]
"""``(ciphertext_blob, encryption_context) -> plaintext data key``."""


class DecryptError(Exception):
    """A value could not be decrypted; ``.code`` is one of the module's three codes.

    The message is built only from the code and a fixed, non-sensitive detail (ids at most).
    """

    def __init__(self, code: str, detail: str = "") -> None:
        if code not in _CODES:
            raise ValueError(f"unknown DecryptError code {code!r}")
        self.code = code
        self.detail = detail
        super().__init__(f"{code}: {detail}" if detail else code)


# --------------------------------------------------------------------------------------------------
# Lockbox padding (lib/lockbox/padding.rb)


def lockbox_pad(data: bytes, size: int = PAD_BLOCK) -> bytes:
    """ISO/IEC 7816-4 pad: append 0x80 then zeros to a multiple of ``size`` (always adds 1..size bytes)."""
    if size < 1:
        raise ValueError("invalid padding size")
    return bytes(data) + bytes([_PAD_FIRST]) + bytes(size - 1 - len(data) % size)


def lockbox_unpad(data: bytes, size: int = PAD_BLOCK) -> bytes | None:
    """Lockbox's unpad, byte for byte; ``None`` where Lockbox would raise PaddingError.

    Scans back at most ``size`` bytes (and never past the start), skipping 0x00; the first other byte
    must be 0x80 and everything from it on is removed.
    """
    if size < 1:
        raise ValueError("invalid padding size")
    i = 1
    while i <= size and i <= len(data):
        byte = data[-i]
        if byte == _PAD_ZERO:
            i += 1
        elif byte == _PAD_FIRST:
            return bytes(data[:-i])
        else:
            break
    return None


# --------------------------------------------------------------------------------------------------
# Lockbox column values


def _aesgcm(key: bytes) -> AESGCM:
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_BYTES:
        raise DecryptError(KMS_KEY_FORMAT, "data key is not 32 bytes")
    return AESGCM(bytes(key))


def _b64decode_strict(value: str) -> bytes:
    # Lockbox writes pack("m0") = RFC 4648 strict Base64 (standard alphabet, "=" padding, no newlines).
    return base64.b64decode(value.encode("ascii"), validate=True)


def decrypt_column(ciphertext_b64: str | None, data_key: bytes) -> str | None:
    """Decrypt one Lockbox ``*_ciphertext`` value with its 32-byte key; NULL → None, "" → "".

    Raises DecryptError('decrypt_failed') for bad Base64, a short value, a wrong key or tampered data,
    and DecryptError('kms_key_format') for a key that is not 32 bytes.
    """
    if ciphertext_b64 is None:
        return None
    if ciphertext_b64 == "":
        return ""
    aead = _aesgcm(data_key)
    try:
        raw = _b64decode_strict(ciphertext_b64)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise DecryptError(DECRYPT_FAILED, "ciphertext is not strict Base64") from None
    if len(raw) < NONCE_BYTES + TAG_BYTES:
        raise DecryptError(DECRYPT_FAILED, "ciphertext shorter than nonce + tag")
    try:
        plain = aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], None)
    except InvalidTag:
        raise DecryptError(DECRYPT_FAILED, "authentication failed (wrong key or tampered data)") from None

    # Padding detection. vets-api decrypts with Lockbox boxes in this order: the primary box
    # (padding: true) unpads and, on PaddingError, Lockbox moves on to the previous version
    # {padding: false} with the same key, which returns the GCM plaintext unchanged. So: apply Lockbox's
    # exact unpad rule (scan back <= 16 bytes, skip 0x00, require 0x80) and, where it finds no valid
    # padding, the row is one of the unpadded January-2022 rows and the plaintext is used as is.
    # The one ambiguity Lockbox itself has: an UNPADDED plaintext that happens to end in 0x80 [0x00...].
    # In valid UTF-8 a trailing 0x80 can only be the last continuation byte of a multi-byte character,
    # so stripping it always leaves a truncated character, i.e. invalid UTF-8; while a genuinely padded
    # plaintext (text the app wrote) always unpads to valid UTF-8. Hence: prefer the unpadded bytes if
    # they are valid UTF-8, else the raw bytes; this never misreads a padded row and recovers such an
    # unpadded one (Rails would return the truncated string). JSON columns never end in 0x80 anyway.
    unpadded = lockbox_unpad(plain)
    candidates = (plain,) if unpadded is None else (unpadded, plain)
    for candidate in candidates:
        try:
            return candidate.decode("utf-8")
        except UnicodeDecodeError:
            continue
    raise DecryptError(DECRYPT_FAILED, "plaintext is not valid UTF-8")


def encrypt_column(
    plaintext: str | None, data_key: bytes, *, padding: bool = True, nonce: bytes | None = None
) -> str | None:
    """Encrypt like Rails/Lockbox writes a column (for test data); None → None, "" → "" (unencrypted).

    ``padding=True`` is vets-api's ``default_options``; ``padding=False`` reproduces the January-2022 rows.
    ``nonce`` (12 bytes) is for deterministic fixtures only; by default a random nonce is used.
    """
    if plaintext is None:
        return None
    if plaintext == "":
        return ""
    aead = _aesgcm(data_key)
    if nonce is None:
        nonce = os.urandom(NONCE_BYTES)  # Lockbox: SecureRandom.random_bytes(12)
    if len(nonce) != NONCE_BYTES:
        raise ValueError("nonce must be 12 bytes")
    data = plaintext.encode("utf-8")
    if padding:
        data = lockbox_pad(data)
    blob = bytes(nonce) + aead.encrypt(bytes(nonce), data, None)
    return base64.b64encode(blob).decode("ascii")


def legacy_master_key_data_key(master_key_hex: str, table: str, attribute: str) -> bytes:
    """Lockbox's per-attribute key from the master key (pre-KMS rows): HKDF-SHA384, 32 bytes.

    IKM = hex-decoded master key, salt = table name, info = 32 x 0xB4 + attribute, where ``attribute``
    is the ciphertext column name including ``_ciphertext`` (e.g. ``form_json_ciphertext``).
    """
    if not isinstance(master_key_hex, str) or not _HEX64.fullmatch(master_key_hex):
        raise ValueError("master key must be 64 hex digits")
    hkdf = HKDF(
        algorithm=hashes.SHA384(),
        length=KEY_BYTES,
        salt=table.encode("utf-8"),
        info=b"\xb4" * 32 + attribute.encode("utf-8"),
    )
    return hkdf.derive(bytes.fromhex(master_key_hex))


# --------------------------------------------------------------------------------------------------
# kms_encrypted


def parse_encrypted_kms_key(value: str | None) -> bytes:
    """Return the KMS CiphertextBlob from an ``encrypted_kms_key`` value ``v<N>:<strict base64>``.

    NULL/"" → DecryptError('kms_key_missing'); no ``v<digits>:`` prefix or bad Base64 → 'kms_key_format'.
    """
    if value is None or value == "":
        raise DecryptError(KMS_KEY_MISSING, "encrypted_kms_key is empty")
    if not isinstance(value, str):
        raise DecryptError(KMS_KEY_FORMAT, "encrypted_kms_key is not text")
    match = _KMS_PREFIX.match(value)
    if match is None:
        raise DecryptError(KMS_KEY_FORMAT, "encrypted_kms_key has no v<N>: prefix")
    body = value[match.end() :]
    try:
        blob = _b64decode_strict(body)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise DecryptError(KMS_KEY_FORMAT, "encrypted_kms_key is not strict Base64") from None
    if not blob:
        raise DecryptError(KMS_KEY_FORMAT, "encrypted_kms_key has an empty blob")
    return blob


def kms_key_version(value: str | None) -> int | None:
    """The ``N`` of a ``v<N>:`` prefix (a year in vets-api, or 1), for logging; None if absent."""
    if not isinstance(value, str):
        return None
    match = _KMS_PREFIX.match(value)
    return int(match.group(1)) if match else None


def encryption_context(model_name: str, model_id: int | str) -> dict[str, str]:
    """kms_encrypted's default AWS context: ``{"model_name": <class>, "model_id": str(id)}``.

    ``model_name`` is the record's actual class: ``"Form526Submission"``, or the STI ``type`` for
    form_attachments.
    """
    if not isinstance(model_name, str) or not model_name:
        raise ValueError("model_name must be a non-empty string")
    if isinstance(model_id, bool) or not isinstance(model_id, int | str) or model_id == "":
        raise ValueError("model_id must be an int or a non-empty string")
    return {"model_name": model_name, "model_id": str(model_id)}


def _aws_error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        error = response.get("Error")
        if isinstance(error, Mapping):
            code = error.get("Code")
            return code if isinstance(code, str) else None
    return None


def is_kms_throttle(exc: BaseException) -> bool:
    """True for a botocore ClientError whose code is a throttling code (see KMS_THROTTLE_CODES)."""
    return _aws_error_code(exc) in KMS_THROTTLE_CODES


def is_kms_invalid_ciphertext(exc: BaseException) -> bool:
    """True for KMS InvalidCiphertextException: wrong encryption context, or a tampered/foreign blob."""
    return _aws_error_code(exc) == "InvalidCiphertextException"


def boto3_kms_decrypt(client: Any, *, key_id: str | None = None) -> KmsDecrypt:
    """Adapt a boto3 KMS client to a ``KmsDecrypt`` callable.

    ``key_id`` is optional (the blob names its CMK); pass it to make KMS enforce the expected key.
    """

    def decrypt(ciphertext_blob: bytes, context: dict[str, str]) -> bytes:
        kwargs: dict[str, Any] = {"CiphertextBlob": ciphertext_blob, "EncryptionContext": dict(context)}
        if key_id:
            kwargs["KeyId"] = key_id
        return client.decrypt(**kwargs)["Plaintext"]

    return decrypt


class DataKeyCache:
    """Resolves data keys through KMS, with a thread-safe, bounded LRU cache and throttle backoff.

    Cache key: the exact ``encrypted_kms_key`` string together with the encryption context (never the id
    alone: rotation gives a row a new key). ``kms_calls`` counts every request sent to KMS, retries
    included; ``cache_hits`` counts lookups answered from the cache. Concurrent lookups of one key share
    a single KMS request.

    Errors: KMS InvalidCiphertextException → DecryptError('decrypt_failed'); throttling is retried with
    bounded exponential backoff (``base_delay * 2**n`` capped at ``max_delay``, ``max_attempts`` in all)
    and re-raised unchanged when exhausted; any other exception (KMS unreachable, access denied)
    propagates unchanged so the calling Airflow task retries.
    """

    def __init__(
        self,
        kms_decrypt: KmsDecrypt,
        *,
        maxsize: int = 4096,
        max_attempts: int = 6,
        base_delay: float = 0.2,
        max_delay: float = 10.0,
        jitter: bool = True,
        sleep: Callable[[float], None] = time.sleep,
        is_throttle: Callable[[BaseException], bool] = is_kms_throttle,
        is_invalid_ciphertext: Callable[[BaseException], bool] = is_kms_invalid_ciphertext,
    ) -> None:
        if maxsize < 1 or max_attempts < 1 or base_delay < 0 or max_delay < 0:
            raise ValueError("invalid DataKeyCache limits")
        self._kms_decrypt = kms_decrypt
        self._maxsize = maxsize
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._jitter = jitter
        self._sleep = sleep
        self._is_throttle = is_throttle
        self._is_invalid_ciphertext = is_invalid_ciphertext
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, tuple[tuple[str, str], ...]], bytes] = OrderedDict()
        self._inflight: dict[tuple[str, tuple[tuple[str, str], ...]], Future[bytes]] = {}
        self.kms_calls = 0
        self.cache_hits = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={len(self)}, kms_calls={self.kms_calls}, cache_hits={self.cache_hits})"

    def data_key(self, encrypted_kms_key: str | None, context: Mapping[str, str]) -> bytes:
        """The 32-byte data key for a row's ``encrypted_kms_key`` under ``context``."""
        blob = parse_encrypted_kms_key(encrypted_kms_key)
        ctx = {str(k): str(v) for k, v in context.items()}
        cache_key = (str(encrypted_kms_key), tuple(sorted(ctx.items())))
        while True:
            with self._lock:
                key = self._cache.get(cache_key)
                if key is not None:
                    self._cache.move_to_end(cache_key)
                    self.cache_hits += 1
                    return key
                pending = self._inflight.get(cache_key)
                if pending is None:
                    pending = Future()
                    self._inflight[cache_key] = pending
                    leader = True
                else:
                    leader = False
            if not leader:
                pending.result()  # the leader's outcome (re-raises its error); then re-read the cache
                continue
            try:
                key = self._fetch(blob, ctx)
            except BaseException as exc:
                with self._lock:
                    del self._inflight[cache_key]
                pending.set_exception(exc)
                raise
            with self._lock:
                self._cache[cache_key] = key
                self._cache.move_to_end(cache_key)
                while len(self._cache) > self._maxsize:
                    self._cache.popitem(last=False)
                del self._inflight[cache_key]
            pending.set_result(key)
            return key

    def decrypt(
        self, ciphertext_b64: str | None, encrypted_kms_key: str | None, context: Mapping[str, str]
    ) -> str | None:
        """Decrypt one column of a row; NULL and "" need no KMS key (and cost no KMS call)."""
        if ciphertext_b64 is None or ciphertext_b64 == "":
            return ciphertext_b64
        return decrypt_column(ciphertext_b64, self.data_key(encrypted_kms_key, context))

    def clear(self) -> None:
        """Forget all cached data keys."""
        with self._lock:
            self._cache.clear()

    def _fetch(self, blob: bytes, ctx: dict[str, str]) -> bytes:
        attempt = 0
        while True:
            with self._lock:
                self.kms_calls += 1
            try:
                key = self._kms_decrypt(blob, dict(ctx))
            except DecryptError:
                raise
            except Exception as exc:
                if self._is_invalid_ciphertext(exc):
                    raise DecryptError(
                        DECRYPT_FAILED, "KMS rejected the data key (InvalidCiphertextException)"
                    ) from None
                attempt += 1
                if self._is_throttle(exc) and attempt < self._max_attempts:
                    self._sleep(self._delay(attempt))
                    continue
                raise
            if not isinstance(key, bytes | bytearray) or len(key) != KEY_BYTES:
                raise DecryptError(KMS_KEY_FORMAT, "KMS plaintext is not a 32-byte key")
            return bytes(key)

    def _delay(self, attempt: int) -> float:
        delay = min(self._max_delay, self._base_delay * (2 ** (attempt - 1)))
        if self._jitter:
            delay *= 0.5 + random.random() / 2  # timing jitter only, not cryptography
        return delay


KeyResolver = DataKeyCache
