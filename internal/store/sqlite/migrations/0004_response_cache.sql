-- 0004: the stale-if-error response cache, one row per (primary key, variant).

CREATE TABLE response_cache (
    cache_key    TEXT    NOT NULL,        -- CacheEntry.Primary
    variant      TEXT    NOT NULL,
    upstream     TEXT    NOT NULL,
    vary         TEXT    NOT NULL DEFAULT '[]', -- JSON array
    status       INTEGER NOT NULL,
    headers      TEXT    NOT NULL DEFAULT '{}', -- JSON object of string arrays
    body         BLOB    NOT NULL,
    size         INTEGER NOT NULL,        -- length(body), summed for eviction
    stored_at    INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    PRIMARY KEY (cache_key, variant)
);

-- Eviction: an upstream's entries, least recently used first.
CREATE INDEX response_cache_lru ON response_cache (upstream, last_used_at, size);
