package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fender-dev/fender/internal/store"
)

const (
	jobCols = `id, kind, upstream, method, path, headers::text, body, callback_url, parent_id, idempotency_key,
	status, attempts, next_at, created_at, finished_at, last_error, resp_status, resp_headers::text, resp_body`
	jobListCols = `id, kind, upstream, method, path, headers::text, NULL::bytea, callback_url, parent_id, idempotency_key,
	status, attempts, next_at, created_at, finished_at, last_error, resp_status, resp_headers::text, NULL::bytea`
	jobAttemptCols = `job_id, n, started_at, duration_us, status, category, error, response_excerpt`
)

// jobReq is one queued EnqueueJob.
type jobReq struct {
	ctx     context.Context
	j       store.NewJob
	id      string
	headers string     // JSON
	done    chan error // buffered
}

const insertJobs = `INSERT INTO jobs
	(id, kind, upstream, method, path, headers, body, callback_url, parent_id, idempotency_key, next_at, created_at)
	SELECT id, kind, up, m, p, h::jsonb, COALESCE(b, '\x'::bytea), cb, par, ik, c, c
	FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[],
	            $8::text[], $9::text[], $10::text[], $11::timestamptz[])
	     AS u(id, kind, up, m, p, h, b, cb, par, ik, c)`

// EnqueueJob stores j durably; see store.JobStore. Concurrent calls are
// group-committed: one INSERT … unnest round trip for everything queued.
func (s *Store) EnqueueJob(ctx context.Context, j store.NewJob) (string, error) {
	if err := j.Validate(); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if j.CreatedAt.IsZero() {
		j.CreatedAt = time.Now()
	}
	headers, err := encodeHeaderMap(j.Header)
	if err != nil {
		return "", err
	}
	r := &jobReq{ctx: ctx, j: j, id: store.NewID(), headers: headers, done: make(chan error, 1)}
	if s.maxBatch == 1 {
		if s.closed.Load() {
			return "", store.ErrClosed
		}
		if err := s.flushJobs([]*jobReq{r}); err != nil {
			return "", s.fail("enqueue job", err)
		}
		return r.id, nil
	}
	s.mu.RLock()
	if s.closed.Load() {
		s.mu.RUnlock()
		return "", store.ErrClosed
	}
	select {
	case s.jobs <- r:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return "", ctx.Err()
	}
	select {
	case err := <-r.done:
		if err != nil {
			return "", s.fail("enqueue job", err)
		}
		return r.id, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// jobBatcher writes queued jobs until jobs is closed and drained.
func (s *Store) jobBatcher() {
	defer s.wg.Done()
	batches(s.jobs, s.maxBatch, func(batch []*jobReq) {
		live := batch[:0:0]
		for _, r := range batch {
			if err := r.ctx.Err(); err != nil {
				r.done <- err
				continue
			}
			live = append(live, r)
		}
		if len(live) > 0 {
			err := s.flushJobs(live)
			for _, r := range live {
				r.done <- err
			}
		}
	})
}

func (s *Store) flushJobs(batch []*jobReq) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.flushTimeout)
	defer cancel()
	return s.conn(ctx, func(c *pgx.Conn) error { return insertJobRows(ctx, c, batch) })
}

// execer is a connection or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// insertJobRows inserts batch in one statement.
func insertJobRows(ctx context.Context, c execer, batch []*jobReq) error {
	n := len(batch)
	ids, kinds, ups, methods, paths, headers := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n)
	bodies, cbs, parents, keys, created := make([][]byte, n), make([]string, n), make([]string, n), make([]string, n), make([]time.Time, n)
	for i, r := range batch {
		ids[i], kinds[i], ups[i], methods[i], paths[i], headers[i] = r.id, r.j.Kind, r.j.Upstream, r.j.Method, r.j.Path, r.headers
		bodies[i], cbs[i], parents[i], keys[i], created[i] = r.j.Body, r.j.CallbackURL, r.j.ParentID, r.j.IdempotencyKey, r.j.CreatedAt
	}
	_, err := c.Exec(ctx, insertJobs, ids, kinds, ups, methods, paths, headers, bodies, cbs, parents, keys, created)
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
	var out []store.Job
	err := s.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `UPDATE jobs SET lease_owner = $1, lease_until = $2
			WHERE id IN (
				SELECT id FROM jobs
				WHERE status = 'pending' AND next_at <= $3
				  AND (lease_until IS NULL OR lease_until <= $3)
				  AND (cardinality($4::text[]) = 0 OR kind = ANY($4::text[]))
				  AND (cardinality($5::text[]) = 0 OR upstream = ANY($5::text[]))
				ORDER BY next_at, seq
				LIMIT $6
				FOR UPDATE SKIP LOCKED)
			RETURNING `+jobCols, owner, now.Add(lease), now, nonNil(kinds), nonNil(upstreams), limit)
		if err != nil {
			return err
		}
		out, err = collectJobs(rows)
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

