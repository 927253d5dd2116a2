"""Resubmit failed VA Form 21-526EZ submissions to VBA as PDF packages on S3, with a reconciliation report."""

from __future__ import annotations

from datetime import datetime, timedelta

import pendulum
from airflow.sdk import Param, TriggerRule, Variable, chain, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException
from form526_assets import REPORT_ASSET
from form526_notifier import Form526FailureNotifier
from form526_operators import DeliverBatchOperator, pg_connection, s3_client
from form526_sources import row_decryptor

from include.form526 import config
from include.form526.scope import DATE_PATTERN, KEY_PREFIX_PATTERN, S3_URI_PATTERN

DOC_MD = """
### Form 526 backlog resubmission

Replaces the production-console process that cleared ~150k silently failed disability claims.

**Story of a run** (each step is a task of the same name):

1. **begin_run** — validates the parameters (unknown keys and cross-field rules included), migrates the
   ledger, reads the optional id list from S3, registers the run.
2. **extract** — reads the vets-api database in a READ ONLY transaction (source mode `encrypted`: the
   Lockbox ciphertext columns, decrypted in memory through KMS): submissions *failed* by vets-api's own
   scope as of the run's logical time, in scope. Failed requires no claim id: an established Lighthouse
   claim without a PDF is never packaged. Explicit ids that are not failed are reported `not_eligible` /
   `not_found`, never dropped.
3. **deduplicate** — per veteran (the `user_account_id` linking the veteran's credentials, else the
   `user_uuid`), identical form content is one claim: an *established* copy first (a claim exists) skips
   every failed copy; otherwise the earliest failed copy is kept. An e-mail-notified or
   ignored-as-duplicate copy establishes nothing.
4. **plan_batches** — drops ids already delivered (unless `redeliver`), caps the run at
   `max_submissions` (oldest first), cuts batches.
5. **build_and_deliver** (mapped, one per batch) — renders `<id>.zip` (21-526EZ PDF, ancillary forms,
   the veteran's evidence as attachmentN.pdf, metadata.json, mappings.json), uploads it encrypted,
   confirms size and SHA-256, records it in the ledger. One bad submission fails alone; evidence that
   cannot be included is listed with its reason and never blocks the claim.
6. **reconcile** — runs even when batches failed: `reconciliation.csv`, `summary.json` and
   `remaining.csv` under `{key_prefix}/reports/{run}/` (the optional hand-off under
   `{key_prefix}/handoff/{run}/`), every upload checked against S3.
7. **enforce_failure_tolerance** — fails the run when more than `tolerated_failure_percent` failed.

**Airflow wiring**: extract, build_and_deliver and reconcile read the vets-api database in one pool
(`FORM526_SOURCE_DB_POOL`, default `form526_source_db`), shared with the failure triage. reconcile emits an event on
the Asset `form526_reconciliation_report` with the run id and the report URIs in its `extra`. A task that
fails for good sends one alert line (no veteran data) to the notifiers of `FORM526_ALERT_NOTIFIERS`.

Packages: `{key_prefix}/deliveries/{run}/batch-NNNN/{submission_id}.zip` plus the batch `manifest.csv`
(which holds VBA's identity columns: PII, encrypted). Logs and XCom carry ids, counts and error codes only.
"""

