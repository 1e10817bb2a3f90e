-- 0004: the stale-if-error response cache, one row per (primary key, variant).

CREATE TABLE response_cache (
    cache_key    text        NOT NULL,    -- CacheEntry.Primary
    variant      text        NOT NULL,
    upstream     text        NOT NULL,
    vary         jsonb       NOT NULL DEFAULT '[]',
    status       integer     NOT NULL,
    headers      jsonb       NOT NULL DEFAULT '{}',
    body         bytea       NOT NULL,
    size         bigint      NOT NULL,    -- length(body), summed for eviction
    stored_at    timestamptz NOT NULL,
    last_used_at timestamptz NOT NULL,
    PRIMARY KEY (cache_key, variant)
);

-- Eviction: an upstream's entries, least recently used first.
CREATE INDEX response_cache_lru ON response_cache (upstream, last_used_at, size);
