-- Webhooks: subscriptions, one delivery row per (event, subscription), and
-- every HTTP attempt of a delivery. Events are audit entries: deliveries are
-- inserted in the transaction that appends the entry.

INSERT INTO counters (name, value) VALUES ('webhook', 0);
-- Bumped by every subscription change, so that each writer (in every
-- replica) knows when to reload the subscriptions it keeps in memory.
INSERT INTO counters (name, value) VALUES ('webhooks_version', 0);

CREATE TABLE webhooks (
    id          BIGINT PRIMARY KEY,
    url         TEXT NOT NULL,
    -- JSON array of event patterns.
    events      TEXT NOT NULL,
    format      TEXT NOT NULL,
    -- Kept readable: it signs every delivery. Never returned after creation,
    -- never logged; emptied when the subscription is deleted.
    secret      TEXT NOT NULL,
    description TEXT,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    deleted_at  BIGINT
);

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    webhook         BIGINT NOT NULL REFERENCES webhooks (id),
    event_seq       BIGINT NOT NULL,
    event_type      TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT,
    claimed_by      TEXT,
    claimed_until   BIGINT,
    last_http_status BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    delivered_at    BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook, event_seq);

CREATE TABLE webhook_attempts (
    delivery    TEXT NOT NULL REFERENCES webhook_deliveries (id),
    attempt     BIGINT NOT NULL,
    started_at  BIGINT NOT NULL,
    duration_ms DOUBLE PRECISION NOT NULL,
    http_status BIGINT,
    error       TEXT,
    -- The replica that sent it.
    sent_by     TEXT NOT NULL,
    PRIMARY KEY (delivery, attempt)
);
