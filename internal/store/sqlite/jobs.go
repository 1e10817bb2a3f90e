package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/fender-dev/fender/internal/store"
)

// jobCols is the column list scanJob reads; jobListCols the same without
// the request and response bodies.
const (
	jobCols = `id, kind, upstream, method, path, headers, body, callback_url, parent_id, idempotency_key,
	status, attempts, next_at, created_at, finished_at, last_error, resp_status, resp_headers, resp_body`
	jobListCols = `id, kind, upstream, method, path, headers, NULL, callback_url, parent_id, idempotency_key,
	status, attempts, next_at, created_at, finished_at, last_error, resp_status, resp_headers, NULL`
	jobAttemptCols = `job_id, n, started_at, duration_us, status, category, error, response_excerpt`
)

// EnqueueJob stores j durably; see store.JobStore.
func (s *Store) EnqueueJob(ctx context.Context, j store.NewJob) (string, error) {
	if err := j.Validate(); err != nil {
		return "", err
	}
	if j.CreatedAt.IsZero() {
		j.CreatedAt = time.Now()
	}
	headers, err := encodeHeaderMap(j.Header)
	if err != nil {
		return "", err
	}
	id := store.NewID()
	err = s.writeSingle(ctx, func(tx *wtx) error { return s.insertJob(tx, id, j, headers) })
	if err != nil {
		return "", s.fail("enqueue job", err)
	}
	return id, nil
}

func (s *Store) insertJob(tx *wtx, id string, j store.NewJob, headers string) error {
	_, err := tx.stmt(s.stmts.insertJob).Exec(id, j.Kind, j.Upstream, j.Method, j.Path, headers, j.Body,
		j.CallbackURL, j.ParentID, j.IdempotencyKey, micros(j.CreatedAt))
	return err
}

// ClaimJobs leases due pending jobs to owner; see store.JobStore.
func (s *Store) ClaimJobs(ctx context.Context, kinds, upstreams []string, owner string, limit int, lease time.Duration, now time.Time) ([]store.Job, error) {
	if owner == "" {
		return nil, &store.InvalidError{Field: "owner", Reason: "empty"}
	}
	if limit <= 0 || lease <= 0 {
		return nil, nil
	}
	if due, err := s.anyDue(ctx, anyDueJobs, micros(now), jsonList(kinds), jsonList(upstreams)); err == nil && !due {
		return nil, nil // nothing to claim: spare the writer an empty transaction
	}
	var out []store.Job
	err := s.write(ctx, func(tx *wtx) error {
		rows, err := tx.stmt(s.stmts.claimJobs).Query(owner, micros(now.Add(lease)), micros(now),
			jsonList(kinds), jsonList(upstreams), limit)
		if err != nil {
			return err
		}
		out, err = scanAll(rows, scanJob)
		return err
	})
	if err != nil {
		return nil, s.fail("claim jobs", err)
	}
	sort.Slice(out, func(i, k int) bool {
		if !out[i].NextAt.Equal(out[k].NextAt) {
			return out[i].NextAt.Before(out[k].NextAt)
		}
		return out[i].ID < out[k].ID
	})
	return out, nil
}

// FinishJob records an attempt and moves the job to out; see store.JobStore.
func (s *Store) FinishJob(ctx context.Context, id, owner string, a store.JobAttempt, out store.JobOutcome, now time.Time) error {
	if err := out.Validate(); err != nil {
		return err
	}
	next := out.NextAt
	if next.IsZero() {
		next = now
	}
	var rs respCols
	if out.Response != nil {
		var err error
		if rs, err = encodeResponse(out.Response); err != nil {
			return err
		}
	}
	var cb store.NewJob
	var cbHeaders string
	if out.Callback != nil {
		cb = *out.Callback
		if cb.ParentID == "" {
			cb.ParentID = id
		}
		if cb.CreatedAt.IsZero() {
			cb.CreatedAt = now
		}
		var err error
		if cbHeaders, err = encodeHeaderMap(cb.Header); err != nil {
			return err
		}
	}
	err := s.write(ctx, func(tx *wtx) error {
		var n int
		err := tx.stmt(s.stmts.finishJob).QueryRow(out.Status, micros(next), out.Error, micros(now), id, owner,
			out.Response != nil, rs.status, rs.headers, rs.body).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return leaseLost(tx, s.stmts.jobExists, id)
		}
		if err != nil {
			return err
		}
		if _, err := tx.stmt(s.stmts.addJobAttempt).Exec(id, n, micros(a.StartedAt), a.Duration.Microseconds(),
			a.Status, a.Category, a.Error, store.Excerpt(a.ResponseExcerpt)); err != nil {
			return err
		}
		if out.Callback != nil {
			return s.insertJob(tx, store.NewID(), cb, cbHeaders)
		}
		return nil
	})
	if err != nil {
		return s.fail("finish job "+id, err)
	}
	return nil
}

