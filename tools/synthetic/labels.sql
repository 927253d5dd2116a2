-- Ground truth written by the synthetic data generator (tools/synthetic/labels.py), computed by the
-- generator's own logic, never by the project's SQL. Not part of vets-api. Idempotent.
--
-- submission_labels: one row per generated submission.
--   expected_state   vets-api's scope for the default 21-day window at the seed's as_of.
--   dupe_group       shared by identical resubmissions of one veteran (NULL for unique content).
--   veteran_key      'acct:<user_account_id>' when any submission of the same user_uuid carries an
--                    account id, else 'uuid:<user_uuid>'.
--   expected_delivery / expected_duplicate_of: the default sweep's dedup verdict (no date or ledger
--                    filters): delivered | skipped_duplicate (duplicate of that id) | not_failed.
--   ..._with_email_notified: the same when email-notified submissions count as failed again.
-- evidence_labels: one row per evidence object put_evidence considered (present | missing | corrupt).

CREATE SCHEMA IF NOT EXISTS synthetic;

CREATE TABLE IF NOT EXISTS synthetic.submission_labels (
    submission_id  integer PRIMARY KEY,
    scenario       text NOT NULL,
    expected_state text NOT NULL
        CHECK (expected_state IN ('success', 'established_no_pdf', 'in_process', 'pending_backup',
                                  'failed')),
    dupe_group     text NULL,
    veteran_key    text NOT NULL,
    expected_delivery text NOT NULL
        CHECK (expected_delivery IN ('delivered', 'skipped_duplicate', 'not_failed')),
    expected_duplicate_of integer NULL,
    expected_delivery_with_email_notified text NOT NULL
        CHECK (expected_delivery_with_email_notified IN ('delivered', 'skipped_duplicate',
                                                          'not_failed')),
    expected_duplicate_of_with_email_notified integer NULL
);

CREATE INDEX IF NOT EXISTS submission_labels_scenario_idx
    ON synthetic.submission_labels (scenario);

CREATE TABLE IF NOT EXISTS synthetic.evidence_labels (
    s3_key      text PRIMARY KEY,
    guid        uuid NOT NULL,
    object_kind text NOT NULL,
    expected    text NOT NULL CHECK (expected IN ('present', 'missing', 'corrupt'))
);

-- Upgrade a labels table created by an older generator (columns added at the end; NULL for old rows).
ALTER TABLE synthetic.submission_labels ADD COLUMN IF NOT EXISTS veteran_key text;
ALTER TABLE synthetic.submission_labels ADD COLUMN IF NOT EXISTS expected_delivery text;
ALTER TABLE synthetic.submission_labels ADD COLUMN IF NOT EXISTS expected_duplicate_of integer;
ALTER TABLE synthetic.submission_labels ADD COLUMN IF NOT EXISTS expected_delivery_with_email_notified text;
ALTER TABLE synthetic.submission_labels
    ADD COLUMN IF NOT EXISTS expected_duplicate_of_with_email_notified integer;
ALTER TABLE synthetic.submission_labels DROP CONSTRAINT IF EXISTS submission_labels_expected_state_check;
ALTER TABLE synthetic.submission_labels ADD CONSTRAINT submission_labels_expected_state_check
    CHECK (expected_state IN ('success', 'established_no_pdf', 'in_process', 'pending_backup', 'failed'));
