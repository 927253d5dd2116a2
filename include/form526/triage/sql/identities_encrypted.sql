-- identities.sql for source mode "encrypted": vets-api's Lockbox ciphertext columns and the row's
-- wrapped data key, decrypted in memory by read.py. Bind parameter: ids (int[]).
SELECT
    sub.id,
    sub.auth_headers_json_ciphertext,
    sub.form_json_ciphertext,
    sub.encrypted_kms_key
FROM form526_submissions AS sub
WHERE sub.id = ANY(CAST(%(ids)s AS integer[]))
ORDER BY sub.id
