-- 0003: idempotency keys, one row per (upstream, key).

CREATE TABLE idempotency_keys (
    upstream     TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    fingerprint  TEXT    NOT NULL,
    state        TEXT    NOT NULL CHECK (state IN ('in_flight', 'done')),
    locked_until INTEGER,                 -- in flight: the lock's expiry
    resp_status  INTEGER,                 -- done: NULL when the response was not kept
    resp_headers TEXT,
    resp_body    BLOB,
    job_id       TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (upstream, key)
) WITHOUT ROWID;

-- Purge.
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);
