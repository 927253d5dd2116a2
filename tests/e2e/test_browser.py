"""What a reviewer sees in the Airflow UI, checked in a real browser (Playwright driving Debian's Chromium).

The tests run against the live Airflow of the e2e package (``conftest.py``: API server, scheduler, DAG
processor, Celery worker) and its REST-triggered backlog run: log in; the trigger form's sections, titles and
descriptions; a batch size of -1 refused with a message naming the field; a valid trigger from the form
starting a run; the mapped batches under their readable labels; the reconcile and triage logs with their
tables (error codes, no PII); the extra links to what the tasks wrote on S3, followed to the objects.

A screenshot is saved at each step under ``out/ui/`` (a few are committed under ``docs/ui/``). Playwright's
own browser download is not used: the system Chromium (``FORM526_CHROMIUM``, default ``/usr/bin/chromium``;
``apt-get install chromium``). Without it the tests skip, except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from include.form526.scope import run_key
from tests import helpers as h
from tests.e2e.support import BACKLOG_DAG_ID, BATCH_SIZE, ROOT, TRIAGE_DAG_ID, skip_or_fail

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(720)]

SHOTS = ROOT / "out" / "ui"
SECTIONS = ("Scope", "Delivery", "Hand-off")
LABEL = re.compile(r"^batch \d{4} · \d+ submissions$")


def chromium_path() -> str | None:
    """The system Chromium: ``FORM526_CHROMIUM``, else /usr/bin/chromium, else ``chromium`` on PATH."""
    for candidate in (os.environ.get("FORM526_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


class UI:
    """A logged-in browser page on the live Airflow, with a screenshot per step."""

    def __init__(self, page: Any, live: Any) -> None:
        self.page, self.live, self.step = page, live, 0

    def shot(self, name: str) -> Path:
        self.step += 1
        path = SHOTS / f"{self.step:02d}-{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def goto(self, path: str) -> None:
        self.page.goto(self.live.url + path)
        self.page.wait_for_load_state("networkidle")

    def run_path(self, run_id: str, dag_id: str = BACKLOG_DAG_ID) -> str:
        return f"/dags/{dag_id}/runs/{quote(run_id, safe='')}"

    def open_trigger_form(self) -> Any:
        self.goto(f"/dags/{BACKLOG_DAG_ID}")
        self.page.get_by_role("button", name="Trigger").first.click()
        dialog = self.page.get_by_role("dialog")
        dialog.get_by_text("Trigger Dag - " + BACKLOG_DAG_ID).wait_for()
        return dialog

    def open_section(self, dialog: Any, name: str) -> None:
        """Expand one accordion section of the trigger form (the form shows one at a time)."""
        dialog.get_by_role("button", name=name, exact=True).click()
        self.page.wait_for_timeout(300)  # the accordion animation; the checks below wait for content anyway


@pytest.fixture(scope="module")
def ui(live) -> Iterator[UI]:
    """Chromium for this module only (Playwright's sync API holds an event loop while it runs), logged in through
    the login form."""
    from playwright.sync_api import expect, sync_playwright

    exe = chromium_path()
    if exe is None:
        skip_or_fail("no Chromium (apt-get install chromium, or set FORM526_CHROMIUM)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    with sync_playwright() as pw:
        # Chromium's sandbox refuses to run as root (CI containers)
        browser = pw.chromium.launch(executable_path=exe, headless=True,
                                     args=["--no-sandbox"] if os.geteuid() == 0 else [])
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.set_default_timeout(30_000)
        page = context.new_page()
        session = UI(page, live)
        session.goto("/")
        expect(page.get_by_text("Sign into Airflow")).to_be_visible()
        page.get_by_label("Username").fill(live.username)
        page.get_by_label("Password").fill(live.password)
        session.shot("login")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"^(?!.*/auth/login).*$"))
        try:
            yield session
        finally:
            context.close()
            browser.close()


def dag_params(live, dag_id: str = BACKLOG_DAG_ID) -> dict[str, Any]:
    """The DAG's params as the UI gets them (value, schema with title and section, description)."""
    r = live.api("GET", f"/dags/{dag_id}/details")
    assert r.status_code == 200, r.text
    return r.json()["params"]


def run_count(live) -> int:
    return live.api("GET", f"/dags/{BACKLOG_DAG_ID}/dagRuns").json()["total_entries"]


def log_text(ui: UI, marker: str) -> str:
    """The text of a task's log page once ``marker`` is shown."""
    ui.page.get_by_text(marker).first.wait_for()
    return ui.page.inner_text("body")


def extra_links(live, run_id: str, task_id: str, map_index: int = -1, dag_id: str = BACKLOG_DAG_ID) -> dict:
    r = live.api("GET", f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}/links",
                 params={"map_index": map_index})
    assert r.status_code == 200, r.text
    return r.json()["extra_links"]


