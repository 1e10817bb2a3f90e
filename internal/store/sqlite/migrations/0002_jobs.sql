-- 0002: async outbound jobs (proxied requests and result callbacks) and
-- their attempts. Times are INTEGER microseconds since the Unix epoch, UTC.

CREATE TABLE jobs (
    seq             INTEGER PRIMARY KEY,          -- arrival order (rowid)
    id              TEXT    NOT NULL UNIQUE,      -- fender id (UUIDv7)
    kind            TEXT    NOT NULL CHECK (kind IN ('request', 'callback')),
    upstream        TEXT    NOT NULL DEFAULT '',
    method          TEXT    NOT NULL,
    path            TEXT    NOT NULL,             -- path?query; the URL for callbacks
    headers         TEXT    NOT NULL DEFAULT '{}', -- JSON object of string arrays
    body            BLOB    NOT NULL,
    callback_url    TEXT    NOT NULL DEFAULT '',
    parent_id       TEXT    NOT NULL DEFAULT '',
    idempotency_key TEXT    NOT NULL DEFAULT '',
    status          TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'succeeded', 'failed', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_at         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER,
    last_error      TEXT    NOT NULL DEFAULT '',
    resp_status     INTEGER,                      -- NULL: no response stored
    resp_headers    TEXT,
    resp_body       BLOB,
    lease_owner     TEXT,
    lease_until     INTEGER
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
    job_id           TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    n                INTEGER NOT NULL,
    started_at       INTEGER NOT NULL,
    duration_us      INTEGER NOT NULL,
    status           INTEGER NOT NULL DEFAULT 0,
    category         TEXT    NOT NULL DEFAULT '',
    error            TEXT    NOT NULL DEFAULT '',
    response_excerpt TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (job_id, n)
) WITHOUT ROWID;
