-- Ground-truth labels written by the synthetic data generator (include/synthetic.py).
-- Not part of vets-api: one row per generated submission. Idempotent.

CREATE SCHEMA IF NOT EXISTS synthetic;

CREATE TABLE IF NOT EXISTS synthetic.submission_labels (
    submission_id  integer PRIMARY KEY,
    scenario       text NOT NULL,
    expected_state text NOT NULL
        CHECK (expected_state IN ('success', 'in_process', 'pending_backup', 'failed')),
    dupe_group     text NULL
);

CREATE INDEX IF NOT EXISTS submission_labels_scenario_idx
    ON synthetic.submission_labels (scenario);