def check_link_buttons(ui: UI, expected: dict[str, str | None]) -> None:
    """The task's Details tab shows one link per non-empty extra link, to the URL the API gives."""
    from playwright.sync_api import expect

    ui.page.get_by_text("Extra Links", exact=True).wait_for()
    for name, url in expected.items():
        link = ui.page.get_by_role("link", name=name, exact=True)
        if url is None:
            expect(link).to_have_count(0)
        else:
            expect(link).to_have_attribute("href", url)


# --------------------------------------------------------------------------- trigger form


def test_login_lands_on_the_pipeline_dags(ui, live):
    live.wait_for_dag()
    ui.goto("/dags")
    for dag_id in (BACKLOG_DAG_ID, TRIAGE_DAG_ID):
        ui.page.get_by_role("link", name=dag_id, exact=True).first.wait_for()
    ui.shot("dag-list")


def test_trigger_form_shows_each_section_with_titles_and_descriptions(ui, live):
    from playwright.sync_api import expect

    params = dag_params(live)
    assert {p["schema"].get("section") for p in params.values()} == set(SECTIONS)
    dialog = ui.open_trigger_form()
    for section in SECTIONS:
        expect(dialog.get_by_role("button", name=section, exact=True)).to_be_visible()
    for section in SECTIONS:
        ui.open_section(dialog, section)
        for p in params.values():
            if p["schema"]["section"] != section:
                continue
            # the field's label carries the title and its helper text the description
            expect(dialog.locator("label", has_text=p["schema"]["title"]).first).to_be_visible()
            expect(dialog.get_by_text(p["description"], exact=True)).to_be_visible()
        ui.shot(f"trigger-form-{section.lower()}")
    ui.page.keyboard.press("Escape")


def test_negative_batch_size_is_refused_with_a_message_naming_the_field(ui, live, triggered):
    """After the REST-triggered run: the form unpauses a paused DAG on Trigger even when the run is refused."""
    from playwright.sync_api import expect

    before = run_count(live)
    dialog = ui.open_trigger_form()
    # typed into the number field, -1 does not survive leaving the field (the form keeps it within 1..5000)
    ui.open_section(dialog, "Delivery")
    field = dialog.locator("input[name=element_batch_size]")
    field.fill("-1")
    field.press("Tab")
    assert field.input_value() != "-1"
    ui.page.keyboard.press("Escape")

    # sent as the run's configuration JSON, it is refused before any run exists, naming the field
    conf = {name: p["value"] for name, p in dag_params(live).items()} | {"batch_size": -1}
    dialog = ui.open_trigger_form()
    ui.open_section(dialog, "Advanced Options")
    dialog.locator(".monaco-editor .view-lines").filter(has_text="submission_ids").click()
    ui.page.keyboard.press("Control+a")
    ui.page.keyboard.press("Delete")
    ui.page.keyboard.insert_text(json.dumps(conf))  # one line: the editor re-indents typed newlines
    dialog.get_by_text("Configuration JSON", exact=True).click()
    with ui.page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/dagRuns")) as answer:
        dialog.get_by_test_id("trigger-dag-submit").click()
    assert answer.value.status == 400
    message = dialog.get_by_text(re.compile(r"Invalid input for param batch_size: -1 is less than the minimum of 1"))
    expect(message).to_be_visible()
    message.scroll_into_view_if_needed()
    ui.shot("batch-size-refused")
    assert run_count(live) == before
    ui.page.keyboard.press("Escape")


