package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fender-dev/fender/internal/store"
)

// CachePut stores e and evicts the upstream's least recently used entries;
// see store.CacheStore.
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
		return fmt.Errorf("sqlite: vary: %w", err)
	}
	err = s.write(ctx, func(tx *wtx) error {
		if _, err := tx.tx.Exec(`INSERT INTO response_cache
				(cache_key, variant, upstream, vary, status, headers, body, size, stored_at, last_used_at)
				VALUES (?1, ?2, ?3, ?4, ?5, ?6, COALESCE(?7, X''), ?8, ?9, ?9)
			ON CONFLICT (cache_key, variant) DO UPDATE SET
				upstream = excluded.upstream, vary = excluded.vary, status = excluded.status,
				headers = excluded.headers, body = excluded.body, size = excluded.size,
				stored_at = excluded.stored_at, last_used_at = excluded.last_used_at`,
			e.Primary, e.Variant, e.Upstream, string(vary), e.Response.Status, headers, e.Response.Body,
			len(e.Response.Body), micros(e.StoredAt)); err != nil {
			return err
		}
		if maxBytesPerUpstream <= 0 {
			return nil
		}
		var total int64
		if err := tx.tx.QueryRow("SELECT COALESCE(SUM(size), 0) FROM response_cache WHERE upstream = ?", e.Upstream).Scan(&total); err != nil || total <= maxBytesPerUpstream {
			return err
		}
		// Keep the most recently used entries while their running total fits.
		_, err := tx.tx.Exec(`DELETE FROM response_cache WHERE rowid IN (
				SELECT rid FROM (
					SELECT rowid AS rid, SUM(size) OVER (
						ORDER BY last_used_at DESC, stored_at DESC, cache_key, variant
						ROWS UNBOUNDED PRECEDING) AS running
					FROM response_cache WHERE upstream = ?1)
				WHERE running > ?2)`, e.Upstream, maxBytesPerUpstream)
		return err
	})
	if err != nil {
		return s.fail("cache put", err)
	}
	return nil
}

// CacheGet returns every variant stored under primary; see
// store.CacheStore. It reads from the read pool and queues the touch
// behind the writer without waiting for it (dropped when the queue is
// full).
func (s *Store) CacheGet(ctx context.Context, primary string, now time.Time) ([]store.CacheEntry, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT cache_key, variant, upstream, vary, status, headers, body, stored_at
		FROM response_cache WHERE cache_key = ? ORDER BY variant`, primary)
	if err != nil {
		return nil, s.fail("cache get", err)
	}
	defer rows.Close()
	out := []store.CacheEntry{}
	for rows.Next() {
		var e store.CacheEntry
		var vary, headers string
		var stored int64
		if err := rows.Scan(&e.Primary, &e.Variant, &e.Upstream, &vary, &e.Response.Status, &headers, &e.Response.Body, &stored); err != nil {
			return nil, s.fail("cache get", err)
		}
		if err := json.Unmarshal([]byte(vary), &e.Vary); err != nil {
			return nil, s.fail("cache get", fmt.Errorf("vary: %w", err))
		}
		if len(e.Vary) == 0 {
			e.Vary = nil
		}
		if e.Response.Header, err = decodeHeaderMap(headers); err != nil {
			return nil, s.fail("cache get", fmt.Errorf("headers: %w", err))
		}
		e.StoredAt = fromMicros(stored)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("cache get", err)
	}
	if len(out) > 0 {
		used := micros(now)
		s.writeLater(func(tx *wtx) error {
			_, err := tx.tx.Exec("UPDATE response_cache SET last_used_at = MAX(last_used_at, ?) WHERE cache_key = ?", used, primary)
			return err
		})
	}
	return out, nil
}

// CacheDelete removes every variant of primary; see store.CacheStore.
func (s *Store) CacheDelete(ctx context.Context, primary string) error {
	err := s.write(ctx, func(tx *wtx) error {
		_, err := tx.tx.Exec("DELETE FROM response_cache WHERE cache_key = ?", primary)
		return err
	})
	if err != nil {
		return s.fail("cache delete", err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