// DeferJob gives a leased job back for later; see store.JobStore.
func (s *Store) DeferJob(ctx context.Context, id, owner string, nextAt time.Time, reason string, now time.Time) error {
	err := s.write(ctx, func(tx *wtx) error {
		r, err := tx.tx.Exec(`UPDATE jobs SET next_at = ?1,
				last_error = CASE WHEN ?2 <> '' THEN ?2 ELSE last_error END,
				lease_owner = NULL, lease_until = NULL
			WHERE id = ?3 AND lease_owner = ?4 AND lease_until > ?5`,
			micros(nextAt), reason, id, owner, micros(now))
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil || n == 1 {
			return err
		}
		return leaseLost(tx, s.stmts.jobExists, id)
	})
	if err != nil {
		return s.fail("defer job "+id, err)
	}
	return nil
}

// ReleaseJobs clears every job lease owner holds; see store.JobStore.
func (s *Store) ReleaseJobs(ctx context.Context, owner string) error {
	err := s.write(ctx, func(tx *wtx) error {
		_, err := tx.tx.Exec("UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?", owner)
		return err
	})
	if err != nil {
		return s.fail("release jobs", err)
	}
	return nil
}

const replayJobsSet = `UPDATE jobs SET status = 'pending', next_at = ?, finished_at = NULL,
	lease_owner = NULL, lease_until = NULL
	WHERE status <> 'pending'`

// ReplayJob makes a finished job pending again; see store.JobStore.
func (s *Store) ReplayJob(ctx context.Context, id string, now time.Time) error {
	return s.replayOne(ctx, "replay job", id, func(tx *wtx) (sql.Result, error) {
		return tx.tx.Exec(replayJobsSet+" AND id = ?", micros(now), id)
	}, s.stmts.jobExists)
}

// ReplayJobsMatching replays every finished job matching f; see store.JobStore.
func (s *Store) ReplayJobsMatching(ctx context.Context, f store.JobFilter, now time.Time) (int, error) {
	if err := f.Validate(); err != nil {
		return 0, err
	}
	if f.Status == store.JobPending {
		return 0, nil
	}
	where, args := jobFilterWhere(f, false)
	return s.replayMatching(ctx, "replay jobs", replayJobsSet+where, now, args)
}

// GetJob returns one job with its attempts; see store.JobStore.
func (s *Store) GetJob(ctx context.Context, id string) (store.Job, []store.JobAttempt, error) {
	return getWithAttempts(ctx, s, "get job",
		"SELECT "+jobCols+" FROM jobs WHERE id = ?",
		"SELECT "+jobAttemptCols+" FROM job_attempts WHERE job_id = ? ORDER BY n",
		id, scanJob, attemptRow.job)
}

// ListJobs pages through jobs, newest first; see store.JobStore.
func (s *Store) ListJobs(ctx context.Context, f store.JobFilter) ([]store.Job, string, error) {
	if err := f.Validate(); err != nil {
		return nil, "", err
	}
	where, args := jobFilterWhere(f, true)
	return listPage(ctx, s, "list jobs", "SELECT "+jobListCols+" FROM jobs WHERE 1=1"+where, args,
		f.PageLimit(), scanJob, func(j store.Job) string { return j.ID })
}

