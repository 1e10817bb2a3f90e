package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fender-dev/fender/internal/store"
)

const (
	eventCols = `seq, id, source, event_id, resource_key, content_type, headers::text, body,
	status, attempts, next_at, received_at, delivered_at, last_error, recovered`
	listCols = `seq, id, source, event_id, resource_key, content_type, headers::text, NULL::bytea,
	status, attempts, next_at, received_at, delivered_at, last_error, recovered`
	attemptCols = `event_id, n, started_at, duration_us, status, category, error, response_excerpt`
)

// Ingest stores e durably; see store.Store.
func (s *Store) Ingest(ctx context.Context, e store.NewEvent) (store.IngestResult, error) {
	if err := e.Validate(); err != nil {
		return store.IngestResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return store.IngestResult{}, err
	}
	if e.ReceivedAt.IsZero() {
		e.ReceivedAt = time.Now()
	}
	headers := "{}"
	if len(e.Headers) > 0 {
		b, err := json.Marshal(e.Headers)
		if err != nil {
			return store.IngestResult{}, fmt.Errorf("postgres: headers: %w", err)
		}
		headers = string(b)
	}
	r := &ingestReq{ctx: ctx, e: e, id: store.NewID(), headers: headers, done: make(chan error, 1)}
	if s.maxBatch == 1 {
		if s.closed.Load() {
			return store.IngestResult{}, store.ErrClosed
		}
		if err := s.flush([]*ingestReq{r}); err != nil {
			return store.IngestResult{}, s.fail("ingest", err)
		}
		return r.res, nil
	}
	s.mu.RLock()
	if s.closed.Load() {
		s.mu.RUnlock()
		return store.IngestResult{}, store.ErrClosed
	}
	select {
	case s.ingests <- r:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return store.IngestResult{}, ctx.Err()
	}
	select {
	case err := <-r.done:
		if err != nil {
			return store.IngestResult{}, s.fail("ingest", err)
		}
		return r.res, nil
	case <-ctx.Done():
		return store.IngestResult{}, ctx.Err()
	}
}

// Claim leases due pending events to owner; see store.Store.
func (s *Store) Claim(ctx context.Context, sources []string, owner string, limit int, lease time.Duration, now time.Time) ([]store.Event, error) {
	if owner == "" {
		return nil, &store.InvalidError{Field: "owner", Reason: "empty"}
	}
	if limit <= 0 || lease <= 0 {
		return nil, nil
	}
	var out []store.Event
	err := s.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `UPDATE events SET lease_owner = $1, lease_until = $2
			WHERE id IN (
				SELECT id FROM events
				WHERE status = 'pending' AND next_at <= $3
				  AND (lease_until IS NULL OR lease_until <= $3)
				  AND (cardinality($4::text[]) = 0 OR source = ANY($4::text[]))
				ORDER BY next_at, seq
				LIMIT $5
				FOR UPDATE SKIP LOCKED)
			RETURNING `+eventCols, owner, now.Add(lease), now, nonNil(sources), limit)
		if err != nil {
			return err
		}
		out, err = collectEvents(rows)
		return err
	})
	if err != nil {
		return nil, s.fail("claim", err)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].NextAt.Equal(out[j].NextAt) {
			return out[i].NextAt.Before(out[j].NextAt)
		}
		return out[i].Seq < out[j].Seq
	})
	return out, nil
}

// Finish records an attempt and moves the event to out; see store.Store.
func (s *Store) Finish(ctx context.Context, eventID, owner string, a store.Attempt, out store.Outcome, now time.Time) error {
	if err := out.Validate(); err != nil {
		return err
	}
	next := out.NextAt
	if next.IsZero() {
		next = now
	}
	err := s.with(ctx, func(c *pgx.Conn) error {
		var n int
		err := c.QueryRow(ctx, `WITH upd AS (
				UPDATE events SET
					status = $1::text, next_at = $2, last_error = $3,
					delivered_at = CASE WHEN $1::text = 'delivered' THEN $4::timestamptz END,
					attempts = attempts + 1, lease_owner = NULL, lease_until = NULL
				WHERE id = $5 AND lease_owner = $6 AND lease_until > $4::timestamptz
				RETURNING id, attempts)
			INSERT INTO attempts (`+attemptCols+`)
			SELECT id, attempts, $7, $8, $9, $10, $11, $12 FROM upd
			RETURNING n`,
			out.Status, next, out.Error, now, eventID, owner,
			a.StartedAt, a.Duration.Microseconds(), a.Status, a.Category, a.Error, store.Excerpt(a.ResponseExcerpt),
		).Scan(&n)
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		return leaseLost(ctx, c, "events", eventID)
	})
	if err != nil {
		return s.fail("finish "+eventID, err)
	}
	return nil
}

// Release clears every lease owner holds; see store.Store.
func (s *Store) Release(ctx context.Context, owner string) error {
	return s.release(ctx, "release", "events", owner)
}

