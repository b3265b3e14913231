-- Arbiter's schema. One file for SQLite and PostgreSQL: only the types
-- BIGINT, DOUBLE PRECISION, TEXT and BYTEA are used (SQLite gives them
-- INTEGER, REAL, TEXT and BLOB affinity), times are Unix milliseconds,
-- documents are JSON text, booleans are 0/1.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Named counters for gap-free numeric identifiers (change requests).
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('change_request', 0);

CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL,
    password_hash TEXT,
    created_at    BIGINT NOT NULL,
    disabled_at   BIGINT
);

CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    user_name   TEXT NOT NULL REFERENCES users (name),
    label       TEXT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT,
    revoked_at  BIGINT
);

CREATE TABLE agents (
    name        TEXT PRIMARY KEY,
    description TEXT,
    scope       TEXT NOT NULL,
    limits      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE agent_keys (
    key_id      TEXT PRIMARY KEY,
    agent_name  TEXT NOT NULL REFERENCES agents (name),
    public_key  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX agent_keys_agent ON agent_keys (agent_name);

-- Nonces of signed requests, kept past the clock-skew window.
CREATE TABLE nonces (
    key_id  TEXT NOT NULL,
    nonce   TEXT NOT NULL,
    seen_at BIGINT NOT NULL,
    PRIMARY KEY (key_id, nonce)
);
CREATE INDEX nonces_seen ON nonces (seen_at);

CREATE TABLE stacks (
    name        TEXT PRIMARY KEY,
    spec        TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    expires_at  BIGINT
);

CREATE TABLE policy_sets (
    name        TEXT NOT NULL,
    version     BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    files       TEXT NOT NULL,
    digest      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);

CREATE TABLE change_requests (
    id                BIGINT PRIMARY KEY,
    stack             TEXT NOT NULL,
    submitter         TEXT NOT NULL,
    key_id            TEXT,
    idempotency_key   TEXT,
    request_digest    TEXT NOT NULL,
    intent            TEXT,
    source            TEXT,
    plan_digest       TEXT NOT NULL,
    plan              BYTEA NOT NULL,
    status            TEXT NOT NULL,
    decision          TEXT,
    confidence        DOUBLE PRECISION,
    priority          DOUBLE PRECISION NOT NULL,
    cost_delta_usd    DOUBLE PRECISION,
    resources_changed BIGINT NOT NULL,
    reason            TEXT,
    auto_apply        BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    expires_at        BIGINT
);
CREATE UNIQUE INDEX change_requests_idempotency ON change_requests (submitter, idempotency_key);
CREATE INDEX change_requests_queue ON change_requests (status, priority);
CREATE INDEX change_requests_submitter ON change_requests (submitter, created_at);
CREATE INDEX change_requests_stack ON change_requests (stack, created_at);

CREATE TABLE evaluations (
    change_request  BIGINT PRIMARY KEY REFERENCES change_requests (id),
    verdict         TEXT NOT NULL,
    policy_versions TEXT NOT NULL,
    engine_version  TEXT NOT NULL,
    duration_ms     DOUBLE PRECISION NOT NULL,
    created_at      BIGINT NOT NULL
);

CREATE TABLE reviews (
    change_request BIGINT NOT NULL REFERENCES change_requests (id),
    reviewer       TEXT NOT NULL,
    decision       TEXT NOT NULL,
    comment        TEXT,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (change_request, reviewer)
);

-- What the velocity governor refused.
CREATE TABLE governor_events (
    agent_name TEXT NOT NULL,
    kind       TEXT NOT NULL,
    detail     TEXT NOT NULL,
    at         BIGINT NOT NULL
);
CREATE INDEX governor_events_agent ON governor_events (agent_name, at);

-- The audit log: append-only, hash-chained (see docs/audit-log.md).
CREATE TABLE audit_entries (
    seq            BIGINT PRIMARY KEY,
    subject        TEXT NOT NULL,
    action         TEXT NOT NULL,
    entry          TEXT NOT NULL,
    payload        TEXT NOT NULL,
    hash           TEXT NOT NULL
);
CREATE INDEX audit_entries_subject ON audit_entries (subject, seq);

CREATE TABLE audit_checkpoints (
    seq        BIGINT PRIMARY KEY,
    checkpoint TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- The chain head; its one row is locked by every writer transaction, which
-- serialises appends across replicas.
CREATE TABLE audit_head (
    id       BIGINT PRIMARY KEY,
    seq      BIGINT NOT NULL,
    hash     TEXT NOT NULL,
    frontier TEXT NOT NULL,
    checkpoint_seq BIGINT NOT NULL,
    checkpoint_at  BIGINT NOT NULL
);
INSERT INTO audit_head (id, seq, hash, frontier, checkpoint_seq, checkpoint_at)
VALUES (1, 0, '', '[]', 0, 0);

-- Background work claimed by one replica at a time.
CREATE TABLE jobs (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    run_at        BIGINT NOT NULL,
    attempts      BIGINT NOT NULL,
    claimed_by    TEXT,
    claimed_until BIGINT,
    done_at       BIGINT,
    last_error    TEXT
);
CREATE INDEX jobs_due ON jobs (done_at, run_at);
