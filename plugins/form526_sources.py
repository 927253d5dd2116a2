"""Airflow-side access to what the pipeline reads from vets-api besides Postgres: KMS and the upload bucket.

Both are built inside a task (never at import): the KMS client of the ``form526_kms`` connection for source
mode ``encrypted``, and the evidence bucket of the ``form526_evidence`` connection.
"""

from __future__ import annotations

import logging
from typing import Any

from include.form526 import config

log = logging.getLogger(__name__)


def _master_key() -> str | None:
    """Lockbox's legacy master key from its optional connection (password), masked in logs."""
    from airflow.sdk import BaseHook
    from airflow.sdk.log import mask_secret

    try:
        conn = BaseHook.get_connection(config.LOCKBOX_MASTER_KEY_CONN_ID)
    except Exception:  # not configured: the legacy fallback stays off
        return None
    if conn.password:
        mask_secret(conn.password)
    return conn.password or None


def row_decryptor() -> Any:
    """A RowDecryptor for source mode ``encrypted``, or None in mode ``plaintext``."""
    from include.form526.source.decryption import ENCRYPTED, RowDecryptor, check_mode
    from include.form526.source.lockbox import boto3_kms_decrypt

    if check_mode(config.SOURCE_MODE) != ENCRYPTED:
        return None
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    client = AwsBaseHook(aws_conn_id=config.KMS_CONN_ID, client_type="kms").get_conn()
    return RowDecryptor(boto3_kms_decrypt(client), master_key_hex=_master_key())


def evidence_store() -> Any:
    """The evidence bucket reader, or None when FORM526_EVIDENCE_BUCKET is not set."""
    from include.form526.source.attachments import EvidenceStore

    if not config.EVIDENCE_BUCKET:
        return None
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    client = S3Hook(aws_conn_id=config.EVIDENCE_CONN_ID).get_conn()
    return EvidenceStore(client, config.EVIDENCE_BUCKET, spool_bytes=config.SPOOL_BYTES)