// FinishJob records an attempt and moves the job to out, enqueueing
// out.Callback in the same transaction; see store.JobStore.
func (s *Store) FinishJob(ctx context.Context, id, owner string, a store.JobAttempt, out store.JobOutcome, now time.Time) error {
	if err := out.Validate(); err != nil {
		return err
	}
	next := out.NextAt
	if next.IsZero() {
		next = now
	}
	rs, err := encodeResponse(out.Response)
	if err != nil {
		return err
	}
	var cb *jobReq
	if out.Callback != nil {
		j := *out.Callback
		if j.ParentID == "" {
			j.ParentID = id
		}
		if j.CreatedAt.IsZero() {
			j.CreatedAt = now
		}
		h, err := encodeHeaderMap(j.Header)
		if err != nil {
			return err
		}
		cb = &jobReq{j: j, id: store.NewID(), headers: h}
	}
	const finish = `WITH upd AS (
			UPDATE jobs SET
				status = $1::text, next_at = $2, last_error = $3,
				finished_at = CASE WHEN $1::text = 'pending' THEN NULL ELSE $4::timestamptz END,
				resp_status  = CASE WHEN $7::bool THEN $8::integer ELSE resp_status END,
				resp_headers = CASE WHEN $7::bool THEN $9::jsonb ELSE resp_headers END,
				resp_body    = CASE WHEN $7::bool THEN $10::bytea ELSE resp_body END,
				attempts = attempts + 1, lease_owner = NULL, lease_until = NULL
			WHERE id = $5 AND lease_owner = $6 AND lease_until > $4::timestamptz
			RETURNING id, attempts)
		INSERT INTO job_attempts (` + jobAttemptCols + `)
		SELECT id, attempts, $11, $12, $13, $14, $15, $16 FROM upd
		RETURNING n`
	args := []any{out.Status, next, out.Error, now, id, owner, out.Response != nil, rs.status, rs.headers, rs.body,
		a.StartedAt, a.Duration.Microseconds(), a.Status, a.Category, a.Error, store.Excerpt(a.ResponseExcerpt)}
	err = s.with(ctx, func(c *pgx.Conn) error {
		var n int
		var err error
		if cb == nil {
			err = c.QueryRow(ctx, finish, args...).Scan(&n)
		} else {
			err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
				if err := tx.QueryRow(ctx, finish, args...).Scan(&n); err != nil {
					return err
				}
				return insertJobRows(ctx, tx, []*jobReq{cb})
			})
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		return leaseLost(ctx, c, "jobs", id)
	})
	if err != nil {
		return s.fail("finish job "+id, err)
	}
	return nil
}

// DeferJob gives a leased job back for later; see store.JobStore.
func (s *Store) DeferJob(ctx context.Context, id, owner string, nextAt time.Time, reason string, now time.Time) error {
	err := s.with(ctx, func(c *pgx.Conn) error {
		tag, err := c.Exec(ctx, `UPDATE jobs SET next_at = $1,
				last_error = CASE WHEN $2::text <> '' THEN $2::text ELSE last_error END,
				lease_owner = NULL, lease_until = NULL
			WHERE id = $3 AND lease_owner = $4 AND lease_until > $5`, nextAt, reason, id, owner, now)
		if err != nil || tag.RowsAffected() == 1 {
			return err
		}
		return leaseLost(ctx, c, "jobs", id)
	})
	if err != nil {
		return s.fail("defer job "+id, err)
	}
	return nil
}

// ReleaseJobs clears every job lease owner holds; see store.JobStore.
func (s *Store) ReleaseJobs(ctx context.Context, owner string) error {
	return s.release(ctx, "release jobs", "jobs", owner)
}

const replayJobsSet = `UPDATE jobs SET status = 'pending', next_at = $1, finished_at = NULL,
	lease_owner = NULL, lease_until = NULL
	WHERE status <> 'pending'`

