"""Every awkward record the generator plants renders to a complete package or fails with a specific code."""

from __future__ import annotations

import io
import json
import zipfile

import psycopg
import pytest
from pypdf import PdfReader

from include.form526.package.build import ERROR_CODES, RENDER_FAILED, PackageError, SourceSubmission, build_package
from tests import helpers as h

pytestmark = pytest.mark.integration


def _norm(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def awkward(services):
    h.reset_databases(services)
    h.seed(services, 1500, seed=19)
    with psycopg.connect(services.source_dsn) as conn:
        rows = conn.execute(
            "SELECT s.id, s.created_at, s.form_json, s.auth_headers_json, l.scenario FROM form526_submissions s"
            " JOIN synthetic.submission_labels l ON l.submission_id = s.id"
            " WHERE l.scenario LIKE 'awkward%%' OR l.scenario = 'corrupt_form_json' ORDER BY s.id").fetchall()
    return rows


def test_every_awkward_scenario_is_seeded(awkward):
    scenarios = {r[4] for r in awkward}
    assert {"awkward_empty_auth", "awkward_empty_auth_bogus", "awkward_military_address",
            "awkward_international_address", "awkward_long_text", "awkward_markup_text", "awkward_unicode_names",
            "awkward_missing_claim_date", "awkward_ancillary_forms", "corrupt_form_json"} <= scenarios


def test_awkward_records_render_completely_or_fail_with_a_specific_code(awkward):
    rendered = failed = 0
    for sid, created, form_json, auth, scenario in awkward:
        sub = SourceSubmission(sid, created, form_json, auth)
        try:
            pkg = build_package(sub)
        except PackageError as err:
            assert err.code in ERROR_CODES and err.code != RENDER_FAILED, (scenario, err.code)
            failed += 1
            continue
        assert build_package(sub).sha256 == pkg.sha256, scenario  # deterministic
        with zipfile.ZipFile(io.BytesIO(pkg.data)) as z:
            text = _norm("".join(p.extract_text() for p in PdfReader(io.BytesIO(z.read("21-526EZ.pdf"))).pages))
            names = set(z.namelist())
        form = json.loads(form_json)["form526"]["form526"]
        for d in form.get("disabilities") or []:
            # long free text wraps across pages (footers in between): its start must be there
            assert _norm(str(d["name"]))[:80] in text, (scenario, sid)
        for t in form.get("treatments") or []:
            assert _norm(str(t["center"]["name"]))[:80] in text, (scenario, sid)
        for p in (form.get("serviceInformation") or {}).get("servicePeriods") or []:
            assert str(p["serviceBranch"]) in text, (scenario, sid)
        if scenario == "awkward_ancillary_forms":
            assert {"21-4142.pdf", "21-0781.pdf", "21-8940.pdf"} <= names, names
        if scenario == "awkward_markup_text":
            assert "<b>Knee</b> & back" in text and "<script>alert('x')</script>" in text and "&amp; more" in text
        rendered += 1
    assert rendered and failed
