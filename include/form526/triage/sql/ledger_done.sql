-- Submissions the delivery ledger holds as done (delivered, or skipped as a duplicate), with when.
-- Bind parameter: states (text[], normally uploaded and duplicate).
SELECT
    d.submission_id,
    d.state,
    COALESCE(d.uploaded_at, d.updated_at) AS done_at
FROM form526_deliveries AS d
WHERE d.state = ANY(CAST(%(states)s AS text[]))
