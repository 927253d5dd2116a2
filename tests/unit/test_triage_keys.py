"""Unit tests of include/form526/triage/keys.py and identity.py (and read_identities): keys and scrubbing."""

from __future__ import annotations

import json

import pytest

from include.form526.source.lockbox import DecryptError
from include.form526.triage import keys as k
from include.form526.triage.identity import WITHHELD_TEXT, Identity
from include.form526.triage.read import read_identities

SVC = "EVSS::DisabilityCompensationForm::ServiceException"
BSE = "Common::Exceptions::BackendServiceException"
G1 = "0b8e4c6a-3f2d-4e5f-9a1b-2c3d4e5f6a7b"
G2 = "f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9"


def evss(*entries: dict[str, str | None]) -> str:
    """An EVSS error list the way vets-api stores it: Ruby's inspect of an array of hashes."""
    def value(v: str | None) -> str:
        return "nil" if v is None else json.dumps(v)

    return "[" + ", ".join("{" + ", ".join(f"{json.dumps(a)}=>{value(b)}" for a, b in e.items()) + "}"
                           for e in entries) + "]"


KEY_TABLE = [
    # (error_class, error_message, expected key)
    (SVC, evss({"key": "form526.submit.establishClaim.serviceError", "severity": "FATAL",
                "text": f"Claim not established. System error with BGS. GUID: {G1}"}),
     "form526.submit.establishClaim.serviceError: Claim not established. System error with BGS."),
    # [n] indexes stripped; validation (ERROR) texts dropped; several keys sorted and joined with '-'
    (SVC, evss({"key": "form526.treatments[3].treatedDisabilityNames.isInvalidValue", "severity": "ERROR",
                "text": "treatedDisabilityNames must match the name of a claimed disability"},
               {"key": "form526.disabilities[12].name.Pattern", "severity": "ERROR", "text": "must match x"}),
     "form526.disabilities.name.Pattern-form526.treatments.treatedDisabilityNames.isInvalidValue"),
    # WARN entries are dropped when something else is there
    (SVC, evss({"key": "form526.veteran.warning", "severity": "WARN", "text": "just a warning"},
               {"key": "form526.submit.save.draftForm.MaxEPCode", "severity": "FATAL", "text": "Max EP codes"}),
     "form526.submit.save.draftForm.MaxEPCode: Max EP codes"),
    (SVC, '{"key"=>"form526.x.y", "severity"=>"FATAL", "text"=>nil}', "form526.x.y"),
    # Ruby symbol hashes keep their EVSS code and status: EVSS502 (upstream outage) is not EVSS400 (bad data)
    (BSE, 'BackendServiceException: {:status=>502, :detail=>nil, :code=>"EVSS502", :source=>nil}',
     "BackendServiceException: code=EVSS502 status=502"),
    (BSE, 'BackendServiceException: {:status=>400, :detail=>"Document upload failed", :code=>"EVSS400", '
          ':source=>nil}', "BackendServiceException: code=EVSS400 detail=Document upload failed status=400"),
    # timestamps (Ruby-style and ISO) go; fixed numbers in fixed text stay
    ("Breakers::OutageException", "Outage detected on EVSS/DisabilityCompensationForm beginning at "
     "2024-03-02 10:11:12 UTC", "Outage detected on EVSS/DisabilityCompensationForm beginning at <time>"),
    ("X", "retry at 2024-03-02T10:11:12.123Z failed", "retry at <time> failed"),
    ("X", "started 2024-03-02 10:11:12 -0500 and gave up", "started <time> and gave up"),
    ("ArgumentError", "file number is invalid. It must be 8 or 9 digits",
     "file number is invalid. It must be 8 or 9 digits"),
    ("X", "ZIP Code must be 5 or 9 digits", "ZIP Code must be 5 or 9 digits"),
    ("X", "upstream answered 503 after 3 tries", "upstream answered 503 after 3 tries"),
    # ids vary per occurrence: digit runs of 6+ and long hex ids
    ("X", "Claim 600123456 not found for saved claim 1234567", "Claim <id> not found for saved claim <id>"),
    ("X", "job 5f0c2e9a1b7d4c3e8f6a9b2d failed for vet@example.com", "job <id> failed for <email>"),
    ("X", f"lookup {G2} failed", "lookup failed"),
    ("NoMethodError", "undefined method `[]' for nil:NilClass", "undefined method `[]' for nil:NilClass"),
    ("X", "line one\n  line two\r\n", "line one line two"),
    # empty and unparseable input
    ("Some::Error", None, "no_message:Some::Error"),
    (None, "   ", "no_message:unknown"),
    (SVC, '[{"key"=>"form526.submit.save.draftForm.PIFIn', f"unparsed:{SVC}"),
    (SVC, '[{"severity"=>"FATAL", "text"=>"no key"}]', f"unparsed:{SVC}"),
    (SVC, '[{"key"=>nil}]', f"unparsed:{SVC}"),
]


