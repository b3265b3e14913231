-- Short-lived bearer tokens of agents, for the MCP endpoint (`/mcp`), where
-- standard MCP clients cannot sign ARBITER-SIG-V1. An agent mints one with a
-- signed request; it carries no scope of its own: every use reads the
-- agent's scope and limits, and it stops working when it expires, when it
-- is revoked, or when the minting key or the agent is revoked. Only the
-- SHA-256 of the secret is stored, as for people's API tokens.

CREATE TABLE agent_tokens (
    id          TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    agent_name  TEXT NOT NULL REFERENCES agents (name),
    -- The key whose signed request minted it.
    key_id      TEXT NOT NULL REFERENCES agent_keys (key_id),
    label       TEXT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX agent_tokens_agent ON agent_tokens (agent_name, created_at);
