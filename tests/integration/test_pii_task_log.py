"""The log safety net in a real task process: an exception carrying an SSN, in any spelling, is redacted in
the task log file the supervisor writes, while ordinary ids stay readable.

A real Airflow (tools/airflow_local.py, LocalExecutor, PostgreSQL metadata) runs a tiny probe DAG from a
temporary dags folder. The probe imports the project's operator plugin, as the project DAGs do, which is
what installs the net (include/form526/pii.py) in each task process.
"""

from __future__ import annotations

import json
import re
import textwrap
import time
from pathlib import Path

import pytest

from tools.airflow_local import LocalAirflow

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

DAG_ID = "form526_pii_log_probe"
SUBMISSION_ID = 40012345  # an ordinary 8-digit id: must stay readable
SPELLINGS = {"dash": "078-05-1120", "space": "078 05 1120", "dot": "078.05.1120", "labelled": "SSN:078051120"}
ANY_SPELLING = re.compile(r"078\D{0,3}05\D{0,3}1120")

PROBE_DAG = textwrap.dedent('''
    """Probe for tests/integration/test_pii_task_log.py: log and raise values an SSN might hide in."""
    import logging

    import pendulum
    import structlog
    from airflow.sdk import dag, task

    import form526_operators  # noqa: F401  the project DAGs import it; it installs the log safety net

    SPELLINGS = {spellings!r}
    SUBMISSION_ID = {submission_id!r}


    @dag(dag_id={dag_id!r}, schedule=None, start_date=pendulum.datetime(2024, 1, 1), catchup=False)
    def probe():
        @task(retries=0)
        def raise_labelled(spelling: str):
            logging.getLogger("form526.probe").info("probing submission %s", SUBMISSION_ID)
            raise ValueError(f"submission {{SUBMISSION_ID}}: bad SSN {{spelling}}")

        @task(retries=0)
        def raise_unlabelled():
            raise ValueError(f"submission {{SUBMISSION_ID}}: rows {{SPELLINGS['dash']}}, {{SPELLINGS['space']}}, "
                             f"{{SPELLINGS['dot']}} rejected")

        @task(retries=0)
        def log_values():
            stdlib = logging.getLogger("form526.probe")
            native = structlog.get_logger("form526.probe")
            headers = {{"va_eauth_pnid": SPELLINGS["labelled"][4:], "submission_id": SUBMISSION_ID}}
            stdlib.info(headers)  # a dict message
            native.info(headers)
            stdlib.warning(ValueError(f"bad SSN {{SPELLINGS['dash']}}"))  # a non-string message
            native.warning(ValueError(f"bad SSN {{SPELLINGS['space']}}"))
            stdlib.info("%d submissions", "many")  # bad arguments must not fail the task
            print(f"printed: SSN {{SPELLINGS['dot']}} of submission {{SUBMISSION_ID}}")  # relayed by the supervisor
            native.info("fileNumber lookup", fileNumber=int(SPELLINGS["labelled"][4:]), submission_id=SUBMISSION_ID)
            try:
                raise KeyError(f"duplicate: Key (ssn)=({{SPELLINGS['labelled'][4:]}}) already exists")
            except KeyError:
                stdlib.exception("caught for submission %s", SUBMISSION_ID)
            return "logged"

        raise_labelled.expand(spelling=list(SPELLINGS.values()))
        raise_unlabelled()
        log_values()


    probe()
''')


@pytest.fixture(scope="module")
def probe_logs(services, tmp_path_factory):
    """Run the probe DAG once on a real Airflow; every task log file it wrote, by path."""
    base = tmp_path_factory.mktemp("pii-task-log")
    dags = base / "dags"
    dags.mkdir()
    (dags / "form526_pii_log_probe.py").write_text(
        PROBE_DAG.format(spellings=SPELLINGS, submission_id=SUBMISSION_ID, dag_id=DAG_ID))
    airflow = LocalAirflow(server_dsn=services.server_dsn, connections={}, base=base, dag_id=DAG_ID,
                           extra_env={"AIRFLOW__CORE__DAGS_FOLDER": str(dags)})
    try:
        airflow.start()
        airflow.wait_for_dag(unpause=True)
        run_id = airflow.trigger({})
        run = airflow.wait_for_run(run_id, timeout=300)
        states = airflow.task_states(run_id)
        yield run, states, _complete_task_logs(airflow.control_home / "logs", len(states))
    finally:
        airflow.stop()