@pytest.mark.parametrize(("error_class", "message", "expected"), KEY_TABLE)
def test_error_key_table(error_class, message, expected):
    assert k.error_key(error_class, message) == expected


def test_evss_codes_stay_apart():
    def bse(code: str, status: int) -> str:
        return k.error_key(BSE, f'BackendServiceException: {{:status=>{status}, :detail=>nil, :code=>"{code}"}}')

    assert bse("EVSS502", 502) != bse("EVSS400", 400)
    assert bse("EVSS502", 502) == bse("EVSS502", 502)


def test_messages_that_differ_only_in_what_varies_share_a_key():
    def bgs(guid):
        return evss({"key": "form526.submit.establishClaim.serviceError", "severity": "FATAL",
                     "text": f"Claim not established. System error with BGS. GUID: {guid}"})

    assert k.error_key(SVC, bgs(G1)) == k.error_key(SVC, bgs(G2))
    assert k.error_key("B", "Outage beginning at 2024-01-01 00:00:00 UTC") == \
        k.error_key("B", "Outage beginning at 2025-12-31 23:59:59 UTC")
    assert k.error_key("X", "claim 600000001 missing") == k.error_key("X", "claim 612345678 missing")


def test_different_causes_get_different_keys():
    def service_error(text):
        return evss({"key": "form526.submit.establishClaim.serviceError", "severity": "FATAL", "text": text})

    keys = {
        k.error_key(SVC, service_error(f"Claim not established. System error with BGS. GUID: {G1}")),
        k.error_key(SVC, service_error(f"Claim not established. BIRLS ID does not match the file number of record. "
                                       f"GUID: {G1}")),
        k.error_key(SVC, evss({"key": "form526.submit.save.draftForm.PIFInUse", "severity": "FATAL", "text": "t"})),
        k.error_key(SVC, evss({"key": "form526.submit.save.draftForm.MaxEPCode", "severity": "FATAL", "text": "t"})),
    }
    assert len(keys) == 4


def test_validation_text_never_reaches_the_key():
    key = k.error_key(SVC, evss({"key": "form526.veteran.name.Pattern", "severity": "ERROR",
                                 "text": "Jane Q Veteran does not match the pattern"}))
    assert key == "form526.veteran.name.Pattern"


def test_parse_evss_reads_the_ruby_inspect_form():
    msg = evss({"key": "k[0]", "severity": "FATAL", "text": 'quote " and arrow => inside'})
    assert k.parse_evss(msg) == [{"key": "k[0]", "severity": "FATAL", "text": 'quote " and arrow : inside'}]
    assert k.parse_evss('[{"key"=>"k", "text"=>nil}]') == [{"key": "k", "text": None}]
    assert k.parse_evss('[{"key"=>"k"') is None
    assert k.parse_evss("[1, 2]") is None


@pytest.mark.parametrize("message", [
    '[{"key"=>', "[{}]", '[{"key"=>["a"]}]', '{"key"=>{"nested"=>1}}', "[{" + "x" * 100_000,
    "\x00\x01\x02", 12345, b"bytes", ["a list"],
])
def test_bad_input_never_raises(message):
    key = k.error_key("Err", message)
    assert isinstance(key, str) and 0 < len(key) <= k.MAX_KEY_CHARS


def test_long_keys_are_clipped():
    assert len(k.error_key("E", "word " * 500)) == k.MAX_KEY_CHARS


