"""Explain new Form 526 failures every day: grouped error keys, ancillary failures, trend and backlog."""

from __future__ import annotations

import logging

import pendulum
from airflow.sdk import Param, Variable, chain, dag, task
from form526_assets import REPORT_ASSET
from form526_notifier import Form526FailureNotifier
from form526_operators import pg_connection, s3_client

from include.form526 import config, triage
from include.form526.scope import DATE_PATTERN, KEY_PREFIX_PATTERN

log = logging.getLogger(__name__)

SCHEDULE = config.TRIAGE_SCHEDULE

DOC_MD = f"""
### Form 526 failure triage

A daily report of the submissions that **became failed** in a window and **why**, so new failures are
seen and followed up instead of silently joining the backlog.

**Story of a run** (each step is a task of the same name):

1. **resolve_window** — the window is the run's data interval, or `window_start` / `window_end`
   (whole UTC days, end exclusive; one date alone means that one day). Failures are judged as of the
   window end (as of now if the end is in the future).
2. **triage** — reads the vets-api tables in one READ ONLY snapshot and the delivery ledger read-only
   (no ledger tables yet = nothing delivered; the triage never writes to a database), then writes
   `triage.csv`, `summary.json` and `trend.png` (SSE) under `{{key_prefix}}/triage/{{window end date}}/`
   and logs the same table. A re-run of a window overwrites its report.
3. **check_threshold** — fails the run (counts only in the message) when more than `alert_threshold`
   submissions became failed, so the red run is seen.

**Definitions**

* *failed*: the vets-api definition (`include/form526/source/sql/submission_state.sql`).
* *became failed in the window*: failed, and the moment it stopped being in flight falls in the
  window — the earliest of: 21 days after creation; the first backup job exhausted / non-retryable; the
  backup rejection; the first remediation of a backup upload; later than all of these, the latest
  remediation if a remediation once succeeded, or since a remediation row was marked unsuccessful.
  So each submission counts on exactly one day, and the ones that fail only by ageing out (never
  attempted, stuck in `try`, no backup status) are counted too. Job status rows are updated in place,
  so this is estimated from today's rows (see `include/form526/triage/sql/states.sql`).
* *why*: every failing primary/backup job row of those submissions (statuses
  {", ".join(triage.FAILING_STATUSES)}; the error from the columns, else from the newest `bgjob_errors`
  entry with one), `backup_rejected:no_reason_recorded` for a backup rejected downstream (vets-api stores
  no reason), or `no_job_error:<why>` when a path recorded nothing. Rows are grouped by section, path (primary /
  backup), job class, error class and a normalised **error key** (in the spirit of vets-api's
  `form526:errors` rake task): EVSS Ruby-inspect lists are parsed with `=>` read as `:`, `[n]` indexes
  dropped, several keys sorted and joined with `-`, FATAL texts kept, validation (ERROR) texts dropped;
  GUIDs, timestamps, e-mail addresses, long hex ids and digit runs of 6+ stripped; EVSS codes and fixed
  numbers kept; the submission's own names, ids, birth date and address replaced by
  [NAME]/[ID]/[DOB]/[ADDRESS]. An error message that does not parse
  becomes `unparsed:<ErrorClass>` — it never stops the report. Each row counts submissions, distinct
  veterans (veteran_key), job failures, first/last seen and gives a few example submission ids.
* *established without PDF*: claims_api claims VBA established whose PDF was never confirmed — not
  failures; listed in their own section (by creation day) so someone uploads the PDF.
* *ancillary failures* ({", ".join(triage.ANCILLARY_JOB_CLASSES)}) failing in the window have their own
  section: they do not make a submission failed, but someone must follow them up.
* *trend*: per day for the last {triage.TREND_DAYS} days, submissions that became failed, ancillary job
  failures and the backlog at the end of the day. *backlog* (headline) = failed as of the window end
  minus the ids the ledger holds as `uploaded` or `duplicate` when the report runs; the daily figures
  count only deliveries made by the end of that day.

An empty window gives an empty report that says so (`"empty": true`).

**Alerting**: every task's `on_failure_callback` is `Form526FailureNotifier` (`plugins/form526_notifier.py`,
shared with the backlog DAG). It logs one line — DAG, task, run, map index, try and the exception *class*,
never its message — and forwards the same line to the notifiers listed in `{config.ALERT_NOTIFIERS_ENV}`
(JSON), e.g. `[{{"type": "smtp", "conn_id": "smtp_default", "to": "team@example.gov"}},
{{"type": "slack", "slack_conn_id": "slack_api_default", "channel": "#form526"}}]` (types `smtp`, `slack`,
`slack_webhook`; Airflow's own provider notifiers). So a red **check_threshold** reaches the team.

**Airflow wiring**: the **triage** task reads the vets-api database in the pool `{config.SOURCE_DB_POOL}`
(shared with the backlog DAG's readers) and declares the backlog's reconciliation report Asset
(`{REPORT_ASSET.name}`) as an inlet: the lineage shows which report the backlog figure follows. The
schedule stays a daily cron, not the Asset.

**Schedule**: `FORM526_TRIAGE_SCHEDULE` (cron, default `{triage.DEFAULT_SCHEDULE}`: 06:30 UTC, after the
02:00 backlog sweep; `none` turns it off). `start_date` is 2026-11-01 and `catchup` is off, so a fresh
install does not queue one run per past day (and fire as many alerts). Fill past days on purpose with
`airflow backfill create --dag-id form526_failure_triage --from-date 2026-11-01 --to-date 2026-11-28`,
or trigger with `window_start`/`window_end` for any ad-hoc window.

Logs, XCom and the report hold ids, counts, classes and error keys only — never names, SSNs or
addresses.
"""

