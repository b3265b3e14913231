-- State history: every Terraform state pushed for a stack (or recorded
-- after an apply), content-addressed and compressed.

-- One row per distinct content: the SHA-256 of the state's bytes is the key,
-- so the same state pushed twice (or to two stacks) is stored once.
CREATE TABLE state_blobs (
    digest     TEXT PRIMARY KEY,
    size       BIGINT NOT NULL,
    stored     BIGINT NOT NULL,
    compressed BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

-- Versions 1, 2, … per stack, each naming its content.
CREATE TABLE state_versions (
    stack             TEXT NOT NULL REFERENCES stacks (name),
    version           BIGINT NOT NULL,
    digest            TEXT NOT NULL REFERENCES state_blobs (digest),
    form              TEXT NOT NULL,
    serial            BIGINT,
    lineage           TEXT,
    terraform_version TEXT,
    resources         BIGINT NOT NULL,
    commit_sha        TEXT,
    pushed_by         TEXT NOT NULL,
    origin            TEXT NOT NULL,
    forced            BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    PRIMARY KEY (stack, version)
);
CREATE INDEX state_versions_digest ON state_versions (digest);

-- Rollbacks: the change request that returns a stack to an earlier version,
-- the versions, the target's commit and the instances that differ (JSON).
CREATE TABLE state_rollbacks (
    change_request BIGINT PRIMARY KEY REFERENCES change_requests (id),
    stack          TEXT NOT NULL,
    from_version   BIGINT NOT NULL,
    to_version     BIGINT NOT NULL,
    commit_sha     TEXT,
    resources      TEXT NOT NULL,
    requested_by   TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX state_rollbacks_stack ON state_rollbacks (stack, created_at);
