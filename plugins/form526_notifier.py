"""Failure alerts of the Form 526 DAGs: one PII-free line, logged and forwarded to the deployment's notifiers.

``Form526FailureNotifier`` is the task-level ``on_failure_callback`` of both DAGs (in ``default_args``, so
it runs in the failed task's own process, where the connections are). The alert names the task and the
exception CLASS only: an exception message may carry submission data, so it is never logged or sent.

Where the alert goes is one setting, ``FORM526_ALERT_NOTIFIERS``: a JSON list, read when a task fails::

    [{"type": "smtp", "conn_id": "smtp_default", "to": "team@example.gov"},
     {"type": "slack", "slack_conn_id": "slack_api_default", "channel": "#form526"},
     {"type": "slack_webhook", "slack_webhook_conn_id": "slack_default"}]

Each entry builds the provider's own notifier (SmtpNotifier, SlackNotifier, SlackWebhookNotifier), imported
only when used: a missing provider or a broken entry is logged as a warning and the others still go out.
The notifiers are called with ``notify()``, not ``__call__``, so the alert text is never rendered as a
Jinja template (a run id is user input).
"""

from __future__ import annotations

import html
import json
import logging
import os
from collections.abc import Callable
from typing import Any

from airflow.sdk import BaseNotifier

from include.form526.config import ALERT_NOTIFIERS_ENV

log = logging.getLogger(__name__)

# type -> (provider package, keys the entry may hold, keys it must hold)
NOTIFIER_TYPES: dict[str, tuple[str, frozenset[str], frozenset[str]]] = {
    "smtp": ("apache-airflow-providers-smtp", frozenset({"conn_id", "to", "from_email"}), frozenset({"to"})),
    "slack": ("apache-airflow-providers-slack", frozenset({"slack_conn_id", "channel"}), frozenset()),
    "slack_webhook": ("apache-airflow-providers-slack", frozenset({"slack_webhook_conn_id"}), frozenset()),
}


class NotifierSettingError(ValueError):
    """FORM526_ALERT_NOTIFIERS is not a list of valid entries (the message names positions, never values)."""


def parse_notifiers(setting: str | None) -> list[dict[str, Any]]:
    """The entries of a FORM526_ALERT_NOTIFIERS value; empty or unset means none."""
    if not setting or not setting.strip():
        return []
    try:
        entries = json.loads(setting)
    except ValueError:
        raise NotifierSettingError(f"{ALERT_NOTIFIERS_ENV} is not valid JSON") from None
    if not isinstance(entries, list):
        raise NotifierSettingError(f"{ALERT_NOTIFIERS_ENV} must be a JSON list")
    for i, entry in enumerate(entries):
        kind = entry.get("type") if isinstance(entry, dict) else None
        if kind not in NOTIFIER_TYPES:
            raise NotifierSettingError(f"{ALERT_NOTIFIERS_ENV}[{i}]: type must be one of {sorted(NOTIFIER_TYPES)}")
        _, allowed, required = NOTIFIER_TYPES[kind]
        keys = set(entry) - {"type"}
        if keys - allowed or required - keys:
            raise NotifierSettingError(f"{ALERT_NOTIFIERS_ENV}[{i}] ({kind}): allowed keys {sorted(allowed)}, "
                                       f"required {sorted(required)}")
    return entries


def alert_message(context: Any) -> str:
    """The one alert line: dag, task, run, map index, try and exception class. Nothing else from the context."""
    ti = context.get("task_instance") or context.get("ti")
    error = context.get("exception")
    fields = {
        "dag_id": getattr(ti, "dag_id", "?"),
        "task_id": getattr(ti, "task_id", "?"),
        "run_id": getattr(ti, "run_id", "?"),
        "map_index": getattr(ti, "map_index", "?"),
        "try_number": getattr(ti, "try_number", "?"),
        "exception": type(error).__name__ if isinstance(error, BaseException) else "none",
    }
    return "form526 alert: task failed " + " ".join(f"{k}={v}" for k, v in fields.items())


def _build(entry: dict[str, Any], message: str, subject: str) -> Any:
    """The provider notifier of one entry (ImportError when its provider is not installed)."""
    kind = entry["type"]
    if kind == "smtp":
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        return SmtpNotifier(to=entry["to"], from_email=entry.get("from_email"), smtp_conn_id=entry.get("conn_id"),
                            subject=subject, html_content=f"<pre>{html.escape(message)}</pre>")
    if kind == "slack":
        from airflow.providers.slack.notifications.slack import SlackNotifier

        return SlackNotifier(slack_conn_id=entry.get("slack_conn_id", "slack_api_default"), text=message,
                             **({"channel": entry["channel"]} if "channel" in entry else {}))
    from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

    return SlackWebhookNotifier(slack_webhook_conn_id=entry.get("slack_webhook_conn_id", "slack_default"),
                                text=message)


class Form526FailureNotifier(BaseNotifier):
    """on_failure_callback of the Form 526 tasks: logs one PII-free alert line and forwards it.

    ``setting`` overrides FORM526_ALERT_NOTIFIERS (read when the task fails, in the task's process).
    """

    def __init__(self, setting: str | None = None) -> None:
        super().__init__()
        self.setting = setting

    def notify(self, context: Any) -> None:
        """Log the alert line, then forward it; never raises (alerting must not hide the failure)."""
        message = alert_message(context)
        log.warning("%s", message)
        self.forward(message, context)

    def forward(self, message: str, context: Any | None = None) -> int:
        """Send ``message`` to every configured notifier; returns how many accepted it."""
        setting = self.setting if self.setting is not None else os.environ.get(ALERT_NOTIFIERS_ENV, "")
        try:
            entries = parse_notifiers(setting)
        except NotifierSettingError as exc:
            log.warning("alert not forwarded: %s", exc)
            return 0
        ti = (context or {}).get("task_instance") or (context or {}).get("ti")
        subject = f"[form526] {getattr(ti, 'dag_id', '?')}.{getattr(ti, 'task_id', '?')} failed"
        sent = 0
        for i, entry in enumerate(entries):
            kind = entry["type"]
            try:
                notifier = _build(entry, message, subject)
            except ImportError:
                log.warning("%s[%d]: type %s needs %s, which is not installed; skipped", ALERT_NOTIFIERS_ENV, i,
                            kind, NOTIFIER_TYPES[kind][0])
                continue
            sent += _send(notifier.notify, dict(context or {}), i, kind)
        return sent


def _send(notify: Callable[[Any], None], context: Any, index: int, kind: str) -> int:
    try:
        notify(context)
    except Exception as exc:  # a broken channel must not stop the others; the class only (messages may hold data)
        log.warning("%s[%d]: %s notifier failed with %s", ALERT_NOTIFIERS_ENV, index, kind, type(exc).__name__)
        return 0
    return 1
