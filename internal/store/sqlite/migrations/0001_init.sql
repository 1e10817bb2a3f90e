-- 0001: webhook inbox events and their delivery attempts.
--
-- Times are INTEGER microseconds since the Unix epoch, UTC.
-- Later migrations add, with the same lease columns (lease_owner, lease_until,
-- next_at, attempts) where work is leased:
--   jobs               async outbound jobs
--   idempotency_keys   (upstream, key) PRIMARY KEY, fingerprint, lock_until, response
--   response_cache     stale-if-error responses

CREATE TABLE events (
    seq          INTEGER PRIMARY KEY,          -- arrival order (rowid)
    id           TEXT    NOT NULL UNIQUE,      -- fender id (UUIDv7)
    source       TEXT    NOT NULL,
    event_id     TEXT    NOT NULL,
    resource_key TEXT    NOT NULL DEFAULT '',
    content_type TEXT    NOT NULL DEFAULT '',
    headers      TEXT    NOT NULL DEFAULT '{}', -- JSON object
    body         BLOB    NOT NULL,
    status       TEXT    NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'delivered', 'dead', 'superseded')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    delivered_at INTEGER,
    last_error   TEXT    NOT NULL DEFAULT '',
    recovered    INTEGER NOT NULL DEFAULT 0,
    lease_owner  TEXT,
    lease_until  INTEGER,
    UNIQUE (source, event_id)
);

-- Claim: due pending events, oldest next_at first.
CREATE INDEX events_due ON events (next_at, seq) WHERE status = 'pending';
-- Release: events held by one owner.
CREATE INDEX events_lease_owner ON events (lease_owner) WHERE lease_owner IS NOT NULL;
-- Per-key ordering: events of one resource in arrival order.
CREATE INDEX events_resource_key ON events (resource_key, seq) WHERE resource_key <> '';
-- Purge and status filters.
CREATE INDEX events_status_received ON events (status, received_at);
-- QueueDepth and source filters.
CREATE INDEX events_source_status ON events (source, status);

CREATE TABLE attempts (
    event_id         TEXT    NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    n                INTEGER NOT NULL,
    started_at       INTEGER NOT NULL,
    duration_us      INTEGER NOT NULL,
    status           INTEGER NOT NULL DEFAULT 0,
    category         TEXT    NOT NULL DEFAULT '',
    error            TEXT    NOT NULL DEFAULT '',
    response_excerpt TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (event_id, n)
) WITHOUT ROWID;
