-- Classify every Form 526 submission created at or before the as_of bind parameter, following
-- vets-api lib/scopes/form526_submission_state.rb (facts sheet: vets-api-facts.md sections 5-7).
-- Columns:
--   id, user_uuid, created_at;
--   veteran_key  'acct:<user_account_id>' when any submission of the same user_uuid (credential) carries a
--                user_account_id (ID.me and Login.gov give one veteran two credentials, linked by the
--                account), else 'uuid:<user_uuid>' (older rows often have no account);
--   user_account_id  the account the veteran_key came from (NULL for 'uuid:' keys);
--   state        success | established_no_pdf | in_process | pending_backup | failed;
--   established  true when a claim was established for it (it can make later identical copies duplicates);
--   remediation  the latest remediation row's type (manual | ignored_as_duplicate | email_notified |
--                unknown:<n>), NULL when there is none.
-- Bind parameters (psycopg pyformat): as_of (naive UTC timestamp), pending_window_days (int, normally 21)
-- and include_email_notified (bool): when true, a latest remediation of type email_notified no longer
-- counts as remediated (the operator decided VBA should still establish those claims).
-- Precedence: success, then established_no_pdf, then in_process, then pending_backup, else failed.
-- Enums: submit_endpoint claims_api = 1; backup status accepted 0, rejected 1, paranoid_success 2;
-- remediation_type manual 0, ignored_as_duplicate 1, email_notified 2.
-- A plain SELECT without trailing semicolon or trailing comment: usable as a CTE body.
SELECT
    s.id,
    s.user_uuid,
    COALESCE('acct:' || acct.user_account_id, 'uuid:' || s.user_uuid) AS veteran_key,
    acct.user_account_id,
    s.created_at,
    CASE
        WHEN c.primary_success OR c.backup_success OR c.remediated THEN 'success'
        -- a claim id without the success above: a Lighthouse claim VBA established whose PDF was never
        -- confirmed. vets-api's failure scope starts from submitted_claim_id IS NULL: not a failure.
        WHEN s.submitted_claim_id IS NOT NULL THEN 'established_no_pdf'
        WHEN s.backup_submitted_claim_id IS NULL
            AND s.created_at > w.pending_since
            AND NOT c.remediated
            AND NOT EXISTS (
                SELECT 1
                FROM form526_job_statuses AS bj
                WHERE bj.form526_submission_id = s.id
                  AND bj.job_class = 'BackupSubmission'
                  AND bj.status IN ('exhausted', 'non_retryable_error')
            )
            THEN 'in_process'
        WHEN s.backup_submitted_claim_id IS NOT NULL
            AND s.backup_submitted_claim_status IS NULL
            AND latest_rem.form526_submission_id IS NULL
            AND s.created_at > w.pending_since
            THEN 'pending_backup'
        ELSE 'failed'
    END AS state,
    (c.primary_success OR c.backup_success OR s.submitted_claim_id IS NOT NULL
        OR (latest_rem.success IS TRUE AND latest_rem.remediation_type = 0)) AS established,
    CASE latest_rem.remediation_type
        WHEN 0 THEN 'manual'
        WHEN 1 THEN 'ignored_as_duplicate'
        WHEN 2 THEN 'email_notified'
        ELSE 'unknown:' || latest_rem.remediation_type
    END AS remediation
FROM form526_submissions AS s
CROSS JOIN (
    SELECT
        CAST(%(as_of)s AS timestamp) AS as_of,
        CAST(%(as_of)s AS timestamp)
            - make_interval(days => CAST(%(pending_window_days)s AS integer)) AS pending_since,
        CAST(%(include_email_notified)s AS boolean) AS include_email_notified
) AS w
LEFT JOIN (
    SELECT DISTINCT ON (r.form526_submission_id)
        r.form526_submission_id,
        r.success,
        r.remediation_type
    FROM form526_submission_remediations AS r
    ORDER BY r.form526_submission_id, r.created_at DESC, r.id DESC
) AS latest_rem
    ON latest_rem.form526_submission_id = s.id
LEFT JOIN (
    SELECT a.user_uuid, min(CAST(a.user_account_id AS text)) AS user_account_id
    FROM form526_submissions AS a
    WHERE a.user_account_id IS NOT NULL
    GROUP BY a.user_uuid
) AS acct
    ON acct.user_uuid = s.user_uuid
CROSS JOIN LATERAL (
    SELECT
        (s.submitted_claim_id IS NOT NULL
            AND (
                s.submit_endpoint IS DISTINCT FROM 1
                OR EXISTS (
                    SELECT 1
                    FROM form526_job_statuses AS poll
                    WHERE poll.form526_submission_id = s.id
                      AND poll.job_class = 'PollForm526Pdf'
                      AND poll.status = 'success'
                )
            )) AS primary_success,
        COALESCE((s.backup_submitted_claim_id IS NOT NULL AND s.backup_submitted_claim_status IN (0, 2))
            OR s.backup_submitted_claim_status = 2, false) AS backup_success,
        (latest_rem.success IS TRUE
            AND NOT (w.include_email_notified AND latest_rem.remediation_type = 2)) AS remediated
) AS c
WHERE s.created_at <= w.as_of
