-- Ledger v2: keep each package's MD5 so the report can verify a whole run against one S3 listing
-- (for a single-part upload with SSE-S3 the ETag is the MD5 of the bytes S3 received) instead of one
-- HEAD request per object. Rows written before v2 have no MD5 and are verified with HEAD, as before.
ALTER TABLE form526_deliveries ADD COLUMN IF NOT EXISTS md5 text;