def test_a_valid_trigger_from_the_form_starts_a_run(ui, live, triggered):
    """After the REST-triggered run (so the two never overlap): a dry run with the form's own fields."""
    from playwright.sync_api import expect

    prefix = f"ui-{uuid.uuid4().hex[:8]}"
    dialog = ui.open_trigger_form()
    ui.open_section(dialog, "Delivery")
    size = dialog.locator("input[name=element_batch_size]")
    size.fill(str(BATCH_SIZE))
    size.press("Tab")
    dialog.locator("label:has(input[name=element_dry_run])").click()
    dialog.locator("input[name=element_key_prefix]").fill(prefix)
    expect(dialog.locator("input[name=element_dry_run]")).to_be_checked()
    ui.shot("trigger-form-filled")
    with ui.page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/dagRuns")) as answer:
        dialog.get_by_test_id("trigger-dag-submit").click()
    assert answer.value.status == 200, answer.value.text()
    run = answer.value.json()
    assert {k: run["conf"][k] for k in ("batch_size", "dry_run", "key_prefix")} == {
        "batch_size": BATCH_SIZE, "dry_run": True, "key_prefix": prefix}
    ended = live.wait_for_run(run["dag_run_id"], timeout=300)
    assert ended["state"] == "success", live.task_states(run["dag_run_id"])
    ui.goto(ui.run_path(run["dag_run_id"]))
    expect(ui.page.get_by_text(run["dag_run_id"]).first).to_be_visible()
    ui.shot("form-run-done")


# --------------------------------------------------------------------------- grid, logs, links


def test_grid_lists_the_mapped_batches_by_their_labels(ui, live, triggered):
    from playwright.sync_api import expect

    mapped = sorted((t for t in triggered["tis"] if t["task_id"] == "build_and_deliver"), key=lambda t: t["map_index"])
    labels = [t["rendered_map_index"] for t in mapped]
    assert len(labels) > 1 and all(LABEL.match(label or "") for label in labels), labels
    ui.goto(ui.run_path(triggered["run_id"]) + "/tasks/build_and_deliver/mapped")
    expect(ui.page.get_by_text(f"{len(mapped)} Task Instances")).to_be_visible()
    rows = ui.page.get_by_role("link", name=LABEL)
    expect(rows.first).to_be_visible()
    shown = rows.all_inner_texts()
    assert shown and set(shown) <= set(labels), shown
    assert labels[0] in shown
    ui.shot("grid-mapped-batches")


def test_batch_log_ends_with_its_counts_and_error_codes(ui, triggered, services):
    ui.goto(ui.run_path(triggered["run_id"]) + "/tasks/build_and_deliver/mapped/0")
    text = log_text(ui, "batch 0001 summary")
    assert re.search(r"batch 0001 summary: uploaded=\d+ .*failed=\d+ .*errors=\{", text), text[-2000:]
    assert h.find_pii(text, h.seeded_pii(services)) == []
    ui.shot("batch-log")


def test_reconcile_log_shows_the_summary_table_with_error_codes_and_no_pii(ui, triggered, services):
    _, summary = h.report_of(services, run_key(triggered["run_id"]), prefix=triggered["prefix"])
    assert summary["by_error_code"], "the seeded run should have failed submissions"
    ui.goto(ui.run_path(triggered["run_id"]) + "/tasks/reconcile")
    text = log_text(ui, "reconciliation report")
    for status, count in summary["by_status"].items():
        assert re.search(rf"^\s*{status}\s+{count}\s*$", text, re.M), (status, text[-3000:])
    assert re.search(rf"^\s*considered\s+{summary['considered']}\s*$", text, re.M)
    for code, count in summary["by_error_code"].items():  # a failed submission's error code, with its count
        assert re.search(rf"^\s*{re.escape(code)}\s+{count}\s*$", text, re.M), (code, text[-3000:])
    assert f"report: {summary['report_keys']['reconciliation']}" in text
    assert h.find_pii(text, h.seeded_pii(services)) == []
    ui.page.get_by_text("reconciliation report").first.scroll_into_view_if_needed()
    ui.shot("reconcile-log")


