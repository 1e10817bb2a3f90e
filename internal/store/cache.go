package store

import (
	"context"
	"time"
)

// CacheEntry is one stored response of the stale-if-error cache (PRODUCT.md
// §6): one variant of one primary key.
type CacheEntry struct {
	// Primary is the cache key: upstream, method and path?query, as the
	// caller computes it. Required.
	Primary string
	// Variant is the request's values of the response's Vary headers, as
	// the caller computes it; "" when the response does not vary.
	Variant  string
	Upstream string   // required; eviction is per upstream
	Vary     []string // header names from the response's Vary
	Response StoredResponse
	StoredAt time.Time // when it was fetched; zero means time.Now()
}

// Validate reports an ErrInvalid error when e cannot be stored.
func (e CacheEntry) Validate() error {
	if e.Primary == "" {
		return &InvalidError{Field: "primary", Reason: "empty"}
	}
	if e.Upstream == "" {
		return &InvalidError{Field: "upstream", Reason: "empty"}
	}
	return nil
}

// CacheStore keeps the responses stale-if-error serves. Implementations
// are safe for concurrent use.
type CacheStore interface {
	// CachePut stores e, replacing the entry with the same (Primary,
	// Variant); it is last used at StoredAt. Then it evicts the upstream's
	// least recently used entries until their bodies total at most
	// maxBytesPerUpstream (0 or less: no limit). An entry whose body alone
	// exceeds the limit is not stored (and replaces nothing).
	CachePut(ctx context.Context, e CacheEntry, maxBytesPerUpstream int64) error

	// CacheGet returns every variant stored under primary (none: an empty
	// slice and no error) and marks them used at now. The mark may be
	// applied lazily, after CacheGet returns, and may be dropped under
	// write pressure.
	CacheGet(ctx context.Context, primary string, now time.Time) ([]CacheEntry, error)

	// CacheDelete removes every variant stored under primary.
	CacheDelete(ctx context.Context, primary string) error
}
