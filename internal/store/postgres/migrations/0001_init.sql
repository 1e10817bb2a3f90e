-- 0001: webhook inbox events and their delivery attempts.
--
-- Later migrations add, with the same lease columns (lease_owner, lease_until,
-- next_at, attempts) where work is leased:
--   jobs               async outbound jobs
--   idempotency_keys   (upstream, key) PRIMARY KEY, fingerprint, lock_until, response
--   response_cache     stale-if-error responses

CREATE TABLE events (
    id           text COLLATE "C" PRIMARY KEY,   -- fender id (UUIDv7), sorts by time
    seq          bigint GENERATED ALWAYS AS IDENTITY UNIQUE, -- arrival order
    source       text        NOT NULL,
    event_id     text        NOT NULL,
    resource_key text        NOT NULL DEFAULT '',
    content_type text        NOT NULL DEFAULT '',
    headers      jsonb       NOT NULL DEFAULT '{}',
    body         bytea       NOT NULL DEFAULT '\x',
    status       text        NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'delivered', 'dead', 'superseded')),
    attempts     integer     NOT NULL DEFAULT 0,
    next_at      timestamptz NOT NULL,
    received_at  timestamptz NOT NULL,
    delivered_at timestamptz,
    last_error   text        NOT NULL DEFAULT '',
    recovered    boolean     NOT NULL DEFAULT false,
    lease_owner  text,
    lease_until  timestamptz,
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
    event_id         text COLLATE "C" NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    n                integer     NOT NULL,
    started_at       timestamptz NOT NULL,
    duration_us      bigint      NOT NULL,
    status           integer     NOT NULL DEFAULT 0,
    category         text        NOT NULL DEFAULT '',
    error            text        NOT NULL DEFAULT '',
    response_excerpt text        NOT NULL DEFAULT '',
    PRIMARY KEY (event_id, n)
);