// ReplayJob makes a finished job pending again; see store.JobStore.
func (s *Store) ReplayJob(ctx context.Context, id string, now time.Time) error {
	return s.replayOne(ctx, "replay job", replayJobsSet+" AND id = $2", "jobs", id, now)
}

// ReplayJobsMatching replays every finished job matching f; see store.JobStore.
func (s *Store) ReplayJobsMatching(ctx context.Context, f store.JobFilter, now time.Time) (int, error) {
	if err := f.Validate(); err != nil {
		return 0, err
	}
	args := []any{now}
	where := jobFilterWhere(f, false, &args)
	return s.replayMatching(ctx, "replay jobs", f.Status == store.JobPending, replayJobsSet+where, args)
}

// GetJob returns one job with its attempts; see store.JobStore.
func (s *Store) GetJob(ctx context.Context, id string) (store.Job, []store.JobAttempt, error) {
	return getWithAttempts(ctx, s, "get job "+id,
		"SELECT "+jobCols+" FROM jobs WHERE id = $1",
		"SELECT "+jobAttemptCols+" FROM job_attempts WHERE job_id = $1 ORDER BY n",
		id, collectJobs, attemptRow.job)
}

// ListJobs pages through jobs, newest first; see store.JobStore.
func (s *Store) ListJobs(ctx context.Context, f store.JobFilter) ([]store.Job, string, error) {
	if err := f.Validate(); err != nil {
		return nil, "", err
	}
	var args []any
	where := jobFilterWhere(f, true, &args)
	return listPage(ctx, s, "list jobs", "SELECT "+jobListCols+" FROM jobs WHERE true"+where, args,
		f.PageLimit(), collectJobs, func(j store.Job) string { return j.ID })
}

// JobQueueDepth counts jobs by kind and status; see store.JobStore.
func (s *Store) JobQueueDepth(ctx context.Context) (map[string]map[string]int, error) {
	out, err := s.countBy(ctx, "SELECT kind, status, COUNT(*) FROM jobs GROUP BY kind, status")
	if err != nil {
		return nil, s.fail("job queue depth", err)
	}
	return out, nil
}

// countBy runs a two-key GROUP BY count.
func (s *Store) countBy(ctx context.Context, q string) (map[string]map[string]int, error) {
	out := map[string]map[string]int{}
	err := s.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, q)
		if err != nil {
			return err
		}
		var k1, k2 string
		var n int
		_, err = pgx.ForEachRow(rows, []any{&k1, &k2, &n}, func() error {
			if out[k1] == nil {
				out[k1] = map[string]int{}
			}
			out[k1][k2] = n
			return nil
		})
		return err
	})
	return out, err
}

// jobFilterWhere renders f as " AND …" conditions with numbered
// parameters appended to args; withCursor adds After.
func jobFilterWhere(f store.JobFilter, withCursor bool, args *[]any) string {
	w := conds{args: args}
	w.add(f.Kind != "", "kind =", f.Kind)
	w.add(f.Upstream != "", "upstream =", f.Upstream)
	w.common(f.Status, "created_at", f.Since, f.Until, withCursor, f.After)
	return w.b.String()
}

func collectJobs(rows pgx.Rows) ([]store.Job, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Job, error) {
		var j store.Job
		var headers string
		var rs respCols
		if err := r.Scan(&j.ID, &j.Kind, &j.Upstream, &j.Method, &j.Path, &headers, &j.Body, &j.CallbackURL,
			&j.ParentID, &j.IdempotencyKey, &j.Status, &j.Attempts, &j.NextAt, &j.CreatedAt, &j.FinishedAt, &j.LastError,
			&rs.status, &rs.headers, &rs.body); err != nil {
			return store.Job{}, err
		}
		j.NextAt, j.CreatedAt = j.NextAt.UTC(), j.CreatedAt.UTC()
		if j.FinishedAt != nil {
			t := j.FinishedAt.UTC()
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
	})
}

// respCols are a StoredResponse's columns; a NULL status means none.
type respCols struct {
	status  *int32
	headers *string // JSON
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
	status := int32(r.Status)
	body := r.Body
	if body == nil {
		body = []byte{}
	}
	return respCols{status: &status, headers: &h, body: body}, nil
}

func (c respCols) decode() (*store.StoredResponse, error) {
	if c.status == nil {
		return nil, nil
	}
	r := &store.StoredResponse{Status: int(*c.status), Body: c.body}
	if c.headers != nil {
		h, err := decodeHeaderMap(*c.headers)
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
		return "", fmt.Errorf("postgres: headers: %w", err)
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
