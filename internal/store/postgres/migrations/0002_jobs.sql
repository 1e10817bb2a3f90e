-- 0002: async outbound jobs (proxied requests and result callbacks) and
-- their attempts.

CREATE TABLE jobs (
    id              text COLLATE "C" PRIMARY KEY,  -- fender id (UUIDv7), sorts by time
    seq             bigint GENERATED ALWAYS AS IDENTITY UNIQUE, -- arrival order
    kind            text        NOT NULL CHECK (kind IN ('request', 'callback')),
    upstream        text        NOT NULL DEFAULT '',
    method          text        NOT NULL,
    path            text        NOT NULL,          -- path?query; the URL for callbacks
    headers         jsonb       NOT NULL DEFAULT '{}',
    body            bytea       NOT NULL DEFAULT '\x',
    callback_url    text        NOT NULL DEFAULT '',
    parent_id       text        NOT NULL DEFAULT '',
    idempotency_key text        NOT NULL DEFAULT '',
    status          text        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'succeeded', 'failed', 'dead')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_at         timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    finished_at     timestamptz,
    last_error      text        NOT NULL DEFAULT '',
    resp_status     integer,                       -- NULL: no response stored
    resp_headers    jsonb,
    resp_body       bytea,
    lease_owner     text,
    lease_until     timestamptz
);

-- ClaimJobs: due pending jobs, oldest next_at first.
CREATE INDEX jobs_due ON jobs (next_at, seq) WHERE status = 'pending';
-- ReleaseJobs.
CREATE INDEX jobs_lease_owner ON jobs (lease_owner) WHERE lease_owner IS NOT NULL;
-- Purge.
CREATE INDEX jobs_status_finished ON jobs (status, finished_at);
-- JobQueueDepth and kind filters.
CREATE INDEX jobs_kind_status ON jobs (kind, status);
-- Upstream filters.
CREATE INDEX jobs_upstream ON jobs (upstream, status);

CREATE TABLE job_attempts (
    job_id           text COLLATE "C" NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    n                integer     NOT NULL,
    started_at       timestamptz NOT NULL,
    duration_us      bigint      NOT NULL,
    status           integer     NOT NULL DEFAULT 0,
    category         text        NOT NULL DEFAULT '',
    error            text        NOT NULL DEFAULT '',
    response_excerpt text        NOT NULL DEFAULT '',
    PRIMARY KEY (job_id, n)
);
