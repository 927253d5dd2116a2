"""What a run covers: parameter rules JSON Schema cannot express, and the id list handed over on S3.

Error messages name the parameter and the rule, never a value that could be veteran data.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

# JSON Schema patterns (Airflow validates them with Python's re.search, the trigger form with JavaScript):
# "(?!\n)$" keeps "$" from accepting a trailing newline in both. Code checks them again with re.fullmatch.
BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](?!\n)$"
# Safe key characters only; no leading '/', no '..' segment, no '//' (checked again in code).
KEY_PREFIX_PATTERN = r"^(?!/)(?!.*\.\.)(?!.*//)[A-Za-z0-9][A-Za-z0-9._/-]{0,199}(?<!/)(?!\n)$"
S3_URI_PATTERN = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/(?!/)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/-]{1,900}(?!\n)$"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}(?!\n)$"

ID_COLUMN = "submission_id"
MAX_REQUESTED_IDS = 500_000
MAX_SUBMISSION_ID = 2_147_483_647
"""form526_submissions.id is a PostgreSQL integer (serial)."""
_ID_CELL = re.compile(r"[0-9]{1,10}")


class ScopeError(ValueError):
    """A run's scope is unusable; the message is one sentence a person can act on."""


@dataclass(frozen=True)
class S3Uri:
    bucket: str
    key: str

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def parse_s3_uri(uri: str) -> S3Uri:
    if not isinstance(uri, str) or not re.fullmatch(S3_URI_PATTERN, uri):
        raise ScopeError("submission_ids_s3_uri must look like s3://bucket/path/ids.csv "
                         "(lowercase bucket; letters, digits, '.', '_', '-', '/' in the key; no '..')")
    bucket, key = uri[len("s3://"):].split("/", 1)
    return S3Uri(bucket, key)


def check_key_prefix(prefix: str) -> str:
    if not isinstance(prefix, str) or not re.fullmatch(KEY_PREFIX_PATTERN, prefix):
        raise ScopeError("key_prefix must be 1-200 characters of letters, digits, '.', '_', '-', '/', "
                         "not start or end with '/', and contain no '..' or '//'")
    return prefix


def check_bucket(bucket: str, allowed: Iterable[str] | None = None, name: str = "bucket") -> str:
    """A valid bucket name that the deployment allows (``FORM526_ALLOWED_BUCKETS``); never echoes the value."""
    if not isinstance(bucket, str) or not re.fullmatch(BUCKET_PATTERN, bucket):
        raise ScopeError(f"{name} must be a valid S3 bucket name (3-63 lowercase letters, digits, '.', '-')")
    if allowed is not None and bucket not in set(allowed):
        raise ScopeError(f"{name} is not one this deployment allows: choose one of {', '.join(sorted(allowed))}")
    return bucket


