"""Encrypted mode: fill the ``*_ciphertext`` columns and ``encrypted_kms_key`` as Rails would.

vets-api-encryption.md §2-5: per row, kms_encrypted draws 32 random bytes as the data key and wraps
them with KMS **Encrypt** under the context ``{"model_name": <class>, "model_id": "<id>"}`` (the STI
``type`` for form_attachments), stored as ``"v<version>:" + base64(CiphertextBlob)``. Lockbox encrypts
each attribute with AES-256-GCM under that key, ISO 7816-4 padded (``padding: true``) except rows
written 2022-01-21..25. The version is a year (``kms_version``: the current year from Oct 12, else the
previous one), or 1 for rows from before Oct 2023 never rotated since. Every Oct 12 from 2023 on,
rows are marked ``needs_kms_rotation`` and re-encrypted (padded) with a new key; a few stay unrotated.
"""

from __future__ import annotations

import base64
import random
from datetime import datetime
from typing import Any

from include.form526.source.lockbox import encrypt_column, encryption_context

PATCH_DATE = datetime(2023, 10, 12)  # KmsEncryptedModelPatch: year-versioned keys from here on
UNPADDED_FROM, UNPADDED_TO = datetime(2022, 1, 21), datetime(2022, 1, 26)
UNROTATED_SHARE = 0.02  # rotation job failed for these rows: still flagged needs_kms_rotation
UNPADDED_SHARE = 0.01  # extra unpadded rows, so small seeds carry some


def kms_version(at: datetime) -> int:
    """vets-api's KMS key version for a row encrypted at ``at``."""
    if at < PATCH_DATE:
        return 1
    return at.year if (at.month, at.day) >= (10, 12) else at.year - 1


def last_rotation(as_of: datetime) -> datetime | None:
    """The most recent yearly rotation (Oct 12) on or before ``as_of``, if any."""
    year = as_of.year if (as_of.month, as_of.day) >= (10, 12) else as_of.year - 1
    return datetime(year, 10, 12) if year >= PATCH_DATE.year else None


class Encryptor:
    """Encrypts rows through a boto3-style KMS client (``encrypt(KeyId, Plaintext, EncryptionContext)``)."""

    def __init__(self, kms_client: Any, key_id: str, rng: random.Random, as_of: datetime) -> None:
        self.kms = kms_client
        self.key_id = key_id
        self.rng = rng  # a stream of its own: plaintext columns do not depend on the mode
        self.rotation = last_rotation(as_of)
        self.kms_calls = 0

    def key_state(self, created_at: datetime) -> tuple[int, bool, bool]:
        """(key version, padded, needs_kms_rotation) of a row created at ``created_at``."""
        unrotated = self.rng.random() < UNROTATED_SHARE
        odd_unpadded = self.rng.random() < UNPADDED_SHARE
        if self.rotation is not None and created_at < self.rotation and not unrotated:
            return kms_version(self.rotation), True, False
        padded = not (UNPADDED_FROM <= created_at < UNPADDED_TO or odd_unpadded)
        return kms_version(created_at), padded, self.rotation is not None and created_at < self.rotation

    def encrypt_row(self, model_name: str, model_id: int, created_at: datetime,
                    values: list[str | None]) -> tuple[str, list[str | None], bool]:
        """(encrypted_kms_key, ciphertexts in the order of ``values``, needs_kms_rotation)."""
        version, padded, needs_rotation = self.key_state(created_at)
        data_key = self.rng.getrandbits(256).to_bytes(32, "big")
        blob = self.kms.encrypt(KeyId=self.key_id, Plaintext=data_key,
                                EncryptionContext=encryption_context(model_name, model_id))["CiphertextBlob"]
        self.kms_calls += 1
        ciphertexts = [encrypt_column(v, data_key, padding=padded,
                                      nonce=self.rng.getrandbits(96).to_bytes(12, "big")) for v in values]
        return f"v{version}:{base64.b64encode(blob).decode('ascii')}", ciphertexts, needs_rotation


def fake_kms_key(rng: random.Random, created_at: datetime) -> str:
    """A plausible ``encrypted_kms_key`` for plaintext mode (decrypts nothing)."""
    return f"v{kms_version(created_at)}:" + base64.b64encode(rng.getrandbits(1472).to_bytes(184, "big")).decode()
