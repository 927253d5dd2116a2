"""``seed``: stream labelled synthetic submissions into a vets-api-shaped database."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from include.form526.source.selection import normalize_as_of
from tools.synthetic import writer
from tools.synthetic.blobs import BlobMaker
from tools.synthetic.encryption import Encryptor, fake_kms_key
from tools.synthetic.evidence import attachment_rows
from tools.synthetic.jobs import JobWriter
from tools.synthetic.labels import LABEL_COLS, Facts, facts_of, label_rows, veteran_key
from tools.synthetic.model import Sub, Veteran, iso_z
from tools.synthetic.outcomes import Outcomes
from tools.synthetic.remediations import RemediationWriter
from tools.synthetic.scenarios import FAILED, LABEL_STATES, PlanItem, plan

DEFAULT_BATCH_ROWS = 5000
SUBMISSION_MODEL = "Form526Submission"


@dataclass(frozen=True)
class SeedSummary:
    """What one ``seed`` call inserted (counts only, no PII)."""

    n: int
    seed: int
    as_of: datetime
    first_id: int
    last_id: int
    job_rows: int
    remediation_rows: int
    per_scenario: dict[str, int]
    per_state: dict[str, int]
    elapsed_seconds: float
    account_rows: int = 0
    attachment_rows: int = 0
    per_delivery: dict[str, int] = field(default_factory=dict)
    encrypted: bool = False

    @property
    def failed_share(self) -> float:
        """Share of the seeded submissions labelled failed."""
        return self.per_state.get(FAILED, 0) / self.n if self.n else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly representation."""
        return {
            "n": self.n, "seed": self.seed, "as_of": self.as_of.isoformat(), "first_id": self.first_id,
            "last_id": self.last_id, "job_rows": self.job_rows, "remediation_rows": self.remediation_rows,
            "account_rows": self.account_rows, "attachment_rows": self.attachment_rows,
            "encrypted": self.encrypted, "per_state": self.per_state, "per_delivery": self.per_delivery,
            "per_scenario": self.per_scenario, "failed_share": round(self.failed_share, 4),
            "elapsed_seconds": round(self.elapsed_seconds, 2),
        }


@dataclass
class _Group:
    """A veteran's group while its members are generated (labels wait for the last member)."""

    first_id: int
    vet: Veteran
    remaining: int
    form: dict[str, Any] | None = None
    members: list[Facts] = field(default_factory=list)
    accounts: dict[str, list[uuid.UUID | None]] = field(default_factory=dict)


class _Batch:
    """Rows of one COPY batch."""

    def __init__(self) -> None:
        self.subs: list[tuple[Any, ...]] = []
        self.jobs: list[tuple[Any, ...]] = []
        self.rems: list[tuple[Any, ...]] = []
        self.accounts: list[tuple[Any, ...]] = []
        self.attachments: list[tuple[Any, ...]] = []
        self.labels: list[tuple[Any, ...]] = []

    def write(self, cur: psycopg.Cursor) -> None:
        writer.copy_rows(cur, "user_accounts", writer.ACCOUNT_COLS, self.accounts)
        writer.copy_rows(cur, "form526_submissions", writer.SUB_COLS, self.subs)
        writer.copy_rows(cur, "form526_job_statuses", writer.JOB_COLS, self.jobs)
        writer.copy_rows(cur, "form526_submission_remediations", writer.REM_COLS, self.rems)
        writer.copy_rows(cur, "form_attachments", writer.ATTACHMENT_COLS, self.attachments)
        writer.copy_rows(cur, "synthetic.submission_labels", LABEL_COLS, self.labels)


