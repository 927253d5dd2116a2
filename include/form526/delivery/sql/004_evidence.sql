-- Evidence in the package: how many uploads went in and which did not (reason codes only, never names),
-- and the checksum S3 answers for the object (base64 SHA-256, or "<b64>-N" for a multipart upload), so
-- reconcile can confirm multipart packages with a HEAD too.
ALTER TABLE form526_deliveries ADD COLUMN IF NOT EXISTS attachments integer;
ALTER TABLE form526_deliveries ADD COLUMN IF NOT EXISTS attachments_missing integer;
ALTER TABLE form526_deliveries ADD COLUMN IF NOT EXISTS missing_evidence jsonb;
ALTER TABLE form526_deliveries ADD COLUMN IF NOT EXISTS s3_checksum text;
