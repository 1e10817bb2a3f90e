package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fender-dev/fender/internal/store"
)

const idemCols = `upstream, key, fingerprint, state, locked_until, resp_status, resp_headers::text, resp_body,
	job_id, created_at, expires_at`

// BeginIdempotent claims (upstream, key); see store.IdempotencyStore.
//
// The common case, a new key, is one INSERT … ON CONFLICT DO NOTHING. When
// the key exists, a transaction locks the row (SELECT … FOR UPDATE) and
// decides; a row deleted in between (ReleaseIdempotent) sends it round
// again. Concurrent inserts of one key wait on each other in the unique
// index, so exactly one wins across instances.
func (s *Store) BeginIdempotent(ctx context.Context, upstream, key, fingerprint string, lock time.Duration, now time.Time) (store.IdemRecord, bool, error) {
	if err := store.ValidateIdempotent(upstream, key, lock); err != nil {
		return store.IdemRecord{}, false, err
	}
	now = now.UTC()
	fresh := store.IdemRecord{Upstream: upstream, Key: key, Fingerprint: fingerprint, State: store.IdemInFlight,
		LockedUntil: now.Add(lock), CreatedAt: now, ExpiresAt: now.Add(lock)}
	var rec store.IdemRecord
	var acquired bool
	errGone := errors.New("record deleted meanwhile")
	err := s.with(ctx, func(c *pgx.Conn) error {
		for range 10 {
			tag, err := c.Exec(ctx, `INSERT INTO idempotency_keys
					(upstream, key, fingerprint, state, locked_until, created_at, expires_at)
					VALUES ($1, $2, $3, 'in_flight', $4, $5, $4)
				ON CONFLICT (upstream, key) DO NOTHING`, upstream, key, fingerprint, fresh.LockedUntil, now)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 1 {
				rec, acquired = fresh, true
				return nil
			}
			err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
				rows, err := tx.Query(ctx, "SELECT "+idemCols+" FROM idempotency_keys WHERE upstream = $1 AND key = $2 FOR UPDATE", upstream, key)
				if err != nil {
					return err
				}
				olds, err := pgx.CollectRows(rows, scanIdem)
				if err != nil {
					return err
				}
				if len(olds) == 0 {
					return errGone
				}
				old := olds[0]
				switch {
				case old.State == store.IdemDone && !old.ExpiresAt.After(now):
					rec = fresh
				case old.State == store.IdemInFlight && !old.LockedUntil.After(now):
					rec = old // taken over
				default:
					rec, acquired = old, false
					return nil
				}
				acquired = true
				_, err = tx.Exec(ctx, `UPDATE idempotency_keys SET
						fingerprint = $3, state = 'in_flight', locked_until = $4,
						resp_status = NULL, resp_headers = NULL, resp_body = NULL, job_id = '',
						created_at = $5, expires_at = $4
					WHERE upstream = $1 AND key = $2`, upstream, key, fingerprint, fresh.LockedUntil, now)
				return err
			})
			if !errors.Is(err, errGone) {
				return err
			}
		}
		return errors.New("key keeps vanishing")
	})
	if err != nil {
		return store.IdemRecord{}, false, s.fail("begin idempotent", err)
	}
	return rec, acquired, nil
}

// CompleteIdempotent marks the record done; see store.IdempotencyStore.
func (s *Store) CompleteIdempotent(ctx context.Context, upstream, key string, resp *store.StoredResponse, jobID string, expires time.Time) error {
	if err := store.ValidateIdemKey(upstream, key); err != nil {
		return err
	}
	rs, err := encodeResponse(resp)
	if err != nil {
		return err
	}
	err = s.with(ctx, func(c *pgx.Conn) error {
		tag, err := c.Exec(ctx, `UPDATE idempotency_keys SET state = 'done', locked_until = NULL,
				resp_status = $1, resp_headers = $2::jsonb, resp_body = $3, job_id = $4, expires_at = $5
			WHERE upstream = $6 AND key = $7`,
			rs.status, rs.headers, rs.body, jobID, expires, upstream, key)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return s.fail("complete idempotent", err)
	}
	return nil
}

// ReleaseIdempotent deletes an in-flight record; see store.IdempotencyStore.
func (s *Store) ReleaseIdempotent(ctx context.Context, upstream, key string) error {
	err := s.with(ctx, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, "DELETE FROM idempotency_keys WHERE upstream = $1 AND key = $2 AND state = 'in_flight'", upstream, key)
		return err
	})
	if err != nil {
		return s.fail("release idempotent", err)
	}
	return nil
}

func scanIdem(r pgx.CollectableRow) (store.IdemRecord, error) {
	var rec store.IdemRecord
	var locked *time.Time
	var rs respCols
	if err := r.Scan(&rec.Upstream, &rec.Key, &rec.Fingerprint, &rec.State, &locked, &rs.status, &rs.headers, &rs.body,
		&rec.JobID, &rec.CreatedAt, &rec.ExpiresAt); err != nil {
		return store.IdemRecord{}, err
	}
	if locked != nil {
		rec.LockedUntil = locked.UTC()
	}
	rec.CreatedAt, rec.ExpiresAt = rec.CreatedAt.UTC(), rec.ExpiresAt.UTC()
	var err error
	if rec.Response, err = rs.decode(); err != nil {
		return store.IdemRecord{}, fmt.Errorf("idempotency record %s/%s response: %w", rec.Upstream, rec.Key, err)
	}
	return rec, nil
}