const replaySet = `UPDATE events SET status = 'pending', next_at = $1, delivered_at = NULL,
	lease_owner = NULL, lease_until = NULL
	WHERE status <> 'pending'`

// Replay makes a finished event pending again; see store.Store.
func (s *Store) Replay(ctx context.Context, id string, now time.Time) error {
	return s.replayOne(ctx, "replay", replaySet+" AND id = $2", "events", id, now)
}

// ReplayMatching replays every finished event matching f; see store.Store.
func (s *Store) ReplayMatching(ctx context.Context, f store.Filter, now time.Time) (int, error) {
	if err := f.Validate(); err != nil {
		return 0, err
	}
	args := []any{now}
	where := filterWhere(f, false, &args)
	return s.replayMatching(ctx, "replay", f.Status == store.StatusPending, replaySet+where, args)
}

// purgeChunk bounds the rows one purge statement deletes.
const purgeChunk = 1000

// Purge deletes finished events and jobs and expired idempotency records,
// a chunk per statement; see store.Store.
func (s *Store) Purge(ctx context.Context, before time.Time) (int, error) {
	total := 0
	for _, q := range []string{
		`DELETE FROM events WHERE id IN (
			SELECT id FROM events
			WHERE status IN ('delivered', 'dead', 'superseded') AND received_at < $1
			LIMIT $2
			FOR UPDATE SKIP LOCKED)`,
		`DELETE FROM jobs WHERE id IN (
			SELECT id FROM jobs
			WHERE status IN ('succeeded', 'failed', 'dead') AND finished_at < $1
			LIMIT $2
			FOR UPDATE SKIP LOCKED)`,
		`DELETE FROM idempotency_keys WHERE (upstream, key) IN (
			SELECT upstream, key FROM idempotency_keys
			WHERE expires_at < $1
			LIMIT $2
			FOR UPDATE SKIP LOCKED)`,
	} {
		for {
			var n int64
			err := s.with(ctx, func(c *pgx.Conn) error {
				tag, err := c.Exec(ctx, q, before, purgeChunk)
				n = tag.RowsAffected()
				return err
			})
			if err != nil {
				return total, s.fail("purge", err)
			}
			total += int(n)
			if n < purgeChunk {
				break
			}
		}
	}
	return total, nil
}

// GetEvent returns one event with its attempts; see store.Store.
func (s *Store) GetEvent(ctx context.Context, id string) (store.Event, []store.Attempt, error) {
	return getWithAttempts(ctx, s, "get event "+id,
		"SELECT "+eventCols+" FROM events WHERE id = $1",
		"SELECT "+attemptCols+" FROM attempts WHERE event_id = $1 ORDER BY n",
		id, collectEvents, attemptRow.event)
}

// ListEvents pages through events, newest first; see store.Store.
func (s *Store) ListEvents(ctx context.Context, f store.Filter) ([]store.Event, string, error) {
	if err := f.Validate(); err != nil {
		return nil, "", err
	}
	var args []any
	where := filterWhere(f, true, &args)
	return listPage(ctx, s, "list events", "SELECT "+listCols+" FROM events WHERE true"+where, args,
		f.PageLimit(), collectEvents, func(e store.Event) string { return e.ID })
}

// QueueDepth counts events by source and status; see store.Store.
func (s *Store) QueueDepth(ctx context.Context) (map[string]map[string]int, error) {
	out, err := s.countBy(ctx, "SELECT source, status, COUNT(*) FROM events GROUP BY source, status")
	if err != nil {
		return nil, s.fail("queue depth", err)
	}
	return out, nil
}

// filterWhere renders f as " AND …" conditions with numbered parameters
// appended to args; withCursor adds After.
func filterWhere(f store.Filter, withCursor bool, args *[]any) string {
	w := conds{args: args}
	w.add(f.Source != "", "source =", f.Source)
	w.common(f.Status, "received_at", f.Since, f.Until, withCursor, f.After)
	return w.b.String()
}

func collectEvents(rows pgx.Rows) ([]store.Event, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Event, error) {
		var e store.Event
		var headers string
		if err := r.Scan(&e.Seq, &e.ID, &e.Source, &e.EventID, &e.ResourceKey, &e.ContentType, &headers, &e.Body,
			&e.Status, &e.Attempts, &e.NextAt, &e.ReceivedAt, &e.DeliveredAt, &e.LastError, &e.Recovered); err != nil {
			return store.Event{}, err
		}
		e.NextAt, e.ReceivedAt = e.NextAt.UTC(), e.ReceivedAt.UTC()
		if e.DeliveredAt != nil {
			t := e.DeliveredAt.UTC()
			e.DeliveredAt = &t
		}
		if err := json.Unmarshal([]byte(headers), &e.Headers); err != nil {
			return store.Event{}, fmt.Errorf("event %s headers: %w", e.ID, err)
		}
		if len(e.Headers) == 0 {
			e.Headers = nil
		}
		return e, nil
	})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
