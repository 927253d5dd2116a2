"""Every DAG file imports cleanly, cheaply (no database or network at import), with tags and docs."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

import pytest

from tests.conftest import ROOT

DAG_FILES = sorted((ROOT / "dags").glob("*.py"))


def test_dagbag_has_no_import_errors(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    assert {"form526_backlog_resubmission", "form526_failure_triage"} <= set(bag.dag_ids)
    for dag_id in bag.dag_ids:
        dag = bag.get_dag(dag_id)
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md, f"{dag_id} has no doc_md"
        assert dag.description, f"{dag_id} has no description"
        for task in dag.tasks:  # a task function's docstring becomes its doc_md, shown in the UI
            assert task.doc_md and task.doc_md.strip(), f"{dag_id}.{task.task_id} has no docstring / doc_md"
        assert dag.start_date is not None
        for name, param in dag.params.items():
            assert param.description, f"{dag_id}.{name} has no description"


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_opens_no_connection_at_import(path: Path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"{path.name} opened a network connection at import time")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    spec = importlib.util.spec_from_file_location(f"_integrity_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


def test_include_has_no_airflow_import():
    for path in (ROOT / "include").rglob("*.py"):
        text = path.read_text()
        assert "import airflow" not in text and "from airflow" not in text, path
