"""Extra links from the pipeline's tasks to what they wrote on S3, as buttons on the task instance page.

The backlog's mapped ``build_and_deliver`` links to its batch folder; ``reconcile`` to ``reconciliation.csv``
and ``summary.json``; the triage's ``triage`` task to ``triage.csv``, ``summary.json`` and ``trend.png``.
``reconcile`` and ``triage`` are TaskFlow tasks, so the links are global operator links (a plugin's
``global_operator_extra_links``): the API server asks every link of every task and each answers only for the
tasks in ``TARGETS`` (``None`` elsewhere, which the UI hides).

A link is built from the S3 URI the task itself wrote to XCom (the batch folder the operator pushed under
``config.BATCH_PREFIX_XCOM_KEY``, the report URIs in the reconcile / triage return value), never from the task's
input or from submission data: keys hold run ids, batch numbers and file names only. The URL is the
deployment's ``FORM526_S3_CONSOLE_URL_TEMPLATE`` (``include/form526/config.py``): the AWS console by
default, the MinIO console in compose.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from airflow.plugins_manager import AirflowPlugin
from airflow.sdk import BaseOperatorLink

from include.form526 import config

if TYPE_CHECKING:
    from airflow.models.taskinstancekey import TaskInstanceKey

log = logging.getLogger(__name__)

BACKLOG_DAG_ID = "form526_backlog_resubmission"
TRIAGE_DAG_ID = "form526_failure_triage"

Picker = Callable[[Any], Any]
"""Takes the XCom value, returns the S3 URI the link points to (or None)."""


def _report_key(field: str, name: str) -> Picker:
    return lambda value: ((value or {}).get(field) or {}).get(name) if isinstance(value, dict) else None


# link name -> {(dag_id, task_id): (XCom key, picker)}
TARGETS: dict[str, dict[tuple[str, str], tuple[str, Picker]]] = {
    "S3 batch folder": {(BACKLOG_DAG_ID, "build_and_deliver"): (config.BATCH_PREFIX_XCOM_KEY, lambda value: value)},
    "reconciliation.csv": {(BACKLOG_DAG_ID, "reconcile"): ("return_value", _report_key("report_keys",
                                                                                        "reconciliation"))},
    "summary.json": {(BACKLOG_DAG_ID, "reconcile"): ("return_value", _report_key("report_keys", "summary")),
                     (TRIAGE_DAG_ID, "triage"): ("return_value", _report_key("keys", "summary"))},
    "triage.csv": {(TRIAGE_DAG_ID, "triage"): ("return_value", _report_key("keys", "csv"))},
    "trend.png": {(TRIAGE_DAG_ID, "triage"): ("return_value", _report_key("keys", "chart"))},
}


def split_s3_uri(uri: Any) -> tuple[str, str] | None:
    """(bucket, key) of ``s3://bucket/key``; None for anything else."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        return None
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return (bucket, key) if bucket and key else None


def console_url(bucket: str, key: str, template: str | None = None) -> str:
    """The console URL of an object (or of a prefix, when ``key`` ends with ``/``) from the URL template."""
    return (template or config.S3_CONSOLE_URL_TEMPLATE).format(
        bucket=quote(bucket, safe=""), key=quote(key, safe=""),
        key_b64=quote(base64.b64encode(key.encode()).decode(), safe=""),
        view="buckets" if key.endswith("/") else "object")


def _xcom_value(ti_key: TaskInstanceKey, key: str) -> Any:
    """One XCom value of a task instance, read from the metadata database (links run in the API server)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.execute(XComModel.get_many(
            key=key, run_id=ti_key.run_id, dag_ids=ti_key.dag_id, task_ids=ti_key.task_id,
            map_indexes=ti_key.map_index).with_only_columns(XComModel.value)).first()
    if row is None:
        return None
    value = row.value
    if isinstance(value, str | bytes):  # stored as JSON text by some paths, as JSON by others
        with contextlib.suppress(ValueError):
            value = json.loads(value)
    return value


class S3OutputLink(BaseOperatorLink):
    """A link to one S3 object or prefix a task wrote; subclasses name it and list the tasks in ``TARGETS``."""

    name: ClassVar[str] = ""

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str | None:  # type: ignore[override]
        target = TARGETS[self.name].get((ti_key.dag_id, ti_key.task_id))
        if target is None:
            return None
        xcom_key, pick = target
        try:
            where = split_s3_uri(pick(_xcom_value(ti_key, xcom_key)))
        except Exception:  # a link must never break the task page
            log.warning("extra link %s of %s.%s: XCom not readable", self.name, ti_key.dag_id, ti_key.task_id)
            return None
        return console_url(*where) if where else None


class BatchFolderLink(S3OutputLink):
    name = "S3 batch folder"


class ReconciliationCsvLink(S3OutputLink):
    name = "reconciliation.csv"


class SummaryJsonLink(S3OutputLink):
    name = "summary.json"


class TriageCsvLink(S3OutputLink):
    name = "triage.csv"


class TrendPngLink(S3OutputLink):
    name = "trend.png"


LINKS: list[S3OutputLink] = [BatchFolderLink(), ReconciliationCsvLink(), SummaryJsonLink(), TriageCsvLink(),
                             TrendPngLink()]


class Form526LinksPlugin(AirflowPlugin):
    """Registers the S3 output links of the Form 526 DAGs."""

    name = "form526_links"
    global_operator_extra_links = LINKS
