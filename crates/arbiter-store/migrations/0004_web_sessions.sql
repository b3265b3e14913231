-- Web UI sessions. The cookie carries a random secret; only its SHA-256 is
-- stored (like API tokens), so a copy of the database signs nobody in.
-- A session opened with an API token ends when that token is revoked or
-- expires (token_id); one opened with a password has no token.
CREATE TABLE web_sessions (
    id           TEXT PRIMARY KEY,
    secret_hash  TEXT NOT NULL UNIQUE,
    user_name    TEXT NOT NULL REFERENCES users (name),
    token_id     TEXT REFERENCES api_tokens (id),
    method       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
CREATE INDEX web_sessions_user ON web_sessions (user_name);