@pytest.mark.parametrize(("value", "expected"), [
    ("Common::Exceptions::GatewayTimeout", "Common::Exceptions::GatewayTimeout"), (None, ""), ("  ", ""),
    ("Veteran Jane Doe, 12 Main St", k.INVALID_CLASS), ("X" * 200, k.INVALID_CLASS),
])
def test_error_class_names(value, expected):
    assert k.error_class_name(value) == expected


# ------------------------------------------------------------------------------------------- identity

AUTH = {"va_eauth_firstName": "Jane", "va_eauth_lastName": "Van Doe", "va_eauth_pnid": "123456789",
        "va_eauth_birlsfilenumber": "87654321", "va_eauth_pid": "600123456",
        "va_eauth_birthdate": "1950-01-02T00:00:00+00:00"}
FORM = {"form526": {"form526": {"veteran": {"currentMailingAddress": {
    "addressLine1": "123 Main St", "addressLine2": "Apt 4", "city": "Springfield", "country": "USA"}}}}}


def identity() -> Identity:
    return Identity.from_source(json.dumps(AUTH), json.dumps(FORM))


@pytest.mark.parametrize(("text", "expected"), [
    ("Veteran name 'Jane Q. Van Doe' does not match", "Veteran name '[NAME] Q. [NAME]' does not match"),
    ("JANE doe", "[NAME] [NAME]"),
    ("Janet Doering is someone else", "Janet Doering is someone else"),  # whole words only
    ("file number 87654321 / ssn 123-45-6789 / pid 600123456", "file number [ID] / ssn [ID] / pid [ID]"),
    ("born 01/02/1950 (1950-01-02)", "born [DOB] ([DOB])"),
    ("mail to 123  MAIN st, apt 4, springfield", "mail to [ADDRESS], [ADDRESS], [ADDRESS]"),
])
def test_identity_scrubs_its_own_values(text, expected):
    assert identity().scrub(text) == expected


def test_identity_never_shows_its_values():
    ident = identity()
    assert repr(ident) == str(ident) == "Identity(<withheld>)"
    assert not hasattr(ident, "__dict__")


@pytest.mark.parametrize(("auth", "form"), [(None, None), ("not json", "[1]"), ('{"va_eauth_firstName": 5}', "{}"),
                                             (json.dumps({"va_eauth_firstName": "J"}), json.dumps({"form526": 3}))])
def test_identity_from_bad_sources_scrubs_nothing(auth, form):
    ident = Identity.from_source(auth, form)
    assert ident.scrub("J Jane 123456789") == "J Jane 123456789"


def test_an_unreadable_identity_withholds_the_whole_text():
    ident = Identity.withheld()
    assert ident.scrub("Veteran Jane Doe not found") == WITHHELD_TEXT and ident.scrub(None) is None


class _Cursor:
    def __init__(self, rows):
        self.rows, self.sql = rows, None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql, params):
        self.sql = sql

    def __iter__(self):
        return iter(self.rows)


class _Conn:
    def __init__(self, rows):
        self.cur = _Cursor(rows)

    def cursor(self, name=None):
        return self.cur


def test_read_identities_decrypts_in_encrypted_mode_and_withholds_what_does_not_decrypt():
    class Decryptor:
        def submission(self, sid, kms_key, form_ct, auth_ct):
            if sid == 2:
                raise DecryptError("decrypt_failed")
            assert (kms_key, form_ct, auth_ct) == ("v1:key", "form-ct", "auth-ct")
            return json.dumps(FORM), json.dumps(AUTH)

    conn = _Conn([(1, "auth-ct", "form-ct", "v1:key"), (2, "x", "y", "v1:key")])
    found = read_identities(conn, [2, 1, 1], Decryptor())
    assert "auth_headers_json_ciphertext" in conn.cur.sql
    assert found[1].scrub("Jane at 123 Main St") == "[NAME] at [ADDRESS]"
    assert found[2].scrub("Jane") == WITHHELD_TEXT


def test_read_identities_reads_the_plaintext_columns_without_a_decryptor():
    conn = _Conn([(1, json.dumps(AUTH), json.dumps(FORM))])
    assert read_identities(conn, [1])[1].scrub("Springfield") == "[ADDRESS]"
    assert "auth_headers_json_ciphertext" not in conn.cur.sql
