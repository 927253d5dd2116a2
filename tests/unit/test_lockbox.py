"""Unit tests for include.form526.source.lockbox: Lockbox/kms_encrypted decryption (no network, no database).

Known-answer vectors come from ankane/lockbox (docs/Compatibility.md, test/lockbox_test.rb); the KMS test
uses moto's in-process mock. See /work/shared/domain/vets-api-encryption.md.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from include.form526.source.lockbox import (
    DataKeyCache,
    DecryptError,
    KeyResolver,
    boto3_kms_decrypt,
    decrypt_column,
    encrypt_column,
    encryption_context,
    is_kms_invalid_ciphertext,
    is_kms_throttle,
    kms_key_version,
    legacy_master_key_data_key,
    lockbox_pad,
    lockbox_unpad,
    parse_encrypted_kms_key,
)

# ankane/lockbox docs/Compatibility.md (Python/Node/Rust/... examples)
COMPAT_KEY = bytes.fromhex("61e6ba4a3a2498e3a8fdcd047eff0cd9864016f2c83c34599a3257a57ce6f7fb")
COMPAT_CIPHERTEXT = "Uv/+Sgar0kM216AvVlBH5Gt8vIwtQGfPysl539WY2DER62AoJg=="

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
FORM_JSON = json.dumps({"form526": {"veteran": {"firstName": "Jane", "ssn": "796123456"}}})
CONTEXT = {"model_name": "Form526Submission", "model_id": "123"}


def _client_error(code: str) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": "synthetic"}}, "Decrypt")


def _no_chained_detail(exc: BaseException) -> bool:
    """No underlying exception (e.g. a UnicodeDecodeError quoting plaintext bytes) is shown with it."""
    return exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__)


def _raw(ciphertext_b64: str) -> bytes:
    return base64.b64decode(ciphertext_b64)


# --------------------------------------------------------------------------------------------------
# Known-answer vectors from Lockbox itself


def test_compatibility_doc_vector_decrypts_to_it_works():
    assert len(_raw(COMPAT_CIPHERTEXT)) == 12 + 9 + 16
    assert decrypt_column(COMPAT_CIPHERTEXT, COMPAT_KEY) == "it works!"


def test_decrypt_not_broken_vector():
    # lockbox_test.rb test_decrypt_not_broken: key "0"*64 (hex → 32 zero bytes)
    assert decrypt_column("4nz8vb+KROTD6l9DvxanuOqn9OJWy7LpLDTKHHoM9Ll0lx+FAg==", bytes(32)) == "it works!"


@pytest.mark.parametrize(
    ("nonce", "expected_hex"),
    [(b"\x00" * 12, "530f8afbc74536b9a963b4f1c4cb738b"), (b"\xff" * 12, "51d37f94ccb639299b7ac25fe0bfd765")],
)
def test_aes_gcm_low_level_empty_string_vectors(nonce, expected_hex):
    # lockbox_test.rb test_encrypt_empty_string_aes_gcm_low_level(_different_nonce): tag only, appended
    assert AESGCM(bytes(32)).encrypt(nonce, b"", None).hex() == expected_hex
    stored = base64.b64encode(nonce + bytes.fromhex(expected_hex)).decode()
    assert decrypt_column(stored, bytes(32)) == ""


def test_layout_nonce_first_tag_last():
    nonce = b"\x07" * 12
    stored = encrypt_column("it works!", COMPAT_KEY, padding=False, nonce=nonce)
    raw = _raw(stored)
    assert raw[:12] == nonce
    body = AESGCM(COMPAT_KEY).encrypt(nonce, b"it works!", None)
    assert raw[12:] == body and len(raw) == 12 + 9 + 16


def test_hkdf_attribute_key_vector():
    # lockbox_test.rb test_attribute_key
    key = legacy_master_key_data_key("0" * 64, "users", "license")
    assert key.hex() == "d96ffa3fe916b3a9b57d084f5781e95748333b877e32e6399e387d3d75b238a1"


def test_hkdf_rejects_bad_master_key_without_echoing_it():
    with pytest.raises(ValueError) as err:
        legacy_master_key_data_key("ab" * 31, "users", "license")
    assert "ab" * 31 not in str(err.value)


def test_legacy_master_key_rows_round_trip():
    key = legacy_master_key_data_key("1f" * 32, "form526_submissions", "form_json_ciphertext")
    assert key != legacy_master_key_data_key("1f" * 32, "form526_submissions", "auth_headers_json_ciphertext")
    assert decrypt_column(encrypt_column(FORM_JSON, key), key) == FORM_JSON


@pytest.mark.parametrize(
    ("plaintext", "padded_hex"),
    [
        (b"", "80000000000000000000000000000000"),
        (b"abcdefghijklmno", "6162636465666768696a6b6c6d6e6f80"),
        (b"abcdefghijklmnop", "6162636465666768696a6b6c6d6e6f7080000000000000000000000000000000"),
    ],
)
def test_pad_and_unpad_vectors(plaintext, padded_hex):
    # lockbox_test.rb test_pad / test_unpad
    assert lockbox_pad(plaintext).hex() == padded_hex
    assert lockbox_unpad(bytes.fromhex(padded_hex)) == plaintext


@pytest.mark.parametrize("data", [b"hi", b"", b"\x00" * 5, b"x" + b"\x00" * 16, b"a\x80" + b"\x00" * 16])
def test_unpad_invalid_like_lockbox(data):
    # "hi" is lockbox_test.rb test_unpad_invalid; 0x80 more than 16 bytes from the end is not padding
    assert lockbox_unpad(data) is None


@pytest.mark.parametrize("word", ["fail", "clear", "consider"])
def test_padded_values_have_equal_length(word):
    # README "Padding": padded fail / clear / consider are all 44 raw bytes
    assert len(_raw(encrypt_column(word, KEY))) == 44
    assert len(_raw(encrypt_column("it works!", KEY))) == 12 + 16 + 16  # test_padding


# --------------------------------------------------------------------------------------------------
# Column round trips, NULL and ""


@pytest.mark.parametrize("padding", [True, False])
@pytest.mark.parametrize("text", [FORM_JSON, "x", "a" * 15, "a" * 16, "a" * 17, "é€😀", '{"birls": ["1"]}'])
def test_round_trip_padded_and_unpadded(text, padding):
    stored = encrypt_column(text, KEY, padding=padding)
    assert decrypt_column(stored, KEY) == text


def test_unpadded_january_2022_row_is_returned_unchanged():
    stored = encrypt_column(FORM_JSON, KEY, padding=False)
    assert len(_raw(stored)) == 12 + len(FORM_JSON.encode()) + 16
    assert decrypt_column(stored, KEY) == FORM_JSON


@pytest.mark.parametrize("text", ["À", "À\x00", "x耀", "ŀ\x00\x00\x00"])
def test_unpadded_text_ending_in_0x80_is_not_truncated(text):
    # The UTF-8 tie-break: stripping a trailing 0x80 continuation byte would leave invalid UTF-8.
    assert lockbox_unpad(text.encode()) is not None  # Lockbox alone would mistake this for padding
    assert decrypt_column(encrypt_column(text, KEY, padding=False), KEY) == text
    assert decrypt_column(encrypt_column(text, KEY, padding=True), KEY) == text


def test_null_and_empty_string():
    assert decrypt_column(None, KEY) is None
    assert decrypt_column("", KEY) == ""
    assert encrypt_column(None, KEY) is None
    assert encrypt_column("", KEY) == ""


def test_random_nonce_gives_different_ciphertexts():
    assert encrypt_column(FORM_JSON, KEY) != encrypt_column(FORM_JSON, KEY)


def test_encrypt_rejects_bad_nonce():
    with pytest.raises(ValueError):
        encrypt_column("x", KEY, nonce=b"short")


# --------------------------------------------------------------------------------------------------
# Failures are decrypt_failed and never leak data


def _tampered(stored: str, index: int) -> str:
    raw = bytearray(_raw(stored))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("index", [0, 11, 12, 20, -1])
def test_tampered_byte_is_decrypt_failed(index):
    stored = encrypt_column(FORM_JSON, KEY)
    with pytest.raises(DecryptError) as err:
        decrypt_column(_tampered(stored, index), KEY)
    assert err.value.code == "decrypt_failed"


def test_wrong_key_is_decrypt_failed():
    with pytest.raises(DecryptError) as err:
        decrypt_column(encrypt_column(FORM_JSON, KEY), OTHER_KEY)
    assert err.value.code == "decrypt_failed"


@pytest.mark.parametrize(
    "value",
    ["not base64!", "QUJD", "QUJDRA", base64.b64encode(b"x" * 27).decode(), "QUJD\nREVG", " " + COMPAT_CIPHERTEXT],
)
def test_malformed_ciphertext_is_decrypt_failed(value):
    with pytest.raises(DecryptError) as err:
        decrypt_column(value, COMPAT_KEY)
    assert err.value.code == "decrypt_failed"


def test_bad_data_key_length_is_kms_key_format():
    with pytest.raises(DecryptError) as err:
        decrypt_column(COMPAT_CIPHERTEXT, b"\x00" * 16)
    assert err.value.code == "kms_key_format"


def test_invalid_utf8_plaintext_is_decrypt_failed():
    nonce = b"\x01" * 12
    stored = base64.b64encode(nonce + AESGCM(KEY).encrypt(nonce, b"\xff\xfe", None)).decode()
    with pytest.raises(DecryptError) as err:
        decrypt_column(stored, KEY)
    assert err.value.code == "decrypt_failed"
    assert _no_chained_detail(err.value)


def test_error_messages_carry_no_plaintext_key_or_ciphertext():
    stored = encrypt_column(FORM_JSON, KEY)
    secrets = ["796123456", "Jane", stored, stored[:16], KEY.hex(), FORM_JSON]
    errors: list[DecryptError] = []
    for bad in (_tampered(stored, 30), stored[:-4], "%%%"):
        with pytest.raises(DecryptError) as err:
            decrypt_column(bad, KEY)
        errors.append(err.value)
    with pytest.raises(DecryptError) as err:
        decrypt_column(stored, OTHER_KEY)
    errors.append(err.value)
    for blob in ("v2025:" + stored, "2025:" + stored):
        with pytest.raises(DecryptError) as err:
            parse_encrypted_kms_key(blob + "!")
        errors.append(err.value)
    for exc in errors:
        text = f"{exc} {exc!r} {exc.args}"
        assert _no_chained_detail(exc)
        for secret in secrets:
            assert secret not in text


def test_decrypt_error_rejects_unknown_codes():
    with pytest.raises(ValueError):
        DecryptError("boom")
    assert DecryptError("kms_key_missing", "row 7").code == "kms_key_missing"


# --------------------------------------------------------------------------------------------------
# encrypted_kms_key and context


def test_parse_encrypted_kms_key_strips_version_prefix():
    blob = b"\x01\x02\x03kms-blob\xff"
    encoded = base64.b64encode(blob).decode()
    for prefix in ("v1:", "v2024:", "v2025:"):
        assert parse_encrypted_kms_key(prefix + encoded) == blob
    assert kms_key_version("v2025:" + encoded) == 2025
    assert kms_key_version("v1:" + encoded) == 1
    assert kms_key_version(encoded) is None


@pytest.mark.parametrize(
    "value",
    ["AQID", "x2025:AQID", "v:AQID", "V1:AQID", "v١:AQID", "v1AQID", "v1:", "v1:not base64!", "v1:AQI", " v1:AQID"],
)
def test_bad_prefix_or_body_is_kms_key_format(value):
    with pytest.raises(DecryptError) as err:
        parse_encrypted_kms_key(value)
    assert err.value.code == "kms_key_format"


@pytest.mark.parametrize("value", [None, ""])
def test_missing_kms_key(value):
    with pytest.raises(DecryptError) as err:
        parse_encrypted_kms_key(value)
    assert err.value.code == "kms_key_missing"


def test_encryption_context():
    assert encryption_context("Form526Submission", 123) == CONTEXT
    assert encryption_context("Form526Submission", "123") == CONTEXT
    assert encryption_context("Form1010cg::Attachment", 9) == {"model_name": "Form1010cg::Attachment", "model_id": "9"}
    for bad in (("", 1), ("Form526Submission", True), ("Form526Submission", None), ("Form526Submission", "")):
        with pytest.raises(ValueError):
            encryption_context(*bad)


# --------------------------------------------------------------------------------------------------
# DataKeyCache


class FakeKms:
    """A KMS stand-in: blob → data key, with the context it was wrapped under."""

    def __init__(self) -> None:
        self.keys: dict[bytes, tuple[dict[str, str], bytes]] = {}
        self.calls: list[tuple[bytes, dict[str, str]]] = []
        self.failures: list[Exception] = []
        self.lock = threading.Lock()

    def wrap(self, data_key: bytes, context: dict[str, str], version: int = 2025) -> str:
        blob = b"blob-%d" % len(self.keys)
        self.keys[blob] = (dict(context), data_key)
        return f"v{version}:" + base64.b64encode(blob).decode()

    def __call__(self, blob: bytes, context: dict[str, str]) -> bytes:
        with self.lock:
            self.calls.append((blob, context))
            if self.failures:
                raise self.failures.pop(0)
        wrapped_context, data_key = self.keys[blob]
        if wrapped_context != context:
            raise _client_error("InvalidCiphertextException")
        return data_key


def test_cache_reuses_only_identical_key_and_context():
    kms = FakeKms()
    cache = DataKeyCache(kms)
    ekk = kms.wrap(KEY, CONTEXT)
    assert cache.data_key(ekk, CONTEXT) == KEY
    assert cache.data_key(ekk, dict(reversed(list(CONTEXT.items())))) == KEY  # same context, other order
    assert cache.kms_calls == 1 and cache.cache_hits == 1

    # Same row after rotation: new encrypted_kms_key string → new KMS call, even for the same id.
    rotated = kms.wrap(OTHER_KEY, CONTEXT)
    assert cache.data_key(rotated, CONTEXT) == OTHER_KEY
    assert cache.kms_calls == 2

    # Same encrypted_kms_key but another context is not served from the cache: KMS rejects it.
    with pytest.raises(DecryptError) as err:
        cache.data_key(ekk, {"model_name": "Form526Submission", "model_id": "124"})
    assert err.value.code == "decrypt_failed"
    assert cache.kms_calls == 3
    assert len(cache) == 2 and len(kms.calls) == 3


def test_cache_decrypt_row_columns_and_skips_kms_for_null_and_empty():
    kms = FakeKms()
    cache = KeyResolver(kms)
    ekk = kms.wrap(KEY, CONTEXT)
    assert cache.decrypt(None, None, CONTEXT) is None
    assert cache.decrypt("", None, CONTEXT) == ""
    assert cache.kms_calls == 0
    assert cache.decrypt(encrypt_column(FORM_JSON, KEY), ekk, CONTEXT) == FORM_JSON
    assert cache.decrypt(encrypt_column("{}", KEY, padding=False), ekk, CONTEXT) == "{}"
    assert cache.kms_calls == 1
    with pytest.raises(DecryptError) as err:
        cache.decrypt(encrypt_column(FORM_JSON, KEY), None, CONTEXT)
    assert err.value.code == "kms_key_missing"
    with pytest.raises(DecryptError) as err:
        cache.decrypt(encrypt_column(FORM_JSON, KEY), "2025:AQID", CONTEXT)
    assert err.value.code == "kms_key_format"
    assert cache.kms_calls == 1


def test_cache_is_bounded_lru():
    kms = FakeKms()
    cache = DataKeyCache(kms, maxsize=2)
    a, b, c = (kms.wrap(bytes([i]) * 32, CONTEXT) for i in range(3))
    cache.data_key(a, CONTEXT)
    cache.data_key(b, CONTEXT)
    cache.data_key(a, CONTEXT)  # a is now most recent
    cache.data_key(c, CONTEXT)  # evicts b
    assert len(cache) == 2 and cache.kms_calls == 3
    cache.data_key(a, CONTEXT)
    assert cache.kms_calls == 3
    cache.data_key(b, CONTEXT)
    assert cache.kms_calls == 4


def test_throttle_backoff_retries_then_succeeds():
    kms = FakeKms()
    ekk = kms.wrap(KEY, CONTEXT)
    kms.failures = [_client_error("ThrottlingException")] * 3
    sleeps: list[float] = []
    cache = DataKeyCache(kms, sleep=sleeps.append, base_delay=0.5, max_delay=1.5, jitter=False)
    assert cache.data_key(ekk, CONTEXT) == KEY
    assert sleeps == [0.5, 1.0, 1.5]  # exponential, capped
    assert cache.kms_calls == 4


def test_throttle_with_jitter_stays_within_bounds():
    kms = FakeKms()
    ekk = kms.wrap(KEY, CONTEXT)
    kms.failures = [_client_error("ThrottlingException")] * 2
    sleeps: list[float] = []
    cache = DataKeyCache(kms, sleep=sleeps.append, base_delay=1.0)
    assert cache.data_key(ekk, CONTEXT) == KEY
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0


def test_throttle_exhausted_reraises_unchanged():
    kms = FakeKms()
    ekk = kms.wrap(KEY, CONTEXT)
    throttle = _client_error("ThrottlingException")
    kms.failures = [throttle] * 10
    sleeps: list[float] = []
    cache = DataKeyCache(kms, sleep=sleeps.append, max_attempts=3, jitter=False)
    with pytest.raises(Exception) as err:
        cache.data_key(ekk, CONTEXT)
    assert err.value is throttle
    assert cache.kms_calls == 3 and len(sleeps) == 2
    # nothing cached, nothing stuck in flight: a later call works
    kms.failures = []
    assert cache.data_key(ekk, CONTEXT) == KEY


def test_custom_throttle_predicate():
    class Busy(Exception):
        pass

    kms = FakeKms()
    ekk = kms.wrap(KEY, CONTEXT)
    kms.failures = [Busy()]
    sleeps: list[float] = []
    cache = DataKeyCache(kms, sleep=sleeps.append, is_throttle=lambda e: isinstance(e, Busy), jitter=False)
    assert cache.data_key(ekk, CONTEXT) == KEY
    assert len(sleeps) == 1


@pytest.mark.parametrize(
    "exc",
    [ConnectionError("kms unreachable"), _client_error("AccessDeniedException"), _client_error("KMSInternalException")],
)
def test_other_errors_propagate_unchanged_without_retry(exc):
    kms = FakeKms()
    ekk = kms.wrap(KEY, CONTEXT)
    kms.failures = [exc]
    sleeps: list[float] = []
    cache = DataKeyCache(kms, sleep=sleeps.append)
    with pytest.raises(type(exc)) as err:
        cache.data_key(ekk, CONTEXT)
    assert err.value is exc and sleeps == [] and cache.kms_calls == 1


def test_kms_plaintext_of_wrong_size_is_kms_key_format():
    cache = DataKeyCache(lambda blob, ctx: b"\x00" * 16)
    with pytest.raises(DecryptError) as err:
        cache.data_key("v1:AQID", CONTEXT)
    assert err.value.code == "kms_key_format"


def test_predicates():
    assert is_kms_throttle(_client_error("ThrottlingException"))
    assert not is_kms_throttle(_client_error("InvalidCiphertextException"))
    assert not is_kms_throttle(ValueError("x"))
    assert is_kms_invalid_ciphertext(_client_error("InvalidCiphertextException"))
    assert not is_kms_invalid_ciphertext(_client_error("ThrottlingException"))


def test_cache_is_thread_safe_and_single_flight():
    kms = FakeKms()
    ekks = [kms.wrap(bytes([i]) * 32, {"model_name": "Form526Submission", "model_id": str(i)}) for i in range(8)]
    gate = threading.Barrier(8)

    def slow_kms(blob: bytes, context: dict[str, str]) -> bytes:
        time.sleep(0.01)  # keep the request in flight while other threads ask for the same key
        return kms(blob, context)

    cache = DataKeyCache(slow_kms)

    def work(n: int) -> bytes:
        gate.wait(timeout=10)
        i = n % 8
        return cache.data_key(ekks[i], {"model_name": "Form526Submission", "model_id": str(i)})

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(64)))
    assert results == [bytes([n % 8]) * 32 for n in range(64)]
    assert cache.kms_calls == 8 == len(kms.calls)
    assert cache.cache_hits == 56


# --------------------------------------------------------------------------------------------------
# moto: real boto3 KMS client against the in-process mock


@pytest.fixture
def kms_client(monkeypatch):
    moto = pytest.importorskip("moto")
    import boto3

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_KMS", raising=False)
    with moto.mock_aws():
        yield boto3.client("kms", region_name="us-east-1")


def test_moto_kms_round_trip_and_wrong_context(kms_client):
    key_id = kms_client.create_key(Description="vets-api lockbox test")["KeyMetadata"]["KeyId"]
    kms_client.create_alias(AliasName="alias/vets-api-test", TargetKeyId=key_id)

    generated = kms_client.generate_data_key(KeyId="alias/vets-api-test", KeySpec="AES_256", EncryptionContext=CONTEXT)
    data_key = generated["Plaintext"]
    encrypted_kms_key = "v2025:" + base64.b64encode(generated["CiphertextBlob"]).decode()
    form_ct = encrypt_column(FORM_JSON, data_key)
    unpadded_ct = encrypt_column('{"a":1}', data_key, padding=False)

    cache = DataKeyCache(boto3_kms_decrypt(kms_client))
    ctx = encryption_context("Form526Submission", 123)
    assert cache.decrypt(form_ct, encrypted_kms_key, ctx) == FORM_JSON
    assert cache.decrypt(unpadded_ct, encrypted_kms_key, ctx) == '{"a":1}'
    assert cache.decrypt(None, encrypted_kms_key, ctx) is None
    assert cache.kms_calls == 1

    with pytest.raises(DecryptError) as err:
        cache.decrypt(form_ct, encrypted_kms_key, encryption_context("Form526Submission", 124))
    assert err.value.code == "decrypt_failed"
    assert "796123456" not in str(err.value)
    with pytest.raises(DecryptError) as err:
        cache.decrypt(form_ct, encrypted_kms_key, encryption_context("SupportingEvidenceAttachment", 123))
    assert err.value.code == "decrypt_failed"
    assert cache.kms_calls == 3


def test_moto_kms_encrypt_like_kms_encrypted_with_sti_context(kms_client):
    # kms_encrypted >= 1.0 generates the data key locally and wraps it with KMS Encrypt.
    key_id = kms_client.create_key()["KeyMetadata"]["KeyId"]
    data_key = bytes(range(100, 132))
    ctx = encryption_context("SupportingEvidenceAttachment", 42)
    blob = kms_client.encrypt(KeyId=key_id, Plaintext=data_key, EncryptionContext=ctx)["CiphertextBlob"]
    encrypted_kms_key = "v1:" + base64.b64encode(blob).decode()
    file_data = json.dumps({"filename": "evidence.pdf"})

    decrypt = boto3_kms_decrypt(kms_client, key_id=key_id)
    cache = DataKeyCache(decrypt)
    assert cache.decrypt(encrypt_column(file_data, data_key), encrypted_kms_key, ctx) == file_data
    with pytest.raises(DecryptError) as err:
        cache.data_key(encrypted_kms_key, {})
    assert err.value.code == "decrypt_failed"
