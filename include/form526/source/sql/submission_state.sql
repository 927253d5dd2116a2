-- Classify every Form 526 submission created at or before the as_of bind parameter
-- (vets-api lib/scopes/form526_submission_state.rb, see docs: domain notes section 3).
-- Columns: id, user_uuid, created_at, state in (success, in_process, pending_backup, failed).
-- Bind parameters (psycopg pyformat): as_of (naive UTC timestamp) and
-- pending_window_days (int, normally 21). The pending window is measured against as_of.
-- Precedence: success, then in_process, then pending_backup, else failed.
-- Enums: submit_endpoint claims_api = 1; backup status accepted 0, rejected 1, paranoid_success 2.
-- A plain SELECT without trailing semicolon or trailing comment: usable as a CTE body.
SELECT
    s.id,
    s.user_uuid,
    s.created_at,
    CASE
        WHEN (
                s.submitted_claim_id IS NOT NULL
                AND (
                    s.submit_endpoint IS DISTINCT FROM 1
                    OR EXISTS (
                        SELECT 1
                        FROM form526_job_statuses AS poll
                        WHERE poll.form526_submission_id = s.id
                          AND poll.job_class = 'PollForm526Pdf'
                          AND poll.status = 'success'
                    )
                )
            )
            OR (s.backup_submitted_claim_id IS NOT NULL
                AND s.backup_submitted_claim_status IN (0, 2))
            OR s.backup_submitted_claim_status = 2
            OR latest_rem.success IS TRUE
            THEN 'success'
        WHEN s.submitted_claim_id IS NULL
            AND s.backup_submitted_claim_id IS NULL
            AND s.created_at > w.pending_since
            AND latest_rem.success IS NOT TRUE
            AND NOT EXISTS (
                SELECT 1
                FROM form526_job_statuses AS bj
                WHERE bj.form526_submission_id = s.id
                  AND bj.job_class = 'BackupSubmission'
                  AND bj.status IN ('exhausted', 'non_retryable_error')
            )
            THEN 'in_process'
        WHEN s.submitted_claim_id IS NULL
            AND s.backup_submitted_claim_id IS NOT NULL
            AND s.backup_submitted_claim_status IS NULL
            AND latest_rem.form526_submission_id IS NULL
            AND s.created_at > w.pending_since
            THEN 'pending_backup'
        ELSE 'failed'
    END AS state
FROM form526_submissions AS s
CROSS JOIN (
    SELECT
        CAST(%(as_of)s AS timestamp) AS as_of,
        CAST(%(as_of)s AS timestamp)
            - make_interval(days => CAST(%(pending_window_days)s AS integer)) AS pending_since
) AS w
LEFT JOIN (
    SELECT DISTINCT ON (r.form526_submission_id)
        r.form526_submission_id,
        r.success
    FROM form526_submission_remediations AS r
    ORDER BY r.form526_submission_id, r.created_at DESC, r.id DESC
) AS latest_rem
    ON latest_rem.form526_submission_id = s.id
WHERE s.created_at <= w.as_of