def run_key(run_id: str) -> str:
    """The run id made safe and unique for an S3 key segment: the sanitised id plus a short hash of the raw id.

    ``manual__2024-01-01T00:00:00+00:00`` becomes ``manual__2024-01-01T00-00-00-00-00-<10 hex>``. Two run
    ids never share a key (the hash is of the raw id), and no key is ``.`` or ``..``. Computed once, at
    begin_run, and read from the ledger afterwards (runs recorded with the older, hash-less keys keep theirs).
    """
    digest = hashlib.sha256(run_id.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{re.sub(r'[^A-Za-z0-9._-]', '-', run_id)[:180]}-{digest}"


def _date(value: Any, name: str) -> date | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not re.fullmatch(DATE_PATTERN, value):
        raise ScopeError(f"{name} must be a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ScopeError(f"{name} is not a real calendar date") from None


@dataclass(frozen=True)
class Scope:
    """The validated parameters of one run."""

    submission_ids: tuple[int, ...]
    submission_ids_s3_uri: S3Uri | None
    created_after: datetime | None   # inclusive, start of that day
    created_before: datetime | None  # exclusive, start of that day
    max_submissions: int | None
    batch_size: int
    dry_run: bool
    redeliver: bool
    bucket: str
    key_prefix: str
    tolerated_failure_percent: float
    include_email_notified: bool = False

    @property
    def explicit(self) -> bool:
        return bool(self.submission_ids) or self.submission_ids_s3_uri is not None


def validate_params(params: Mapping[str, Any], known: Iterable[str], *, allowed_buckets: Iterable[str] | None = None,
                    allowed_input_buckets: Iterable[str] | None = None) -> Scope:
    """Check what the JSON Schema of each Param cannot: unknown keys, cross-field rules, safe names, and that
    every bucket is one the deployment allows (whoever can trigger the DAG must not choose where PII goes)."""
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ScopeError(f"unknown parameter(s): {', '.join(unknown)}; allowed: {', '.join(sorted(known))}")
    ids_raw = params.get("submission_ids") or []
    if not isinstance(ids_raw, list) or not all(isinstance(i, int) and not isinstance(i, bool)
                                                and 0 < i <= MAX_SUBMISSION_ID for i in ids_raw):
        raise ScopeError(f"submission_ids must be a list of integers from 1 to {MAX_SUBMISSION_ID}")
    after = _date(params.get("created_after"), "created_after")
    before = _date(params.get("created_before"), "created_before")
    if after and before and after >= before:
        raise ScopeError("created_after must be earlier than created_before")
    uri = params.get("submission_ids_s3_uri")
    batch_size = params.get("batch_size")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ScopeError("batch_size must be a positive integer")
    max_subs = params.get("max_submissions")
    if max_subs is not None and (not isinstance(max_subs, int) or max_subs < 1):
        raise ScopeError("max_submissions must be a positive integer or null")
    tol = params.get("tolerated_failure_percent", 0)
    if not isinstance(tol, int | float) or not 0 <= tol <= 100:
        raise ScopeError("tolerated_failure_percent must be between 0 and 100")
    return Scope(
        submission_ids=tuple(sorted(set(ids_raw))),
        submission_ids_s3_uri=_input_uri(uri, allowed_input_buckets) if uri else None,
        created_after=datetime.combine(after, time()) if after else None,
        created_before=datetime.combine(before, time()) if before else None,
        max_submissions=max_subs,
        batch_size=batch_size,
        dry_run=bool(params.get("dry_run", False)),
        redeliver=bool(params.get("redeliver", False)),
        bucket=check_bucket(params.get("bucket", ""), allowed_buckets),
        key_prefix=check_key_prefix(params.get("key_prefix", "")),
        tolerated_failure_percent=float(tol),
        include_email_notified=bool(params.get("include_email_notified", False)),
    )


def _input_uri(uri: str, allowed: Iterable[str] | None) -> S3Uri:
    parsed = parse_s3_uri(uri)
    check_bucket(parsed.bucket, allowed, name="the bucket of submission_ids_s3_uri")
    return parsed


def read_id_csv(lines: Iterable[bytes], source: str) -> Iterator[int]:
    """Yield the ``submission_id`` column of a CSV given as byte lines (streamed, UTF-8, BOM allowed).

    Other columns are ignored and never echoed: a hand-made list may carry names or SSNs.
    """
    decoder = codecs.iterdecode(lines, "utf-8-sig")
    try:
        reader = csv.reader(decoder)
        header = next(reader, None)
        if header is None:
            raise ScopeError(f"{source} is empty: it needs a header row with a '{ID_COLUMN}' column")
        names = [h.strip().lower() for h in header]
        if ID_COLUMN not in names:
            raise ScopeError(f"{source} has no '{ID_COLUMN}' column in its header row")
        col = names.index(ID_COLUMN)
        count = 0
        for lineno, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            value = row[col].strip() if col < len(row) else ""
            if not _ID_CELL.fullmatch(value) or not 0 < int(value) <= MAX_SUBMISSION_ID:
                raise ScopeError(f"{source} line {lineno}: {ID_COLUMN} is not an integer from 1 to "
                                 f"{MAX_SUBMISSION_ID} (ASCII digits only)")
            count += 1
            if count > MAX_REQUESTED_IDS:
                raise ScopeError(f"{source} lists more than {MAX_REQUESTED_IDS} ids; split it into several runs")
            yield int(value)
    except UnicodeDecodeError:
        raise ScopeError(f"{source} is not UTF-8 text") from None
    except csv.Error:
        raise ScopeError(f"{source} is not a readable CSV file") from None
