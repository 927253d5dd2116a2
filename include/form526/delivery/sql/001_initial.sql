-- Ledger v1: what each run considered and what became of every submission.
-- Applied by include/ledger.py inside one transaction; never edit a released file, add a new one.

CREATE TABLE IF NOT EXISTS form526_runs (
    run_id          text PRIMARY KEY,
    dag_id          text NOT NULL,
    run_key         text NOT NULL,              -- run_id made safe for S3 keys
    as_of           timestamptz NOT NULL,       -- the logical time failures were judged at
    params          jsonb NOT NULL DEFAULT '{}',
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    counts          jsonb,
    outcome         text                        -- success | failed_over_tolerance | dry_run
);

-- One row per submission a run considered (requested, candidate, or skipped), with its plan.
CREATE TABLE IF NOT EXISTS form526_run_items (
    run_id          text NOT NULL REFERENCES form526_runs (run_id),
    submission_id   integer NOT NULL,
    requested       boolean NOT NULL DEFAULT false,
    status          text NOT NULL,
    batch_no        integer,
    duplicate_of    integer,
    detail          text,
    created_at      timestamp,
    PRIMARY KEY (run_id, submission_id)
);
CREATE INDEX IF NOT EXISTS form526_run_items_batch ON form526_run_items (run_id, batch_no);

-- Dedup work table: the failed submissions in scope plus every success/failure of their veterans.
CREATE TABLE IF NOT EXISTS form526_run_candidates (
    run_id          text NOT NULL REFERENCES form526_runs (run_id),
    submission_id   integer NOT NULL,
    user_uuid       text NOT NULL,
    created_at      timestamp NOT NULL,
    source_state    text NOT NULL,
    content_hash    text NOT NULL,
    in_scope        boolean NOT NULL,
    PRIMARY KEY (run_id, submission_id)
);

-- The delivery state of every submission ever planned: the single source of truth for
-- "which ids landed, which failed and why, which remain".
CREATE TABLE IF NOT EXISTS form526_deliveries (
    submission_id     integer PRIMARY KEY,
    state             text NOT NULL CHECK (state IN ('queued', 'claimed', 'uploaded', 'failed', 'duplicate')),
    attempts          integer NOT NULL DEFAULT 0,
    last_error_code   text,
    last_error_detail text,
    batch_id          text,
    s3_bucket         text,
    s3_key            text,
    sha256            text,
    bytes             bigint,
    duplicate_of      integer,
    claimed_by        text,
    claim_expires_at  timestamptz,
    first_run_id      text NOT NULL,
    last_run_id       text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    uploaded_at       timestamptz
);
CREATE INDEX IF NOT EXISTS form526_deliveries_state ON form526_deliveries (state);
