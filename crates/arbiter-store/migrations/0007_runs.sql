-- Runs (issue 12): applying approved change requests with workers.

INSERT INTO counters (name, value) VALUES ('run', 0);

-- What a change request's runs apply: the configuration source, the
-- non-secret variables and whether its submitter may have it applied
-- without a person (JSON, arbiter_store::runs::RunConfig); NULL: nothing
-- to run. `revision`: the change request's current revision (a plan that
-- changed between judging and applying makes the next one).
ALTER TABLE change_requests ADD COLUMN run_config TEXT;
ALTER TABLE change_requests ADD COLUMN revision BIGINT NOT NULL DEFAULT 1;

-- Earlier revisions of a change request: what was judged then (the plan's
-- digest, the decision and verdict), kept when a revision replaces them.
CREATE TABLE change_request_revisions (
    change_request BIGINT NOT NULL REFERENCES change_requests (id),
    revision       BIGINT NOT NULL,
    plan_digest    TEXT NOT NULL,
    status         TEXT NOT NULL,
    decision       TEXT,
    verdict        TEXT,
    replaced_by_run BIGINT,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (change_request, revision)
);

CREATE TABLE runs (
    id               BIGINT PRIMARY KEY,
    change_request   BIGINT NOT NULL REFERENCES change_requests (id),
    revision         BIGINT NOT NULL,
    stack            TEXT NOT NULL,
    -- RunKind, JSON.
    kind             TEXT NOT NULL,
    phase            TEXT NOT NULL,
    -- RunSource, JSON.
    source           TEXT NOT NULL,
    -- Non-secret variables, JSON object.
    variables        TEXT NOT NULL,
    -- Confirmation, JSON; `awaiting` = 1 while a person must confirm.
    confirmation     TEXT NOT NULL,
    awaiting         BIGINT NOT NULL,
    pool             TEXT NOT NULL,
    worker           TEXT,
    -- SHA-256 of the claim's lease.
    lease_hash       TEXT,
    heartbeat_at     BIGINT,
    -- ToolInfo, JSON.
    tool             TEXT,
    judged_digest    TEXT,
    planned_digest   TEXT,
    state_version    BIGINT,
    error            TEXT,
    cancel_requested BIGINT NOT NULL,
    log_size         BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX runs_queue ON runs (pool, phase, id);
CREATE INDEX runs_change_request ON runs (change_request, id);
CREATE INDEX runs_stack ON runs (stack, id);
-- One applying run per stack.
CREATE UNIQUE INDEX runs_one_applying ON runs (stack) WHERE phase = 'applying';

-- When each run entered and left each phase.
CREATE TABLE run_phases (
    run        BIGINT NOT NULL REFERENCES runs (id),
    seq        BIGINT NOT NULL,
    phase      TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at   BIGINT,
    PRIMARY KEY (run, seq)
);

-- A run's log, in chunks at byte offsets (appends are idempotent by offset).
CREATE TABLE run_logs (
    run        BIGINT NOT NULL REFERENCES runs (id),
    start_at   BIGINT NOT NULL,
    end_at     BIGINT NOT NULL,
    text       TEXT NOT NULL,
    PRIMARY KEY (run, start_at)
);

-- Configuration bundles (tar.gz), content-addressed: stored once.
CREATE TABLE bundles (
    sha256     TEXT PRIMARY KEY,
    size       BIGINT NOT NULL,
    files      BIGINT NOT NULL,
    content    BYTEA NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE worker_pools (
    name       TEXT PRIMARY KEY,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Worker-pool tokens, by the SHA-256 of their secret.
CREATE TABLE worker_tokens (
    token_hash TEXT PRIMARY KEY,
    pool       TEXT NOT NULL REFERENCES worker_pools (name),
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

-- Basic-auth credentials of Terraform's HTTP backend, scoped to one stack:
-- a run's (valid while the run holds its lease) or a person's own.
CREATE TABLE backend_credentials (
    username      TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    stack         TEXT NOT NULL REFERENCES stacks (name),
    run           BIGINT,
    created_by    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT
);

-- The backend's state lock per stack: Terraform's lock info as sent.
CREATE TABLE state_locks (
    stack      TEXT PRIMARY KEY REFERENCES stacks (name),
    lock_id    TEXT NOT NULL,
    info       TEXT NOT NULL,
    held_by    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- A state version written by a run: the run and the configuration it
-- applied (RunSource JSON), so that a rollback run can plan it again.
ALTER TABLE state_versions ADD COLUMN run_id BIGINT;
ALTER TABLE state_versions ADD COLUMN run_source TEXT;
