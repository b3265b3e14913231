-- Waivers: a named, owned, time-limited acceptance of one rule's findings on
-- the addresses a glob matches, for one stack. Created by reviewers and
-- admins; revoking one keeps the row (revoked_at, revoked_by) for the record.

INSERT INTO counters (name, value) VALUES ('waiver', 0);

CREATE TABLE waivers (
    id          BIGINT PRIMARY KEY,
    stack       TEXT NOT NULL REFERENCES stacks (name),
    rule        TEXT NOT NULL,
    -- Address glob (`*` any run of characters, `?` one).
    address     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    owner       TEXT NOT NULL,
    -- Canonical text: YYYY-MM-DD (the last day, UTC, on which it counts)
    -- or an RFC 3339 instant.
    expires     TEXT NOT NULL,
    -- The first instant (Unix ms) at which it no longer counts, derived from
    -- `expires` when the waiver is created (never changed).
    expires_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT,
    revoked_by  TEXT
);
CREATE INDEX waivers_stack ON waivers (stack, id);