class _Seeder:
    """Generates submissions in plan order; one instance per ``seed`` call."""

    def __init__(self, rng: random.Random, crypto_rng: random.Random, as_of: datetime, start: dict[str, int],
                 encryptor: Encryptor | None, blobs: BlobMaker | None = None) -> None:
        self.rng = rng
        self.crypto_rng = crypto_rng
        self.as_of = as_of
        self.blobs = blobs if blobs is not None else BlobMaker(rng, as_of)
        self.jobs = JobWriter(rng, start["job"])
        self.rems = RemediationWriter(rng, start["rem"])
        self.outcomes = Outcomes(rng, as_of, self.jobs, self.rems, start["claim"])
        self.next_saved = start["saved"]
        self.next_attachment = start["attachment"]
        self.encryptor = encryptor
        self.groups: dict[int, _Group] = {}
        self.per_delivery: Counter[str] = Counter()
        self._group_sizes: dict[int, int] = {}
        self._account_link: dict[int, datetime] = {}  # two-credential groups: when credential 0 got linked

    def _new_veteran(self, batch: _Batch, created_at: datetime, awkward: str | None, credentials: int) -> Veteran:
        vet = self.blobs.veteran(created_at, awkward, credentials)
        if vet.account_row:
            at = min(c.linked_since for c in vet.credentials)
            batch.accounts.append((vet.user_account_id, vet.icn, at, at))
        return vet

    def _attachments(self, batch: _Batch, form: dict[str, Any], kinds: list[str], created_at: datetime,
                     awkward: bool) -> None:
        for guid, atype, file_data, created, updated in attachment_rows(
                self.rng, form["form526_uploads"], kinds, created_at, awkward):
            aid = self.next_attachment
            self.next_attachment += 1
            if self.encryptor is not None:
                kms_key, (cipher,), rotate = self.encryptor.encrypt_row(atype, aid, created, [file_data])
            else:
                kms_key, cipher, rotate = fake_kms_key(self.crypto_rng, created), None, False
            batch.attachments.append((aid, guid, atype, file_data, cipher, kms_key, rotate, created, updated))

    def add(self, batch: _Batch, sid: int, item: PlanItem) -> None:
        """Generate submission ``sid`` and its rows into ``batch``."""
        awkward = item.scenario if item.scenario.startswith("awkward_") else None
        group = self.groups.get(item.group) if item.group is not None else None
        if item.group is not None and group is None:
            link = self._account_link.get(item.group)
            vet = self._new_veteran(batch, item.created_at, None, 2 if link else 1)
            if link is not None:  # credential 0's first row predates its link; credential 1 is linked
                vet.credentials[0].linked_since = link
                vet.credentials[1].linked_since = item.created_at
            group = _Group(sid, vet, self._group_sizes[item.group])
            self.groups[item.group] = group
        vet = group.vet if group else self._new_veteran(batch, item.created_at, awkward, 1)
        credential = vet.credentials[item.credential]
        account_id = vet.account_for(item.credential, item.created_at)
        dupe_group = f"dupe-{group.first_id}" if group and item.dupe else None
        if group is not None and item.dupe:
            if group.form is None:
                group.form, kinds = self.blobs.form(vet, item.created_at, None)
                self._attachments(batch, group.form, kinds, item.created_at, False)
            form = self.blobs.dupe_copy(group.form, item.created_at)
        else:
            form, kinds = self.blobs.form(vet, item.created_at, awkward)
            self._attachments(batch, form, kinds, item.created_at, awkward == "awkward_evidence_rows")

        s = Sub(id=sid, scenario=item.scenario, created_at=item.created_at, as_of=self.as_of)
        s.form_flags = {"uploads": len(form["form526_uploads"]), "4142": form["form4142"] is not None,
                        "0781": form["form0781"] is not None, "8940": form["form8940"] is not None,
                        "bdd": form["form526"]["form526"]["bddQualified"]}
        self.outcomes.apply(s, group.first_id if group else None)

        form_json = json.dumps(form, ensure_ascii=False)
        if item.scenario == "corrupt_form_json":
            form_json = form_json[: len(form_json) // 2]
        auth = self.blobs.auth_headers(vet, item.created_at, awkward)
        multiple_birls = self.rng.random() < 0.02
        birls_tried = (json.dumps({vet.birls or self.blobs.digits(9): [iso_z(item.created_at)],
                                   self.blobs.digits(9): []}) if multiple_birls else None)
        updated = max(item.created_at, s.clip(s.last_touch or s.after(self.rng, item.created_at, 1, 60)))
        if self.encryptor is not None:
            kms_key, ciphers, rotate = self.encryptor.encrypt_row(SUBMISSION_MODEL, sid, item.created_at,
                                                                  [form_json, auth, birls_tried])
        else:
            kms_key, ciphers, rotate = fake_kms_key(self.crypto_rng, item.created_at), [None, None, None], False
        self.next_saved += 1
        birls_flag = multiple_birls if multiple_birls else self.rng.choice((None, False))
        batch.subs.append((sid, credential.user_uuid, self.next_saved, s.submitted_claim_id, s.workflow_complete,
                           item.created_at, updated, birls_flag,
                           auth, form_json, birls_tried, kms_key, account_id, s.backup_id, s.aasm, s.endpoint,
                           s.backup_status, rotate, *ciphers))
        batch.jobs.extend(s.jobs)
        batch.rems.extend(s.rems)

        facts = facts_of(s, credential.user_uuid, dupe_group)
        if group is None:
            facts.veteran_key = veteran_key(credential.user_uuid, [account_id])
            self._label(batch, [facts])
            return
        group.members.append(facts)
        group.accounts.setdefault(credential.user_uuid, []).append(account_id)
        group.remaining -= 1
        if group.remaining == 0:
            for member in group.members:
                member.veteran_key = veteran_key(member.user_uuid, group.accounts[member.user_uuid])
            self._label(batch, group.members)
            del self.groups[item.group]  # type: ignore[arg-type]

    def _label(self, batch: _Batch, members: list[Facts]) -> None:
        rows = label_rows(members, self.as_of)
        batch.labels.extend(rows)
        self.per_delivery.update(r[5] for r in rows)

    def index_groups(self, items: list[PlanItem]) -> None:
        """Group sizes, and the account link time of two-credential groups, known before generation."""
        members: dict[int, list[PlanItem]] = {}
        for it in items:
            if it.group is not None:
                members.setdefault(it.group, []).append(it)
        self._group_sizes = {g: len(m) for g, m in members.items()}
        for g, group in members.items():
            own = [m.created_at for m in group if m.credential == 0]
            if len(own) > 1 and any(m.credential for m in group):
                self._account_link[g] = own[0] + (own[1] - own[0]) / 2


def seed(
    conn: psycopg.Connection,
    n: int,
    seed: int = 42,
    as_of: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    encrypt_with: Any = None,
    kms_key_id: str | None = None,
) -> SeedSummary:
    """Insert ``n`` labelled submissions with their job, remediation, account and attachment rows.

    Creates the schema if missing. Deterministic for (n, seed, as_of) on an empty database; on a
    non-empty one ids continue after the current maximum (seeding twice appends). ``as_of`` (default:
    now, UTC) anchors all timestamps; labels assume a 21-day window. Runs inside
    ``conn.transaction()``: on a non-autocommit connection with a transaction already open the caller
    commits. ``progress(done, total)`` is called after each batch.

    ``encrypt_with``: a boto3 KMS client. When given (with ``kms_key_id``), the ``*_ciphertext`` and
    ``encrypted_kms_key`` columns are filled as Rails writes them (see ``encryption.py``); the
    plaintext columns are filled in both modes and do not depend on the mode.
    """
    if n <= 0:
        raise ValueError("n must be a positive integer")
    return seed_planned(conn, lambda rng, at: plan(n, rng, at), seed=seed, as_of=as_of, progress=progress,
                        batch_rows=batch_rows, encrypt_with=encrypt_with, kms_key_id=kms_key_id)


PlanFn = Callable[[random.Random, datetime], list[PlanItem]]
BlobsFn = Callable[[random.Random, datetime], BlobMaker]


def seed_planned(
    conn: psycopg.Connection,
    make_plan: PlanFn,
    seed: int = 42,
    as_of: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    encrypt_with: Any = None,
    kms_key_id: str | None = None,
    make_blobs: BlobsFn | None = None,
) -> SeedSummary:
    """``seed`` for any plan: ``make_plan(rng, as_of)`` gives the items, ``make_blobs(rng, as_of)`` the blob maker.

    Both draw from the seeded stream in that order (plan first), as ``seed`` always has.
    """
    if batch_rows <= 0:
        raise ValueError("batch_rows must be a positive integer")
    if encrypt_with is not None and not kms_key_id:
        raise ValueError("kms_key_id is required with encrypt_with")
    started = time.monotonic()
    as_of = normalize_as_of(as_of) if as_of is not None else datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    per_scenario: Counter[str] = Counter()
    per_state: Counter[str] = Counter()
    job_rows = rem_rows = account_rows = attachment_rows_n = 0
    with conn.transaction():
        writer.create_schema(conn)
        conn.execute("LOCK TABLE form526_submissions, form526_job_statuses, form526_submission_remediations,"
                     " user_accounts, form_attachments, synthetic.submission_labels IN SHARE ROW EXCLUSIVE MODE")
        start = writer.start_values(conn)
        first_id = start["sub"]
        rng = random.Random(seed if first_id == 1 else f"{seed}:{first_id}")
        crypto_rng = random.Random(f"{seed}:{first_id}:crypto")
        items = make_plan(rng, as_of)
        n = len(items)
        encryptor = Encryptor(encrypt_with, str(kms_key_id), crypto_rng, as_of) if encrypt_with is not None else None
        seeder = _Seeder(rng, crypto_rng, as_of, start, encryptor,
                         make_blobs(rng, as_of) if make_blobs is not None else None)
        seeder.index_groups(items)
        cur = conn.cursor()
        for batch_start in range(0, n, batch_rows):
            batch = _Batch()
            for offset, item in enumerate(items[batch_start: batch_start + batch_rows]):
                seeder.add(batch, first_id + batch_start + offset, item)
                per_scenario[item.scenario] += 1
            batch.write(cur)
            per_state.update(r[2] for r in batch.labels)
            job_rows += len(batch.jobs)
            rem_rows += len(batch.rems)
            account_rows += len(batch.accounts)
            attachment_rows_n += len(batch.attachments)
            if progress is not None:
                progress(min(batch_start + batch_rows, n), n)
        if seeder.groups:  # pragma: no cover - the plan holds every member of every group
            raise AssertionError("incomplete groups after seeding")
        writer.finish(conn)
    return SeedSummary(
        n=n, seed=seed, as_of=as_of, first_id=first_id, last_id=first_id + n - 1, job_rows=job_rows,
        remediation_rows=rem_rows, per_scenario=dict(sorted(per_scenario.items())),
        per_state={st: per_state.get(st, 0) for st in LABEL_STATES},
        elapsed_seconds=time.monotonic() - started, account_rows=account_rows,
        attachment_rows=attachment_rows_n, per_delivery=dict(sorted(seeder.per_delivery.items())),
        encrypted=encryptor is not None,
    )

