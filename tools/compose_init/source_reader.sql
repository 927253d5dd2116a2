-- The pipeline's role on the vets-api database: SELECT on the tables it reads, nothing else.
-- Idempotent (every compose start runs it: a changed password in .env takes effect). Run as the database
-- owner with psql, in the database the pipeline reads (public schema, after the tables exist):
--
--   psql -v ON_ERROR_STOP=1 -v reader_password=... -f source_reader.sql postgresql://owner@host/vets_api
--
-- On the real vets-api, a DBA runs the same on the primary (roles and grants replicate to the read replica).
-- user_accounts: the id column only (to count submissions whose account row is missing), never the ICN.

\set ON_ERROR_STOP on

SELECT 'CREATE ROLE form526_reader LOGIN'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'form526_reader') \gexec

ALTER ROLE form526_reader WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'reader_password';
-- The pipeline reads in READ ONLY transactions anyway; this makes it the role's default too.
ALTER ROLE form526_reader SET default_transaction_read_only = on;

GRANT CONNECT ON DATABASE :"DBNAME" TO form526_reader;
GRANT USAGE ON SCHEMA public TO form526_reader;

-- Exactly these grants: whatever an earlier version of this file granted goes first (revoking a
-- table's privileges revokes its column privileges too).
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM form526_reader;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM form526_reader;

GRANT SELECT ON form526_submissions, form526_job_statuses, form526_submission_remediations, form_attachments
    TO form526_reader;
GRANT SELECT (id) ON user_accounts TO form526_reader;
