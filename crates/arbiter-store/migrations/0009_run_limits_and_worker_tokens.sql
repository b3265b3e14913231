-- Runs (issue 12, continued).

-- The time limit of each phase of a run, seconds, fixed when it is claimed
-- (JSON object: phase → seconds, from the stack's `runs.timeouts` and
-- verification window). The server stops a run whose current phase has
-- lasted longer than its limit plus a grace, even if its worker keeps
-- heart-beating. NULL (claimed before this migration): the default limits.
ALTER TABLE runs ADD COLUMN limits TEXT;

-- Worker-pool tokens can be listed and revoked. `id`: the first 16 hex
-- digits of the token's SHA-256 (not a secret; shown when it is minted and
-- by the list); `prefix`: the token's first characters (`arbw_1a2b3c4`,
-- NULL for tokens minted before); `last_used_at`: its last claim request (kept to
-- the minute); `revoked_by`: who revoked it.
ALTER TABLE worker_tokens ADD COLUMN id TEXT;
ALTER TABLE worker_tokens ADD COLUMN prefix TEXT;
ALTER TABLE worker_tokens ADD COLUMN last_used_at BIGINT;
ALTER TABLE worker_tokens ADD COLUMN revoked_by TEXT;
UPDATE worker_tokens SET id = SUBSTR(token_hash, 1, 16);
CREATE UNIQUE INDEX worker_tokens_id ON worker_tokens (id);
CREATE INDEX worker_tokens_pool ON worker_tokens (pool, created_at);
