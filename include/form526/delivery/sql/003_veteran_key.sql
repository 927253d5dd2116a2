-- Dedup is per veteran, not per sign-in credential: candidates carry the veteran key
-- ('acct:<user_account_id>' or 'uuid:<user_uuid>', see source/sql/submission_state.sql).
ALTER TABLE form526_run_candidates RENAME COLUMN user_uuid TO veteran_key;
