package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fender-dev/fender/internal/store"
)

// CachePut stores e and evicts the upstream's least recently used entries,
// in one transaction holding an advisory lock for the upstream; see
// store.CacheStore.
func (s *Store) CachePut(ctx context.Context, e store.CacheEntry, maxBytesPerUpstream int64) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if maxBytesPerUpstream > 0 && int64(len(e.Response.Body)) > maxBytesPerUpstream {
		return nil
	}
	if e.StoredAt.IsZero() {
		e.StoredAt = time.Now()
	}
	headers, err := encodeHeaderMap(e.Response.Header)
	if err != nil {
		return err
	}
	vary, err := json.Marshal(nonNil(e.Vary))
	if err != nil {
		return fmt.Errorf("postgres: vary: %w", err)
	}
	body := e.Response.Body
	if body == nil {
		body = []byte{}
	}
	err = s.with(ctx, func(c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			// One put per upstream at a time: evictions never cross (no
			// deadlock between two DELETEs, no double eviction).
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('fender.cache.' || $1::text))", e.Upstream); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO response_cache
					(cache_key, variant, upstream, vary, status, headers, body, size, stored_at, last_used_at)
					VALUES ($1, $2, $3, $4::jsonb, $5, $6::jsonb, $7, $8, $9, $9)
				ON CONFLICT (cache_key, variant) DO UPDATE SET
					upstream = EXCLUDED.upstream, vary = EXCLUDED.vary, status = EXCLUDED.status,
					headers = EXCLUDED.headers, body = EXCLUDED.body, size = EXCLUDED.size,
					stored_at = EXCLUDED.stored_at, last_used_at = EXCLUDED.last_used_at`,
				e.Primary, e.Variant, e.Upstream, string(vary), e.Response.Status, headers, body,
				len(body), e.StoredAt); err != nil {
				return err
			}
			if maxBytesPerUpstream <= 0 {
				return nil
			}
			// Keep the most recently used entries while their running total fits.
			_, err := tx.Exec(ctx, `DELETE FROM response_cache WHERE (cache_key, variant) IN (
					SELECT cache_key, variant FROM (
						SELECT cache_key, variant, SUM(size) OVER (
							ORDER BY last_used_at DESC, stored_at DESC, cache_key, variant
							ROWS UNBOUNDED PRECEDING) AS running
						FROM response_cache WHERE upstream = $1) AS r
					WHERE running > $2)`, e.Upstream, maxBytesPerUpstream)
			return err
		})
	})
	if err != nil {
		return s.fail("cache put", err)
	}
	return nil
}

// CacheGet returns every variant stored under primary and marks them used,
// in one UPDATE … RETURNING; see store.CacheStore.
func (s *Store) CacheGet(ctx context.Context, primary string, now time.Time) ([]store.CacheEntry, error) {
	out := []store.CacheEntry{}
	err := s.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `UPDATE response_cache SET last_used_at = GREATEST(last_used_at, $2)
			WHERE cache_key = $1
			RETURNING cache_key, variant, upstream, vary::text, status, headers::text, body, stored_at`, primary, now)
		if err != nil {
			return err
		}
		var e store.CacheEntry
		var vary, headers string
		_, err = pgx.ForEachRow(rows, []any{&e.Primary, &e.Variant, &e.Upstream, &vary, &e.Response.Status, &headers,
			&e.Response.Body, &e.StoredAt}, func() error {
			x := e
			x.Vary = nil
			if err := json.Unmarshal([]byte(vary), &x.Vary); err != nil {
				return fmt.Errorf("vary: %w", err)
			}
			if len(x.Vary) == 0 {
				x.Vary = nil
			}
			h, err := decodeHeaderMap(headers)
			if err != nil {
				return fmt.Errorf("headers: %w", err)
			}
			x.Response.Header = h
			x.StoredAt = x.StoredAt.UTC()
			out = append(out, x)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, s.fail("cache get", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Variant < out[j].Variant })
	return out, nil
}

// CacheDelete removes every variant of primary; see store.CacheStore.
func (s *Store) CacheDelete(ctx context.Context, primary string) error {
	err := s.with(ctx, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, "DELETE FROM response_cache WHERE cache_key = $1", primary)
		return err
	})
	if err != nil {
		return s.fail("cache delete", err)
	}
	return nil
}
