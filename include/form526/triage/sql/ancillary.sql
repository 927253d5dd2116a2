-- Ancillary job failures (uploads, 4142, 0781, 8940, BDD instructions, cleanup) last updated in
-- [start, end), whatever the state of their submission. Bind parameters: classes (text[]),
-- statuses (text[]), start and end (naive UTC timestamps).
SELECT
    j.form526_submission_id,
    sub.user_uuid,
    j.job_class,
    j.status,
    j.error_class,
    j.error_message,
    j.updated_at
FROM form526_job_statuses AS j
JOIN form526_submissions AS sub ON sub.id = j.form526_submission_id
WHERE j.job_class = ANY(CAST(%(classes)s AS text[]))
  AND j.status = ANY(CAST(%(statuses)s AS text[]))
  AND j.updated_at >= CAST(%(start)s AS timestamp)
  AND j.updated_at < CAST(%(end)s AS timestamp)
ORDER BY j.updated_at, j.id