def _complete_task_logs(folder: Path, expected: int, timeout: float = 60.0) -> dict[Path, str]:
    """Every task log file of the probe, once each holds its last line (the run's state can be reported
    before the supervisor has written the task's closing lines)."""
    deadline = time.monotonic() + timeout
    while True:
        logs = {p: p.read_text(errors="replace") for p in folder.rglob("*")
                if p.is_file() and f"dag_id={DAG_ID}" in str(p)}
        done = [t for t in logs.values()
                if "::group::Post Execute" in t and '"::endgroup::"' in t.rstrip().rsplit("\n", 1)[-1]]
        if len(done) >= expected or time.monotonic() > deadline:
            return logs
        time.sleep(0.5)


def _text(logs) -> str:
    return "\n".join(logs.values())


def test_the_probe_ran_as_real_tasks(probe_logs):
    run, states, logs = probe_logs
    assert run["state"] == "failed"
    assert states == {**{f"raise_labelled[{i}]": "failed" for i in range(len(SPELLINGS))},
                      "raise_unlabelled": "failed", "log_values": "success"}
    assert len(logs) == len(states), sorted(str(p) for p in logs)


def test_no_ssn_spelling_reaches_a_task_log(probe_logs):
    _, _, logs = probe_logs
    text = _text(logs)
    for name, spelling in SPELLINGS.items():
        assert spelling not in text, name
    assert "078051120" not in text
    assert ANY_SPELLING.search(text) is None


def test_exception_text_is_in_the_log_redacted(probe_logs):
    _, _, logs = probe_logs
    text = _text(logs)
    for i, spelling in enumerate(SPELLINGS.values()):
        (task_log,) = [t for p, t in logs.items() if "task_id=raise_labelled" in str(p) and f"map_index={i}" in str(p)]
        shown = "SSN:[REDACTED]" if spelling.startswith("SSN:") else "[REDACTED]"
        assert f"submission {SUBMISSION_ID}: bad SSN {shown}" in task_log, spelling
    assert "rows [REDACTED], [REDACTED], [REDACTED] rejected" in text
    assert "Key (ssn)=([REDACTED]) already exists" in text


def test_ordinary_ids_stay_readable(probe_logs):
    _, _, logs = probe_logs
    for path, text in logs.items():
        if "task_id=raise_labelled" in str(path):
            assert f"probing submission {SUBMISSION_ID}" in text, path
        if "task_id=log_values" in str(path):
            assert f"caught for submission {SUBMISSION_ID}" in text
            assert f"'submission_id': {SUBMISSION_ID}" in text


def test_dict_and_bad_argument_messages_are_logged(probe_logs):
    _, _, logs = probe_logs
    (text,) = [t for p, t in logs.items() if "task_id=log_values" in str(p)]
    assert f"{{'va_eauth_pnid': '[REDACTED]', 'submission_id': {SUBMISSION_ID}}}" in text  # stdlib
    assert f'"event":{{"va_eauth_pnid":"[REDACTED]","submission_id":{SUBMISSION_ID}}}' in text  # structlog
    assert "%d submissions [log arguments did not format: TypeError]" in text


def test_task_stdout_is_redacted_too(probe_logs):
    """What a task prints reaches the log through the supervisor process, which writes it itself: redacted
    only where that process has the net installed too (it does with the LocalExecutor, as here)."""
    _, _, logs = probe_logs
    (text,) = [t for p, t in logs.items() if "task_id=log_values" in str(p)]
    assert f"printed: SSN [REDACTED] of submission {SUBMISSION_ID}" in text


def test_labelled_fields_are_redacted_and_lines_stay_json(probe_logs):
    """A labelled field is redacted whole, and the redacted line is still JSON (the supervisor and the UI
    parse each line)."""
    _, _, logs = probe_logs
    events = [json.loads(line) for text in logs.values() for line in text.splitlines() if line.strip()]
    (lookup,) = [e for e in events if e.get("event") == "fileNumber lookup"]
    assert lookup["fileNumber"] == "[REDACTED]" and lookup["submission_id"] == SUBMISSION_ID
