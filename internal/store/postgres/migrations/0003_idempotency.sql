-- 0003: idempotency keys, one row per (upstream, key).

CREATE TABLE idempotency_keys (
    upstream     text        NOT NULL,
    key          text        NOT NULL,
    fingerprint  text        NOT NULL,
    state        text        NOT NULL CHECK (state IN ('in_flight', 'done')),
    locked_until timestamptz,             -- in flight: the lock's expiry
    resp_status  integer,                 -- done: NULL when the response was not kept
    resp_headers jsonb,
    resp_body    bytea,
    job_id       text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (upstream, key)
);

-- Purge.
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);
