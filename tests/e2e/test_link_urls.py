"""The extra links' URL building (plugins/form526_links.py): pure, no Airflow running.

Kept next to the live link tests; it needs no service (a candidate for tests/unit).
"""

from __future__ import annotations

import base64
import sys
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from include.form526 import config
from tests.e2e.support import ROOT

sys.path.insert(0, str(ROOT / "plugins"))  # as Airflow puts the plugins folder on sys.path
links = pytest.importorskip("form526_links")

MINIO = "http://localhost:9001/browser/{bucket}/{key_b64}"


def test_the_default_goes_to_the_aws_console_object_page_or_folder_listing():
    assert config.DEFAULT_S3_CONSOLE_URL_TEMPLATE == "https://console.aws.amazon.com/s3/{view}/{bucket}?prefix={key}"
    obj = links.console_url("form526-backlog", "form526/reports/run-1/summary.json",
                            config.DEFAULT_S3_CONSOLE_URL_TEMPLATE)
    folder = links.console_url("form526-backlog", "form526/deliveries/run-1/batch-0001/",
                               config.DEFAULT_S3_CONSOLE_URL_TEMPLATE)
    assert obj.startswith("https://console.aws.amazon.com/s3/object/form526-backlog?")
    assert folder.startswith("https://console.aws.amazon.com/s3/buckets/form526-backlog?")
    assert parse_qs(urlsplit(obj).query) == {"prefix": ["form526/reports/run-1/summary.json"]}
    assert parse_qs(urlsplit(folder).query) == {"prefix": ["form526/deliveries/run-1/batch-0001/"]}


def test_the_minio_console_gets_the_key_base64_encoded():
    url = links.console_url("form526-backlog", "form526/triage/2026-12-01/trend.png", MINIO)
    head, _, encoded = url.rpartition("/")
    assert head == "http://localhost:9001/browser/form526-backlog"
    assert base64.b64decode(unquote(encoded)).decode() == "form526/triage/2026-12-01/trend.png"


def test_keys_are_encoded_so_they_cannot_break_out_of_the_url():
    url = links.console_url("b", "p/a&b=c#d?e f", "https://x/{bucket}?prefix={key}")
    assert parse_qs(urlsplit(url).query) == {"prefix": ["p/a&b=c#d?e f"]} and "#" not in url


@pytest.mark.parametrize("uri, parts", [
    ("s3://bucket/a/b.csv", ("bucket", "a/b.csv")),
    ("s3://bucket/a/", ("bucket", "a/")),
    ("s3://bucket", None), ("s3:///key", None), ("https://bucket/key", None), (None, None), ({"k": 1}, None),
])
def test_only_s3_uris_with_a_key_make_a_link(uri, parts):
    assert links.split_s3_uri(uri) == parts


def test_every_link_names_its_tasks_and_reads_what_they_wrote():
    assert [link.name for link in links.LINKS] == list(links.TARGETS)
    pick = links.TARGETS["reconciliation.csv"][(links.BACKLOG_DAG_ID, "reconcile")][1]
    assert pick({"report_keys": {"reconciliation": "s3://b/k.csv"}}) == "s3://b/k.csv"
    assert pick(None) is None and pick({"report_keys": None}) is None
    key, _ = links.TARGETS["S3 batch folder"][(links.BACKLOG_DAG_ID, "build_and_deliver")]
    assert key == config.BATCH_PREFIX_XCOM_KEY
