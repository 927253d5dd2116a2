-- The job status rows of the given submissions, except ancillary jobs (they never make a submission
-- failed). bgjob_errors is read only for failing rows (statuses in failing): their error may live only
-- there (BackupSubmission never fills the error columns); other rows' retry history is not needed.
-- Bind parameters: ids (int[]), ancillary (text[]), failing (text[]).
SELECT
    j.form526_submission_id,
    j.job_class,
    j.status,
    j.error_class,
    j.error_message,
    j.updated_at,
    CASE WHEN j.status = ANY(CAST(%(failing)s AS text[])) THEN j.bgjob_errors END AS bgjob_errors
FROM form526_job_statuses AS j
WHERE j.form526_submission_id = ANY(CAST(%(ids)s AS integer[]))
  AND NOT (j.job_class = ANY(CAST(%(ancillary)s AS text[])))
ORDER BY j.form526_submission_id, j.updated_at, j.id
