-- Stand-in for the three vets-api tables behind VA Form 21-526EZ submissions
-- (column names, types, defaults and indexes follow vets-api db/schema.rb).
-- Deliberate difference: the encrypted JSON blobs are plain text columns
-- form_json and auth_headers_json. Idempotent: safe to run repeatedly.

CREATE TABLE IF NOT EXISTS form526_submissions (
    id                            serial PRIMARY KEY,
    user_uuid                     varchar NOT NULL,
    saved_claim_id                integer NOT NULL,
    submitted_claim_id            integer,
    workflow_complete             boolean NOT NULL DEFAULT false,
    created_at                    timestamp NOT NULL,
    updated_at                    timestamp NOT NULL,
    multiple_birls                boolean,
    auth_headers_json             text,
    form_json                     text,
    birls_ids_tried               text,
    encrypted_kms_key             text,
    user_account_id               uuid,
    backup_submitted_claim_id     varchar,
    aasm_state                    varchar DEFAULT 'unprocessed',
    submit_endpoint               integer,
    backup_submitted_claim_status integer,
    needs_kms_rotation            boolean NOT NULL DEFAULT false
);

CREATE UNIQUE INDEX IF NOT EXISTS index_form526_submissions_on_saved_claim_id
    ON form526_submissions (saved_claim_id);
CREATE UNIQUE INDEX IF NOT EXISTS index_form526_submissions_on_submitted_claim_id
    ON form526_submissions (submitted_claim_id);
CREATE INDEX IF NOT EXISTS index_form526_submissions_on_user_uuid
    ON form526_submissions (user_uuid);
CREATE INDEX IF NOT EXISTS index_form526_submissions_on_user_account_id
    ON form526_submissions (user_account_id);
CREATE INDEX IF NOT EXISTS index_form526_submissions_on_backup_submitted_claim_id
    ON form526_submissions (backup_submitted_claim_id);

CREATE TABLE IF NOT EXISTS form526_job_statuses (
    id                    serial PRIMARY KEY,
    form526_submission_id integer NOT NULL,
    job_id                varchar NOT NULL,
    job_class             varchar NOT NULL,
    status                varchar NOT NULL,
    error_class           varchar,
    error_message         varchar,
    updated_at            timestamp NOT NULL,
    bgjob_errors          jsonb DEFAULT '{}'::jsonb
);

CREATE INDEX IF NOT EXISTS index_form526_job_statuses_on_form526_submission_id
    ON form526_job_statuses (form526_submission_id);
CREATE UNIQUE INDEX IF NOT EXISTS index_form526_job_statuses_on_job_id
    ON form526_job_statuses (job_id);

CREATE TABLE IF NOT EXISTS form526_submission_remediations (
    id                    bigserial PRIMARY KEY,
    form526_submission_id bigint NOT NULL REFERENCES form526_submissions (id),
    lifecycle             text[] DEFAULT '{}'::text[],
    success               boolean DEFAULT true,
    ignored_as_duplicate  boolean DEFAULT false,
    created_at            timestamp NOT NULL,
    updated_at            timestamp NOT NULL,
    remediation_type      integer DEFAULT 0
);

CREATE INDEX IF NOT EXISTS index_form526_submission_remediations_on_form526_submission_id
    ON form526_submission_remediations (form526_submission_id);