// JobQueueDepth counts jobs by kind and status; see store.JobStore.
func (s *Store) JobQueueDepth(ctx context.Context) (map[string]map[string]int, error) {
	return s.countBy(ctx, "job queue depth", "SELECT kind, status, COUNT(*) FROM jobs GROUP BY kind, status")
}

// countBy runs a two-key GROUP BY count.
func (s *Store) countBy(ctx context.Context, op, q string) (map[string]map[string]int, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	rows, err := s.rdb.QueryContext(ctx, q)
	if err != nil {
		return nil, s.fail(op, err)
	}
	defer rows.Close()
	out := map[string]map[string]int{}
	for rows.Next() {
		var k1, k2 string
		var n int
		if err := rows.Scan(&k1, &k2, &n); err != nil {
			return nil, s.fail(op, err)
		}
		if out[k1] == nil {
			out[k1] = map[string]int{}
		}
		out[k1][k2] = n
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(op, err)
	}
	return out, nil
}

// jobFilterWhere renders f as " AND …" conditions; withCursor adds After.
func jobFilterWhere(f store.JobFilter, withCursor bool) (string, []any) {
	var w conds
	w.add(f.Kind != "", "kind =", f.Kind)
	w.add(f.Upstream != "", "upstream =", f.Upstream)
	w.common(f.Status, "created_at", f.Since, f.Until, withCursor, f.After)
	return w.b.String(), w.args
}

func scanJob(r scanner) (store.Job, error) {
	var j store.Job
	var headers string
	var next, created int64
	var finished sql.NullInt64
	var rs respCols
	if err := r.Scan(&j.ID, &j.Kind, &j.Upstream, &j.Method, &j.Path, &headers, &j.Body, &j.CallbackURL,
		&j.ParentID, &j.IdempotencyKey, &j.Status, &j.Attempts, &next, &created, &finished, &j.LastError,
		&rs.status, &rs.headers, &rs.body); err != nil {
		return store.Job{}, err
	}
	j.NextAt, j.CreatedAt = fromMicros(next), fromMicros(created)
	if finished.Valid {
		t := fromMicros(finished.Int64)
		j.FinishedAt = &t
	}
	var err error
	if j.Header, err = decodeHeaderMap(headers); err != nil {
		return store.Job{}, fmt.Errorf("job %s headers: %w", j.ID, err)
	}
	if j.Response, err = rs.decode(); err != nil {
		return store.Job{}, fmt.Errorf("job %s response: %w", j.ID, err)
	}
	return j, nil
}

// respCols are a StoredResponse's columns; a NULL status means none.
type respCols struct {
	status  sql.NullInt64
	headers sql.NullString
	body    []byte
}

func encodeResponse(r *store.StoredResponse) (respCols, error) {
	if r == nil {
		return respCols{}, nil
	}
	h, err := encodeHeaderMap(r.Header)
	if err != nil {
		return respCols{}, err
	}
	body := r.Body
	if body == nil {
		body = []byte{}
	}
	return respCols{status: sql.NullInt64{Int64: int64(r.Status), Valid: true}, headers: sql.NullString{String: h, Valid: true}, body: body}, nil
}

func (c respCols) decode() (*store.StoredResponse, error) {
	if !c.status.Valid {
		return nil, nil
	}
	r := &store.StoredResponse{Status: int(c.status.Int64), Body: c.body}
	if c.headers.Valid {
		h, err := decodeHeaderMap(c.headers.String)
		if err != nil {
			return nil, err
		}
		r.Header = h
	}
	return r, nil
}

func encodeHeaderMap(h map[string][]string) (string, error) {
	if len(h) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(h)
	if err != nil {
		return "", fmt.Errorf("sqlite: headers: %w", err)
	}
	return string(b), nil
}

func decodeHeaderMap(s string) (map[string][]string, error) {
	var h map[string][]string
	if err := json.Unmarshal([]byte(s), &h); err != nil {
		return nil, err
	}
	if len(h) == 0 {
		return nil, nil
	}
	return h, nil
}

// jsonList renders a filter list for json_each; empty means all.
func jsonList(l []string) string {
	if len(l) == 0 {
		return ""
	}
	b, _ := json.Marshal(l)
	return string(b)
}
