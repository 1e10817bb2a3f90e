package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/fender-dev/fender/internal/store"
)

const idemCols = `upstream, key, fingerprint, state, locked_until, resp_status, resp_headers, resp_body,
	job_id, created_at, expires_at`

// BeginIdempotent claims (upstream, key); see store.IdempotencyStore. The
// single writer makes the read-decide-write atomic.
func (s *Store) BeginIdempotent(ctx context.Context, upstream, key, fingerprint string, lock time.Duration, now time.Time) (store.IdemRecord, bool, error) {
	if err := store.ValidateIdempotent(upstream, key, lock); err != nil {
		return store.IdemRecord{}, false, err
	}
	fresh := store.IdemRecord{Upstream: upstream, Key: key, Fingerprint: fingerprint, State: store.IdemInFlight,
		LockedUntil: now.Add(lock).UTC(), CreatedAt: now.UTC(), ExpiresAt: now.Add(lock).UTC()}
	var rec store.IdemRecord
	var acquired bool
	err := s.write(ctx, func(tx *wtx) error {
		old, err := scanIdem(tx.tx.QueryRow("SELECT "+idemCols+" FROM idempotency_keys WHERE upstream = ? AND key = ?", upstream, key))
		switch {
		case errors.Is(err, sql.ErrNoRows), err == nil && old.State == store.IdemDone && !old.ExpiresAt.After(now):
			rec = fresh
		case err != nil:
			return err
		case old.State == store.IdemInFlight && !old.LockedUntil.After(now):
			rec = old // taken over
		default:
			rec, acquired = old, false
			return nil
		}
		acquired = true
		_, err = tx.tx.Exec(`INSERT INTO idempotency_keys
				(upstream, key, fingerprint, state, locked_until, created_at, expires_at)
				VALUES (?1, ?2, ?3, 'in_flight', ?4, ?5, ?4)
			ON CONFLICT (upstream, key) DO UPDATE SET
				fingerprint = excluded.fingerprint, state = 'in_flight', locked_until = excluded.locked_until,
				resp_status = NULL, resp_headers = NULL, resp_body = NULL, job_id = '',
				created_at = excluded.created_at, expires_at = excluded.expires_at`,
			upstream, key, fingerprint, micros(fresh.LockedUntil), micros(now))
		return err
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
	err = s.write(ctx, func(tx *wtx) error {
		r, err := tx.tx.Exec(`UPDATE idempotency_keys SET state = 'done', locked_until = NULL,
				resp_status = ?, resp_headers = ?, resp_body = ?, job_id = ?, expires_at = ?
			WHERE upstream = ? AND key = ?`,
			rs.status, rs.headers, rs.body, jobID, micros(expires), upstream, key)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
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
	err := s.write(ctx, func(tx *wtx) error {
		_, err := tx.tx.Exec("DELETE FROM idempotency_keys WHERE upstream = ? AND key = ? AND state = 'in_flight'", upstream, key)
		return err
	})
	if err != nil {
		return s.fail("release idempotent", err)
	}
	return nil
}

func scanIdem(r scanner) (store.IdemRecord, error) {
	var rec store.IdemRecord
	var locked sql.NullInt64
	var created, expires int64
	var rs respCols
	if err := r.Scan(&rec.Upstream, &rec.Key, &rec.Fingerprint, &rec.State, &locked, &rs.status, &rs.headers, &rs.body,
		&rec.JobID, &created, &expires); err != nil {
		return store.IdemRecord{}, err
	}
	if locked.Valid {
		rec.LockedUntil = fromMicros(locked.Int64)
	}
	rec.CreatedAt, rec.ExpiresAt = fromMicros(created), fromMicros(expires)
	var err error
	if rec.Response, err = rs.decode(); err != nil {
		return store.IdemRecord{}, fmt.Errorf("idempotency record %s/%s response: %w", rec.Upstream, rec.Key, err)
	}
	return rec, nil
}
