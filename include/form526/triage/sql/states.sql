-- Every submission failed or established_no_pdf as of the as_of bind parameter. Not a complete statement:
-- include/form526/triage/read.py runs it as
--     WITH s AS (<include/form526/source/sql/submission_state.sql>) <this file>
-- so it shares the classifier's bind parameters: as_of (naive UTC), pending_window_days and
-- include_email_notified.
--
-- failed_at (naive UTC, failed rows only) estimates when the submission stopped being in flight, from
-- today's rows: job status rows are updated in place, so there is no history to replay.
--   1. It left "in flight" at the EARLIEST of: the end of the pending window (created_at + window);
--      the first BackupSubmission exhausted / non_retryable_error; the backup rejection (backup status
--      rejected = 1; the submission's updated_at is the best timestamp there is); the first remediation
--      row when a backup id is set (it ends pending_backup). A failed submission has no claim id.
--   2. If it was remediated successfully once, it is failed again only since then: since its latest
--      remediation row when an earlier row succeeded, or since the row was marked unsuccessful
--      (vets-api's mark_as_unsuccessful updates the row in place: success false, updated_at later than
--      created_at).
-- LEAST/GREATEST ignore NULLs, and the pending-window term is never NULL.
-- poll_status (established_no_pdf rows only): the newest PollForm526Pdf row's status, NULL when none.
SELECT
    s.id,
    s.veteran_key,
    s.state,
    s.created_at,
    CASE WHEN s.state = 'failed' THEN
        GREATEST(
            LEAST(
                s.created_at + make_interval(days => CAST(%(pending_window_days)s AS integer)),
                bj.first_terminal_at,
                CASE WHEN sub.backup_submitted_claim_status = 1 THEN sub.updated_at END,
                CASE WHEN sub.backup_submitted_claim_id IS NOT NULL THEN rem.first_at END
            ),
            CASE WHEN rem.any_success THEN rem.last_at END,
            rem.last_reverted_at
        )
    END AS failed_at,
    sub.backup_submitted_claim_id IS NOT NULL AS has_backup_id,
    sub.backup_submitted_claim_status AS backup_status,
    poll.status AS poll_status
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
        bool_or(r.success) AS any_success,
        max(r.updated_at) FILTER (WHERE r.success IS FALSE AND r.updated_at > r.created_at) AS last_reverted_at
    FROM form526_submission_remediations AS r
    WHERE r.form526_submission_id = s.id
) AS rem ON true
LEFT JOIN LATERAL (
    SELECT p.status
    FROM form526_job_statuses AS p
    WHERE p.form526_submission_id = s.id
      AND p.job_class = 'PollForm526Pdf'
      AND s.state = 'established_no_pdf'
    ORDER BY p.updated_at DESC, p.id DESC
    LIMIT 1
) AS poll ON true
WHERE s.state IN ('failed', 'established_no_pdf')
ORDER BY s.id