PARAMS = {
    "window_start": Param(
        None, type=["null", "string"], format="date", pattern=DATE_PATTERN, title="Window start",
        description="YYYY-MM-DD, inclusive, 00:00 UTC. Empty: the run's data interval (or the day before "
        "window_end).", section="Window"),
    "window_end": Param(
        None, type=["null", "string"], format="date", pattern=DATE_PATTERN, title="Window end",
        description="YYYY-MM-DD, exclusive, 00:00 UTC; names the report folder. Empty: the run's data "
        "interval (or the day after window_start).", section="Window"),
    "alert_threshold": Param(
        triage.DEFAULT_ALERT_THRESHOLD, type=["null", "integer"], minimum=0, maximum=10_000_000,
        title="Alert threshold", description="check_threshold fails the run when MORE submissions than this "
        "became failed in the window. Empty: never.", section="Alerting"),
    "bucket": Param(config.BUCKET, type="string", enum=list(config.ALLOWED_BUCKETS), title="Bucket",
                    description="Report bucket: one this deployment allows (FORM526_ALLOWED_BUCKETS; default "
                    "FORM526_BUCKET).", section="Output"),
    "key_prefix": Param(config.KEY_PREFIX, type="string", pattern=KEY_PREFIX_PATTERN, maxLength=200,
                        title="Key prefix", description="Reports go to {key_prefix}/triage/{date}/ (deployment "
                        "default: FORM526_KEY_PREFIX).", section="Output"),
}


@dag(
    dag_id="form526_failure_triage",
    schedule=config.schedule(SCHEDULE),
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params=PARAMS,
    description="Daily report of the Form 526 submissions that became failed, grouped by cause; alerts over a "
    "threshold.",
    doc_md=DOC_MD,
    tags=["form526", "triage", "monitoring"],
    default_args=config.default_args(on_failure_callback=Form526FailureNotifier()),
)
def form526_failure_triage():
    @task
    def resolve_window(params=None, data_interval_start=None, data_interval_end=None) -> dict:
        """Check the parameters and settle the window: the run's data interval, or window_start/window_end."""
        from airflow.sdk.exceptions import AirflowFailException

        from include.form526.scope import ScopeError, check_bucket, check_key_prefix

        unknown = sorted(set(params) - set(PARAMS))
        try:
            if unknown:
                raise triage.TriageParamError(f"unknown parameter(s): {', '.join(unknown)}; "
                                              f"allowed: {', '.join(sorted(PARAMS))}")
            window = triage.resolve_window(params, interval_start=data_interval_start,
                                           interval_end=data_interval_end, now=pendulum.now("UTC"))
            settings = {"alert_threshold": triage.check_threshold_param(params.get("alert_threshold")),
                        "bucket": check_bucket(params["bucket"], config.ALLOWED_BUCKETS),
                        "key_prefix": check_key_prefix(params["key_prefix"])}
        except (triage.TriageParamError, ScopeError) as exc:  # bad input: retrying cannot help
            raise AirflowFailException(str(exc)) from None
        log.info("triage window [%s, %s) from %s, judged as of %s", window.start, window.end, window.source,
                 window.judged_as_of)
        return {"window": window.as_dict(), **settings}

    @task(task_id="triage", pool=config.SOURCE_DB_POOL, inlets=[REPORT_ASSET])
    def triage_window(run: dict, dag_run=None) -> dict:
        """Read the window's new failures (vets-api, read only) and the ledger; publish triage.csv, summary.json
        and trend.png; log the table. Returns counts and the report keys."""
        from form526_sources import row_decryptor

        from include.form526.delivery.object_store import Encryption, ObjectStore

        window = triage.Window.from_dict(run["window"])
        with pg_connection(config.SOURCE_CONN_ID) as src, pg_connection(config.LEDGER_CONN_ID) as led:
            report = triage.run_triage(src, led, window, alert_threshold=run["alert_threshold"],
                                       run_id=dag_run.run_id, pending_window_days=config.PENDING_WINDOW_DAYS,
                                       decryptor=row_decryptor())
        store = ObjectStore(s3_client(config.S3_CONN_ID),
                            Encryption(Variable.get("form526_sse_kms_key_id", default="") or None))
        keys = triage.publish(store, report, bucket=run["bucket"], key_prefix=run["key_prefix"])
        log.info("failure triage report\n%s\nreport: %s", triage.log_table(report), keys["summary"])
        return {"date": window.date, "empty": report.empty, "new_failures": report.new_failures,
                "new_failure_veterans": report.new_failure_veterans,
                "ancillary_job_failures": report.ancillary_job_failures, "backlog": report.backlog,
                "alert_threshold": report.alert_threshold, "over_threshold": report.over_threshold, "keys": keys}

    @task
    def check_threshold(summary: dict) -> None:
        """Fail the run (counts only in the message) when more submissions became failed than alert_threshold."""
        from airflow.sdk.exceptions import AirflowFailException

        if summary["over_threshold"]:
            raise AirflowFailException(
                f"{summary['new_failures']} submissions became failed in the window, above the alert threshold "
                f"of {summary['alert_threshold']}; see {summary['keys']['summary']}")
        log.info("%d submissions became failed in the window; alert threshold %s not exceeded",
                 summary["new_failures"], summary["alert_threshold"])

    # window -> triage (read, group, publish) -> alert
    run = resolve_window()
    summary = triage_window(run)
    chain(run, summary, check_threshold(summary))


form526_failure_triage()