PARAMS = {
    "submission_ids": Param(
        None, type=["null", "array"], items={"type": "integer", "minimum": 1, "maximum": 2_147_483_647},
        maxItems=100_000,
        title="Submission ids", description="Only these submissions (form526_submissions.id). "
        "Ids that are not failed come back as not_eligible / not_found.", section="Scope"),
    "submission_ids_s3_uri": Param(
        None, type=["null", "string"], pattern=S3_URI_PATTERN, maxLength=1000,
        title="Id list on S3", description="s3://bucket/key of a CSV with a submission_id header; "
        "combined with submission_ids (union).", section="Scope"),
    "created_after": Param(
        None, type=["null", "string"], format="date", pattern=DATE_PATTERN,
        title="Created on or after", description="YYYY-MM-DD, inclusive.", section="Scope"),
    "created_before": Param(
        None, type=["null", "string"], format="date", pattern=DATE_PATTERN,
        title="Created before", description="YYYY-MM-DD, exclusive.", section="Scope"),
    "max_submissions": Param(
        config.SWEEP_MAX_SUBMISSIONS, type=["null", "integer"], minimum=1, maximum=1_000_000,
        title="Max submissions", description="Cap for this run; the oldest go first, the rest are "
        "reported deferred. Empty = all.", section="Scope"),
    "include_email_notified": Param(
        False, type="boolean", title="Include e-mail-notified",
        description="vets-api counts a submission whose latest remediation is email_notified (the veteran "
        "was told by e-mail that it failed) as remediated, so not failed. True brings them back into scope "
        "for operators who decide VBA should still establish those claims.", section="Scope"),
    "batch_size": Param(
        config.DEFAULT_BATCH_SIZE, type="integer", minimum=1, maximum=config.MAX_BATCH_SIZE,
        title="Batch size", description="Submissions per mapped task (raised automatically to stay under "
        f"{config.MAX_MAPPED_BATCHES} batches).", section="Delivery"),
    "dry_run": Param(False, type="boolean", title="Dry run",
                     description="Plan and report only; no package is written.", section="Delivery"),
    "redeliver": Param(False, type="boolean", title="Redeliver",
                       description="Also take submissions already delivered by an earlier run.",
                       section="Delivery"),
    "bucket": Param(config.BUCKET, type="string", enum=list(config.ALLOWED_BUCKETS), title="Bucket",
                    description="Delivery bucket: one of the buckets this deployment allows "
                    "(FORM526_ALLOWED_BUCKETS; default FORM526_BUCKET).", section="Delivery"),
    "key_prefix": Param(config.KEY_PREFIX, type="string", pattern=KEY_PREFIX_PATTERN, maxLength=200,
                        title="Key prefix", description="Prefix of every key written (deployment default: "
                        "FORM526_KEY_PREFIX).", section="Delivery"),
    "vba_handoff": Param(False, type="boolean", title="Presigned URLs for VBA",
                         description="Also write vba_handoff.csv (submission_id,url) with presigned GET URLs of "
                         "this run's packages, under {key_prefix}/handoff/{run}/ (a secret: its URLs download "
                         "the packages).", section="Hand-off"),
    "vba_handoff_expiry_hours": Param(24, type="integer", minimum=1, maximum=168, title="URL expiry (hours)",
                                      description="How long the presigned URLs stay valid (1 h to 7 days).",
                                      section="Hand-off"),
    "tolerated_failure_percent": Param(
        0, type="number", minimum=0, maximum=100, title="Tolerated failure %",
        description="The run fails when a larger share of the attempted submissions failed.", section="Delivery"),
}


def _as_of() -> datetime:
    ctx = get_current_context()
    return ctx.get("logical_date") or ctx["dag_run"].run_after