def test_extra_links_in_the_ui_lead_to_the_objects_on_s3(ui, live, triggered):
    run_id, prefix, key = triggered["run_id"], triggered["prefix"], run_key(triggered["run_id"])
    batch = extra_links(live, run_id, "build_and_deliver", map_index=0)
    assert batch["S3 batch folder"]
    ui.goto(ui.run_path(run_id) + "/tasks/build_and_deliver/mapped/0/details")
    check_link_buttons(ui, batch)
    ui.shot("batch-extra-link")

    report = extra_links(live, run_id, "reconcile")
    assert report["reconciliation.csv"] and report["summary.json"]
    ui.goto(ui.run_path(run_id) + "/tasks/reconcile/details")
    check_link_buttons(ui, report)
    ui.shot("reconcile-extra-links")
    # following a link (it opens a new tab) lands on the object the task wrote
    with ui.page.context.expect_page() as opened:
        ui.page.get_by_role("link", name="summary.json", exact=True).click()
    target = opened.value
    target.wait_for_load_state()
    assert f"<Key>{prefix}/reports/{key}/summary.json</Key>" in target.content()
    target.screenshot(path=str(SHOTS / f"{ui.step + 1:02d}-extra-link-target.png"))
    ui.step += 1
    target.close()


# --------------------------------------------------------------------------- triage


@pytest.fixture(scope="module")
def triage_run(live, triggered) -> dict[str, Any]:
    """One triage run over the seeded data (its report under the backlog run's prefix), waited for."""
    assert live.api("PATCH", f"/dags/{TRIAGE_DAG_ID}", json={"is_paused": False}).status_code == 200
    conf = {"key_prefix": triggered["prefix"], "alert_threshold": None}
    r = live.api("POST", f"/dags/{TRIAGE_DAG_ID}/dagRuns", json={"logical_date": None, "conf": conf})
    assert r.status_code == 200, r.text
    run_id = r.json()["dag_run_id"]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        run = live.api("GET", f"/dags/{TRIAGE_DAG_ID}/dagRuns/{quote(run_id, safe='')}").json()
        if run.get("state") in ("success", "failed"):
            return run
        live.check_alive()
        time.sleep(2)
    raise TimeoutError(f"triage run {run_id} not done after 300s\n{live.diagnostics()}")


def test_triage_log_shows_its_table_and_links_to_its_outputs(ui, live, triage_run, triggered, services):
    run_id = triage_run["dag_run_id"]
    assert triage_run["state"] == "success", triage_run
    ui.goto(ui.run_path(run_id, TRIAGE_DAG_ID) + "/tasks/triage")
    text = log_text(ui, "failure triage report")
    for heading in ("NEW FAILURES (submissions that became failed)", "ANCILLARY FAILURES", "backlog:",
                    "trend, last"):
        assert heading in text, (heading, text[-3000:])
    assert re.search(r"path\s+subs\s+vets\s+jobs\s+job class\s+error class\s+error key", text)
    assert h.find_pii(text, h.seeded_pii(services)) == []
    ui.page.get_by_text("failure triage report").first.scroll_into_view_if_needed()
    ui.shot("triage-log")

    links = extra_links(live, run_id, "triage", dag_id=TRIAGE_DAG_ID)
    assert {k for k, v in links.items() if v} == {"triage.csv", "summary.json", "trend.png"}
    assert all(f"{quote(triggered['prefix'] + '/triage/', safe='')}" in links[k] for k in ("triage.csv", "trend.png"))
    ui.goto(ui.run_path(run_id, TRIAGE_DAG_ID) + "/tasks/triage/details")
    check_link_buttons(ui, links)
    ui.shot("triage-extra-links")
