-- Stand-in for the vets-api tables behind VA Form 21-526EZ submissions: form526_submissions,
-- form526_job_statuses, form526_submission_remediations, user_accounts and form_attachments
-- (column names, types, defaults and indexes follow vets-api db/schema.rb).
-- Encrypted columns: vets-api stores these attributes only as Lockbox ciphertext (AES-256-GCM under a
-- per-row KMS data key, see encrypted_kms_key). Beside each *_ciphertext column this stand-in keeps a
-- plaintext column holding the decrypted value, so the pipeline can run without KMS:
--   form526_submissions.form_json          stands for form_json_ciphertext
--   form526_submissions.auth_headers_json  stands for auth_headers_json_ciphertext
--   form526_submissions.birls_ids_tried    stands for birls_ids_tried_ciphertext
--   form_attachments.file_data             stands for file_data_ciphertext
-- The *_ciphertext columns are NULL unless the data was written in encrypted mode (as in production).
-- Idempotent: safe to run repeatedly (ALTER ... ADD COLUMN IF NOT EXISTS upgrades older databases).

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

-- user_account_id: vets-api declares a foreign key to user_accounts; none here, because the data
-- can hold ids with no user_accounts row. The ciphertext columns were added after the first release.
ALTER TABLE form526_submissions ADD COLUMN IF NOT EXISTS form_json_ciphertext text;
ALTER TABLE form526_submissions ADD COLUMN IF NOT EXISTS auth_headers_json_ciphertext text;
ALTER TABLE form526_submissions ADD COLUMN IF NOT EXISTS birls_ids_tried_ciphertext text;

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

-- remediation_type: manual 0, ignored_as_duplicate 1, email_notified 2.
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

CREATE TABLE IF NOT EXISTS user_accounts (
    id         uuid PRIMARY KEY,
    icn        varchar,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL
);

CREATE UNIQUE INDEX IF NOT EXISTS index_user_accounts_on_icn
    ON user_accounts (icn);

-- Single-table inheritance: type is the Rails class (SupportingEvidenceAttachment for Form 526
-- evidence); guid is the upload's confirmationCode in form_json's form526_uploads.
-- file_data holds the plaintext JSON {"filename": ..., "converted_filename": ...}.
CREATE TABLE IF NOT EXISTS form_attachments (
    id                   serial PRIMARY KEY,
    guid                 uuid NOT NULL,
    type                 varchar NOT NULL,
    file_data            text,
    file_data_ciphertext text,
    encrypted_kms_key    text,
    needs_kms_rotation   boolean DEFAULT false,
    created_at           timestamp NOT NULL,
    updated_at           timestamp NOT NULL
);

CREATE UNIQUE INDEX IF NOT EXISTS index_form_attachments_on_guid_and_type
    ON form_attachments (guid, type);