@dag(
    dag_id="form526_backlog_resubmission",
    schedule=config.schedule(config.SWEEP_SCHEDULE),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    max_active_tasks=config.MAX_ACTIVE_BATCHES + 2,
    params=PARAMS,
    description="Rebuild failed Form 526 submissions as VBA packages on S3, with a reconciliation report.",
    doc_md=DOC_MD,
    tags=["form526", "backlog", "vba"],
    default_args=config.default_args(on_failure_callback=Form526FailureNotifier()),
)
def form526_backlog_resubmission():
    from include.form526 import pipeline
    from include.form526.delivery.batching import PlanError
    from include.form526.scope import ScopeError, validate_params

    def scope_of(params):
        return validate_params(params, PARAMS, allowed_buckets=config.ALLOWED_BUCKETS,
                               allowed_input_buckets=config.ALLOWED_INPUT_BUCKETS)

    @task
    def begin_run(params=None, dag_run=None) -> dict:
        """Validate the parameters, migrate the ledger, read the optional id list from S3, register the run."""
        def open_csv(bucket: str, key: str):
            body = s3_client(config.S3_CONN_ID).get_object(Bucket=bucket, Key=key)["Body"]
            return body.iter_lines(keepends=True)

        with pg_connection(config.LEDGER_CONN_ID) as led:
            try:
                return pipeline.begin_run(led, run_id=dag_run.run_id, dag_id=dag_run.dag_id, as_of=_as_of(),
                                          params=params, known_params=PARAMS, open_csv=open_csv)
            except ScopeError as exc:  # bad input: retrying cannot help
                raise AirflowFailException(str(exc)) from None

    @task(pool=config.SOURCE_DB_POOL)
    def extract(run: dict, params=None) -> dict:
        """Read the failed, in-scope submissions from vets-api (READ ONLY) into the ledger's run table."""
        with pg_connection(config.SOURCE_CONN_ID) as src, pg_connection(config.LEDGER_CONN_ID) as led:
            return pipeline.extract(src, led, run_id=run["run_id"], scope=scope_of(params),
                                    as_of=datetime.fromisoformat(run["as_of"]), decryptor=row_decryptor())

    @task
    def deduplicate(run: dict) -> dict:
        """Per veteran (credentials linked by their account), keep one failed copy of identical form content (none
        when an established copy came first)."""
        with pg_connection(config.LEDGER_CONN_ID) as led:
            return pipeline.dedupe(led, run_id=run["run_id"])

    @task
    def plan_batches(run: dict, params=None) -> list[dict]:
        """Drop ids already delivered (unless redeliver), apply max_submissions, cut the batches to map over."""
        with pg_connection(config.LEDGER_CONN_ID) as led:
            try:
                return pipeline.plan(led, run_id=run["run_id"], run_key_=run["run_key"], scope=scope_of(params))
            except PlanError as exc:
                raise AirflowFailException(str(exc)) from None

    @task(trigger_rule=TriggerRule.ALL_DONE, pool=config.SOURCE_DB_POOL, outlets=[REPORT_ASSET])
    def reconcile(run: dict | None, params=None, outlet_events=None) -> dict:
        """Check every upload against S3 and write reconciliation.csv, summary.json and remaining.csv (runs even
        when batches failed); emits the report Asset event with the report URIs."""
        from include.form526.delivery.object_store import Encryption, ObjectStore

        if not run:  # the run never started (bad scope): nothing to reconcile, and the run must show failed
            raise AirflowFailException("begin_run did not register the run; see its log for the reason")

        store = ObjectStore(s3_client(config.S3_CONN_ID),
                            Encryption(Variable.get("form526_sse_kms_key_id", default="") or None))
        with pg_connection(config.SOURCE_CONN_ID) as src, pg_connection(config.LEDGER_CONN_ID) as led:
            summary = pipeline.reconcile(src, led, store, run_id=run["run_id"], run_key_=run["run_key"],
                                         scope=scope_of(params), as_of=datetime.fromisoformat(run["as_of"]),
                                         handoff_expiry_hours=params["vba_handoff_expiry_hours"]
                                         if params["vba_handoff"] else None)
        outlet_events[REPORT_ASSET].extra = {"run_id": run["run_id"], "report_keys": summary["report_keys"]}
        return summary

    @task
    def enforce_failure_tolerance(summary: dict, params=None) -> None:
        """Fail the run when a larger share of the attempted submissions failed than tolerated_failure_percent."""
        tolerated = float(params["tolerated_failure_percent"])
        if summary["failure_percent"] > tolerated:
            raise AirflowFailException(
                f"{summary['failure_percent']}% of attempted submissions failed, above the tolerated {tolerated}%; "
                f"see {summary['report_keys']['reconciliation']}")

    # scope -> extract -> deduplicate -> plan batches
    run = begin_run()
    extracted = extract(run)
    deduped = deduplicate(run)
    batches = plan_batches(run)
    chain(extracted, deduped, batches)  # each step reads what the previous one wrote to the ledger

    # build and deliver, one mapped task per batch
    delivered = DeliverBatchOperator.partial(
        task_id="build_and_deliver",
        doc_md="One planned batch: render each submission's package, upload it encrypted (in the background while "
        "the next one renders), confirm size and SHA-256, record it in the ledger. One bad submission is recorded "
        "failed and the batch goes on.",
        pool=config.SOURCE_DB_POOL,
        sse_kms_key_id="{{ var.value.get('form526_sse_kms_key_id', '') }}",
        map_index_template="batch {{ task.batch['batch_id'] }} · {{ task.batch['count'] }} submissions",
        max_active_tis_per_dagrun=config.MAX_ACTIVE_BATCHES,
        claim_ttl_minutes=config.CLAIM_TTL_MINUTES,
        execution_timeout=timedelta(minutes=config.BATCH_TIMEOUT_MINUTES),
    ).expand(batch=batches)

    # reconcile (always), then judge the run: a batch that failed after its retries fails the run
    # whatever the tolerance, which is for bad submissions, not for a broken pipeline
    summary = reconcile(run)
    judged = enforce_failure_tolerance(summary)
    chain(delivered, summary, judged)
    delivered >> judged


form526_backlog_resubmission()
