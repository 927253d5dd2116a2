-- Every submission failed as of the as_of bind parameter, with the moment it became failed.
-- Not a complete statement: include/triage.py runs it as
--     WITH s AS (<submission_state.sql>) <this file>
-- so it shares the classifier's bind parameters: as_of (naive UTC) and pending_window_days.
--
-- failed_at (naive UTC) estimates when the submission stopped being in flight (or successful), from
-- today's rows: job status rows are updated in place, so there is no history to replay.
--   1. It left "in flight" at the EARLIEST of: the end of the pending window (created_at + window);
--      created_at when a claim id is set (primary accepted but never confirmed: never in flight);
--      the first BackupSubmission exhausted / non_retryable_error; the backup rejection
--      (backup status rejected = 1; the submission's updated_at is the best timestamp there is);
--      the first remediation row when a backup id is set (it ends pending_backup).
--   2. If it was remediated successfully once, it is failed again only since its latest remediation.
-- LEAST/GREATEST ignore NULLs, and the pending-window term is never NULL.
SELECT
    s.id,
    s.user_uuid,
    s.created_at,
    GREATEST(
        LEAST(
            s.created_at + make_interval(days => CAST(%(pending_window_days)s AS integer)),
            CASE WHEN sub.submitted_claim_id IS NOT NULL THEN s.created_at END,
            bj.first_terminal_at,
            CASE WHEN sub.backup_submitted_claim_status = 1 THEN sub.updated_at END,
            CASE WHEN sub.backup_submitted_claim_id IS NOT NULL THEN rem.first_at END
        ),
        CASE WHEN rem.any_success THEN rem.last_at END
    ) AS failed_at,
    sub.submitted_claim_id IS NOT NULL AS has_claim_id,
    sub.backup_submitted_claim_id IS NOT NULL AS has_backup_id,
    sub.backup_submitted_claim_status AS backup_status
FROM s
JOIN form526_submissions AS sub ON sub.id = s.id
LEFT JOIN LATERAL (
    SELECT min(j.updated_at) AS first_terminal_at
    FROM form526_job_statuses AS j
    WHERE j.form526_submission_id = s.id
      AND j.job_class = 'BackupSubmission'
      AND j.status IN ('exhausted', 'non_retryable_error')
) AS bj ON true
LEFT JOIN LATERAL (
    SELECT
        min(r.created_at) AS first_at,
        max(r.created_at) AS last_at,
        bool_or(r.success) AS any_success
    FROM form526_submission_remediations AS r
    WHERE r.form526_submission_id = s.id
) AS rem ON true
WHERE s.state = 'failed'
ORDER BY s.id
