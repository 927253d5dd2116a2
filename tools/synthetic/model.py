"""The generator's in-memory records: veterans, credentials and one submission being built."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

EPOCH = datetime(1970, 1, 1)


def iso_z(t: datetime) -> str:
    """A timestamp as Rails serialises UTC times in JSON (millisecond precision, ``Z``)."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def epoch_key(t: datetime) -> str:
    """The ``bgjob_errors`` key: epoch seconds as a string."""
    return str(int((t - EPOCH).total_seconds()))


def rand_uuid(rng: random.Random) -> uuid.UUID:
    """A version-4 UUID drawn from ``rng`` (deterministic by seed)."""
    return uuid.UUID(int=rng.getrandbits(128), version=4)


@dataclass(slots=True)
class Credential:
    """One sign-in credential (ID.me, Login.gov, ...): vets-api's ``user_uuid``.

    Rows created before ``linked_since`` carry no ``user_account_id``.
    """

    user_uuid: str
    linked_since: datetime


@dataclass(slots=True)
class Veteran:
    """One person: identity values for the blobs, one account, one or two credentials."""

    user_account_id: uuid.UUID
    icn: str
    account_row: bool  # False: the id points nowhere (no user_accounts row)
    credentials: list[Credential]
    first: str
    last: str
    ssn: str
    birls: str
    pid: str
    edipi: str
    birthdate: date
    gender: str
    email: str
    phone: tuple[str, str]
    address: dict[str, Any]
    csid: str

    def account_for(self, credential: int, at: datetime) -> uuid.UUID | None:
        """The ``user_account_id`` a row of ``credential`` created at ``at`` carries."""
        return self.user_account_id if at >= self.credentials[credential].linked_since else None


@dataclass(slots=True)
class Sub:
    """One submission while its outcome columns, job rows and remediation rows are built."""

    id: int
    scenario: str
    created_at: datetime
    as_of: datetime
    form_flags: dict[str, Any] = field(default_factory=dict)
    endpoint: int | None = None
    submitted_claim_id: int | None = None
    backup_id: str | None = None
    backup_status: int | None = None
    aasm: str = "unprocessed"
    workflow_complete: bool = False
    last_touch: datetime | None = None
    jobs: list[tuple[Any, ...]] = field(default_factory=list)
    rems: list[tuple[Any, ...]] = field(default_factory=list)

    def clip(self, t: datetime) -> datetime:
        """No event happens after as_of."""
        return min(t, self.as_of)

    def touch(self, t: datetime) -> None:
        """Record the latest event time (drives updated_at)."""
        self.last_touch = t if self.last_touch is None else max(self.last_touch, t)

    def since(self) -> datetime:
        """The latest event so far, or the creation time."""
        return self.last_touch or self.created_at

    def after(self, rng: random.Random, t: datetime, lo_s: float, hi_s: float) -> datetime:
        """A time ``lo_s``..``hi_s`` seconds after ``t`` (clipped to as_of)."""
        return self.clip(t + timedelta(seconds=rng.uniform(lo_s, hi_s)))
