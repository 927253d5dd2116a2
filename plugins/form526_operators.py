"""Airflow-side pieces of the Form 526 pipeline: connections by id, and the batch delivery operator."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from airflow.sdk import BaseOperator

from include.form526 import pii
from include.form526.config import BATCH_PREFIX_XCOM_KEY, LEDGER_CONN_ID, S3_CONN_ID, SOURCE_CONN_ID

# Every process that parses these DAGs (dag processor, each task) gets the log redaction safety net.
pii.install()


@contextlib.contextmanager
def pg_connection(conn_id: str) -> Iterator[Any]:
    """A psycopg connection from an Airflow connection id, in autocommit mode (steps open their own
    transactions), closed on exit. Raw cursors are used so no SQL parameters reach the task log."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    conn = PostgresHook(postgres_conn_id=conn_id).get_conn()
    conn.autocommit = True
    try:
        yield conn
    finally:
        conn.close()


def s3_client(aws_conn_id: str) -> Any:
    """The boto3 S3 client of Airflow's S3Hook (credentials and endpoint from the connection)."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id=aws_conn_id).get_conn()


class DeliverBatchOperator(BaseOperator):
    """Build the 21-526EZ package of every submission in one planned batch and deliver it to S3.

    ``batch`` is one of the small dicts the planning task returns (run id, batch number, bucket,
    prefix). Submissions are claimed in the ledger, rendered in memory, uploaded with server-side
    encryption, confirmed (size + SHA-256) and recorded; one bad submission is recorded ``failed``
    and the batch goes on. Returns the batch's counts (no PII).
    """

    template_fields = ("batch", "sse_kms_key_id")
    ui_color = "#e8f1fb"

    def __init__(self, *, batch: dict[str, Any], sse_kms_key_id: str | None = None,
                 source_conn_id: str = SOURCE_CONN_ID, ledger_conn_id: str = LEDGER_CONN_ID,
                 aws_conn_id: str = S3_CONN_ID, claim_ttl_minutes: int = 30, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batch = batch
        self.sse_kms_key_id = sse_kms_key_id
        self.source_conn_id = source_conn_id
        self.ledger_conn_id = ledger_conn_id
        self.aws_conn_id = aws_conn_id
        self.claim_ttl_minutes = claim_ttl_minutes

    def execute(self, context: Any) -> dict[str, Any]:
        from form526_sources import evidence_store, row_decryptor

        from include.form526 import config
        from include.form526.delivery.batch import BatchSpec, EvidenceSettings, deliver_batch
        from include.form526.delivery.object_store import Encryption, ObjectStore
        from include.form526.package.evidence import EvidenceLimits

        b = self.batch
        spec = BatchSpec(run_id=b["run_id"], run_key=b["run_key"], batch_no=int(b["batch_no"]), bucket=b["bucket"],
                         key_prefix=b["key_prefix"], redeliver=bool(b.get("redeliver")),
                         claim_ttl_minutes=self.claim_ttl_minutes)
        # where this batch writes, for its "S3 batch folder" extra link (plugins/form526_links.py)
        context["ti"].xcom_push(key=BATCH_PREFIX_XCOM_KEY, value=f"s3://{spec.bucket}/{spec.batch_prefix}")
        store = ObjectStore(s3_client(self.aws_conn_id), Encryption(kms_key_id=self.sse_kms_key_id or None),
                            multipart_threshold=config.MULTIPART_THRESHOLD_BYTES)
        limits = EvidenceLimits(max_bytes=config.EVIDENCE_MAX_BYTES, max_image_pixels=config.EVIDENCE_MAX_PIXELS,
                                max_pages=config.EVIDENCE_MAX_PAGES)
        evidence = EvidenceSettings(store=evidence_store(), limits=limits, spool_bytes=config.SPOOL_BYTES)
        with pg_connection(self.source_conn_id) as source, pg_connection(self.ledger_conn_id) as led:
            result = deliver_batch(spec, source_conn=source, ledger_conn=led, store=store, evidence=evidence,
                                   decryptor=row_decryptor(), upload_ahead=config.UPLOAD_AHEAD)
        return result.as_xcom()
