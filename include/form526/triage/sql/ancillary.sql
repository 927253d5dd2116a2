-- Ancillary job failures (uploads, 4142, 0781, 8940, BDD instructions, cleanup) last updated in
-- [start, end), whatever the state of their submission, with the submission's veteran_key. Not a
-- complete statement: include/form526/triage/read.py runs it as
--     WITH s AS (<include/form526/source/sql/submission_state.sql>) <this file>
-- (only s.veteran_key is used). Bind parameters: the classifier's (as_of, pending_window_days,
-- include_email_notified), classes (text[]), statuses (text[]), start and end (naive UTC timestamps).
SELECT
    j.form526_submission_id,
    s.veteran_key,
    j.job_class,
    j.status,
    j.error_class,
    j.error_message,
    j.updated_at,
    j.bgjob_errors
FROM form526_job_statuses AS j
JOIN s ON s.id = j.form526_submission_id
WHERE j.job_class = ANY(CAST(%(classes)s AS text[]))
  AND j.status = ANY(CAST(%(statuses)s AS text[]))
  AND j.updated_at >= CAST(%(start)s AS timestamp)
  AND j.updated_at < CAST(%(end)s AS timestamp)
ORDER BY j.updated_at, j.id
