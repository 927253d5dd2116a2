-- The identity sources of the given submissions (auth headers; form_json for the mailing address),
-- read only to scrub these values out of error text. Bind parameter: ids (int[]).
SELECT
    sub.id,
    sub.auth_headers_json,
    sub.form_json
FROM form526_submissions AS sub
WHERE sub.id = ANY(CAST(%(ids)s AS integer[]))
ORDER BY sub.id
