"""Reading vets-api's encrypted columns row by row (source mode ``encrypted``).

vets-api stores ``form526_submissions.form_json_ciphertext`` / ``auth_headers_json_ciphertext`` /
``birls_ids_tried_ciphertext`` and ``form_attachments.file_data_ciphertext`` with Lockbox under a per-row
data key wrapped by AWS KMS (``encrypted_kms_key``); see ``lockbox.py`` and vets-api-encryption.md.
A :class:`RowDecryptor` turns one row snapshot's ciphertexts into plaintext in memory:

* NULL stays None and ``""`` stays ``""`` (no KMS call);
* a row whose ciphertext cannot be read fails alone, with a code: ``decrypt_failed`` (wrong context,
  tampered bytes), ``kms_key_missing`` (ciphertext but no ``encrypted_kms_key``), ``kms_key_format``
  (no ``v<N>:`` prefix);
* KMS unreachable or throttled past the retries raises unchanged, so the Airflow task retries;
* the optional legacy master-key fallback (HKDF-SHA384 of ``Settings.lockbox.master_key``) is used only
  when a master key is configured and the row has no ``encrypted_kms_key`` or KMS refuses it.

Data keys live only in this object's memory (an LRU keyed by the exact ``encrypted_kms_key`` string and
context); nothing decrypted is logged, raised, returned to XCom or written anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from include.form526.source.lockbox import (
    DECRYPT_FAILED,
    KMS_KEY_MISSING,
    DataKeyCache,
    DecryptError,
    KmsDecrypt,
    decrypt_column,
    encryption_context,
    legacy_master_key_data_key,
)

PLAINTEXT, ENCRYPTED = "plaintext", "encrypted"
SOURCE_MODES = (PLAINTEXT, ENCRYPTED)
SUBMISSION_MODEL = "Form526Submission"
SUBMISSIONS_TABLE = "form526_submissions"
DECRYPT_ERROR_CODES = frozenset({"decrypt_failed", "kms_key_missing", "kms_key_format"})


def check_mode(mode: str) -> str:
    """The source mode setting, validated (``FORM526_SOURCE_MODE``)."""
    value = (mode or PLAINTEXT).strip().lower()
    if value not in SOURCE_MODES:
        raise ValueError(f"FORM526_SOURCE_MODE must be one of {', '.join(SOURCE_MODES)}")
    return value


@dataclass(frozen=True)
class Column:
    """A ciphertext column: its value and the attribute name Lockbox derives legacy keys from."""

    attribute: str
    value: str | None


class RowDecryptor:
    """Decrypts the ciphertext columns of one row snapshot with the row's data key."""

    def __init__(self, kms_decrypt: KmsDecrypt, *, master_key_hex: str | None = None, **cache_options) -> None:
        self.keys = DataKeyCache(kms_decrypt, **cache_options)
        self._master_key = master_key_hex or None
        self.legacy_rows = 0

    @property
    def kms_calls(self) -> int:
        return self.keys.kms_calls

    def decrypt_row(self, *, model_name: str, model_id: int | str, table: str, encrypted_kms_key: str | None,
                    columns: Sequence[Column]) -> list[str | None]:
        """Plaintext of each column, in order; raises DecryptError (with a code) for this row only."""
        if all(c.value is None or c.value == "" for c in columns):
            return [c.value for c in columns]
        context = encryption_context(model_name, model_id)
        if encrypted_kms_key is None or encrypted_kms_key == "":
            if self._master_key:
                return self._legacy(table, columns)
            raise DecryptError(KMS_KEY_MISSING, f"{table} row {model_id} has ciphertext but no encrypted_kms_key")
        try:
            key = self.keys.data_key(encrypted_kms_key, context)
            return [decrypt_column(c.value, key) for c in columns]
        except DecryptError as exc:
            if self._master_key and exc.code == DECRYPT_FAILED:
                return self._legacy(table, columns)
            raise DecryptError(exc.code, f"{table} row {model_id}: {exc.code}") from None

    def _legacy(self, table: str, columns: Sequence[Column]) -> list[str | None]:
        assert self._master_key is not None
        out = [c.value if c.value in (None, "") else decrypt_column(
            c.value, legacy_master_key_data_key(self._master_key, table, c.attribute)) for c in columns]
        self.legacy_rows += 1
        return out

    def submission(self, submission_id: int, encrypted_kms_key: str | None, form_json_ciphertext: str | None,
                   auth_headers_json_ciphertext: str | None) -> tuple[str | None, str | None]:
        """``(form_json, auth_headers_json)`` of one ``form526_submissions`` row."""
        form, auth = self.decrypt_row(
            model_name=SUBMISSION_MODEL, model_id=submission_id, table=SUBMISSIONS_TABLE,
            encrypted_kms_key=encrypted_kms_key,
            columns=[Column("form_json_ciphertext", form_json_ciphertext),
                     Column("auth_headers_json_ciphertext", auth_headers_json_ciphertext)])
        return form, auth

    def attachment_file_data(self, row: Sequence) -> str | None:
        """``file_data`` of a ``form_attachments`` row ``(guid, type, file_data_ciphertext, encrypted_kms_key,
        id)``; the KMS context's model_name is the row's STI ``type``. An unreadable row reads as None
        (the upload is then listed as not found), never as a failed batch."""
        _guid, type_, ciphertext, kms_key, row_id = row
        try:
            (value,) = self.decrypt_row(model_name=type_, model_id=row_id, table="form_attachments",
                                        encrypted_kms_key=kms_key,
                                        columns=[Column("file_data_ciphertext", ciphertext)])
        except DecryptError:
            return None
        return value
