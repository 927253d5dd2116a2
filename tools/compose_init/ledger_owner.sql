-- The pipeline's role on the ledger database: not a superuser, owner of one schema (form526) and nothing
-- else. The ledger migrates itself (include/form526/delivery/ledger.py), so the role needs CREATE on
-- that schema; its search_path points there, so the ledger's unqualified names land in it.
-- Idempotent (every compose start runs it: a changed password in .env takes effect). Run as a superuser
-- (or the database owner with CREATEROLE) with psql, in the ledger database:
--
--   psql -v ON_ERROR_STOP=1 -v ledger_password=... -f ledger_owner.sql postgresql://admin@host/form526_ledger

\set ON_ERROR_STOP on

SELECT 'CREATE ROLE form526 LOGIN'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'form526') \gexec

ALTER ROLE form526 WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'ledger_password';

-- Only the roles granted here may connect; nobody may create in public (PostgreSQL 15+ default, made explicit).
REVOKE ALL ON DATABASE :"DBNAME" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"DBNAME" TO form526;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

CREATE SCHEMA IF NOT EXISTS form526 AUTHORIZATION form526;
ALTER SCHEMA form526 OWNER TO form526;
ALTER ROLE form526 IN DATABASE :"DBNAME" SET search_path = form526;
