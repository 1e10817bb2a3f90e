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

// Ingest stores e durably; see store.Store.
func (s *Store) Ingest(ctx context.Context, e store.NewEvent) (store.IngestResult, error) {
	if err := e.Validate(); err != nil {
		return store.IngestResult{}, err
	}
	if e.ReceivedAt.IsZero() {
		e.ReceivedAt = time.Now()
	}
	headers, err := encodeHeaders(e.Headers)
	if err != nil {
		return store.IngestResult{}, err
	}
	id := store.NewID()
	var res store.IngestResult
	err = s.writeSingle(ctx, func(tx *wtx) error {
		res = store.IngestResult{}
		r, err := tx.stmt(s.stmts.ingest).Exec(id, e.Source, e.EventID, e.ResourceKey, e.ContentType,
			headers, e.Body, micros(e.ReceivedAt), e.Recovered)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil {
			return err
		} else if n == 1 {
			res = store.IngestResult{ID: id}
			return nil
		}
		res.Duplicate = true
		return tx.stmt(s.stmts.lookup).QueryRow(e.Source, e.EventID).Scan(&res.ID)
	})
	if err != nil {
		return store.IngestResult{}, s.fail("ingest", err)
	}
	return res, nil
}

// Claim leases due pending events to owner; see store.Store.
func (s *Store) Claim(ctx context.Context, sources []string, owner string, limit int, lease time.Duration, now time.Time) ([]store.Event, error) {
	if owner == "" {
		return nil, &store.InvalidError{Field: "owner", Reason: "empty"}
	}
	if limit <= 0 || lease <= 0 {
		return nil, nil
	}
	if due, err := s.anyDue(ctx, anyDueEvents, micros(now), jsonList(sources)); err == nil && !due {
		return nil, nil // nothing to claim: spare the writer an empty transaction
	}
	var out []store.Event
	err := s.write(ctx, func(tx *wtx) error {
		rows, err := tx.stmt(s.stmts.claim).Query(owner, micros(now.Add(lease)), micros(now), jsonList(sources), limit)
		if err != nil {
			return err
		}
		out, err = scanAll(rows, scanEvent)
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
	err := s.write(ctx, func(tx *wtx) error {
		var n int
		err := tx.stmt(s.stmts.finish).QueryRow(out.Status, micros(next), out.Error, micros(now), eventID, owner).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return leaseLost(tx, s.stmts.exists, eventID)
		}
		if err != nil {
			return err
		}
		_, err = tx.stmt(s.stmts.addAttempt).Exec(eventID, n, micros(a.StartedAt), a.Duration.Microseconds(),
			a.Status, a.Category, a.Error, store.Excerpt(a.ResponseExcerpt))
		return err
	})
	if err != nil {
		return s.fail("finish "+eventID, err)
	}
	return nil
}

// Release clears every lease owner holds; see store.Store.
func (s *Store) Release(ctx context.Context, owner string) error {
	err := s.write(ctx, func(tx *wtx) error {
		_, err := tx.stmt(s.stmts.releaseOwner).Exec(owner)
		return err
	})
	if err != nil {
		return s.fail("release", err)
	}
	return nil
}

// Replay makes a finished event pending again; see store.Store.
func (s *Store) Replay(ctx context.Context, id string, now time.Time) error {
	return s.replayOne(ctx, "replay", id, func(tx *wtx) (sql.Result, error) {
		return tx.stmt(s.stmts.replay).Exec(micros(now), id)
	}, s.stmts.exists)
}

// ReplayMatching replays every finished event matching f; see store.Store.
func (s *Store) ReplayMatching(ctx context.Context, f store.Filter, now time.Time) (int, error) {
	if err := f.Validate(); err != nil {
		return 0, err
	}
	if f.Status == store.StatusPending {
		return 0, nil
	}
	where, args := filterWhere(f, false)
	return s.replayMatching(ctx, "replay", `UPDATE events SET status = 'pending', next_at = ?, delivered_at = NULL,
		lease_owner = NULL, lease_until = NULL
		WHERE status <> 'pending'`+where, now, args)
}

// purgeChunk bounds the rows one purge transaction deletes, so ingests
// queued behind it wait for a short commit only.
const purgeChunk = 500

// Purge deletes finished events and jobs and expired idempotency records;
// see store.Store. Each chunk is one short write.
func (s *Store) Purge(ctx context.Context, before time.Time) (int, error) {
	total := 0
	for _, del := range []func(tx *wtx) (sql.Result, error){
		func(tx *wtx) (sql.Result, error) { return tx.stmt(s.stmts.purge).Exec(micros(before), purgeChunk) },
		func(tx *wtx) (sql.Result, error) {
			return tx.tx.Exec(`DELETE FROM jobs WHERE seq IN (
				SELECT seq FROM jobs
				WHERE status IN ('succeeded', 'failed', 'dead') AND finished_at < ?1
				LIMIT ?2)`, micros(before), purgeChunk)
		},
		func(tx *wtx) (sql.Result, error) {
			return tx.tx.Exec(`DELETE FROM idempotency_keys WHERE (upstream, key) IN (
				SELECT upstream, key FROM idempotency_keys WHERE expires_at < ?1 LIMIT ?2)`, micros(before), purgeChunk)
		},
	} {
		for {
			var n int64
			err := s.write(ctx, func(tx *wtx) error {
				r, err := del(tx)
				if err != nil {
					return err
				}
				n, err = r.RowsAffected()
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
	return getWithAttempts(ctx, s, "get event",
		"SELECT "+eventCols+" FROM events WHERE id = ?",
		"SELECT "+attemptCols+" FROM attempts WHERE event_id = ? ORDER BY n",
		id, scanEvent, attemptRow.event)
}

// ListEvents pages through events, newest first; see store.Store.
func (s *Store) ListEvents(ctx context.Context, f store.Filter) ([]store.Event, string, error) {
	if err := f.Validate(); err != nil {
		return nil, "", err
	}
	where, args := filterWhere(f, true)
	return listPage(ctx, s, "list events", "SELECT "+listCols+" FROM events WHERE 1=1"+where, args,
		f.PageLimit(), scanEvent, func(e store.Event) string { return e.ID })
}

// QueueDepth counts events by source and status; see store.Store.
func (s *Store) QueueDepth(ctx context.Context) (map[string]map[string]int, error) {
	return s.countBy(ctx, "queue depth", "SELECT source, status, COUNT(*) FROM events GROUP BY source, status")
}

// filterWhere renders f as " AND …" conditions; withCursor adds After.
func filterWhere(f store.Filter, withCursor bool) (string, []any) {
	var w conds
	w.add(f.Source != "", "source =", f.Source)
	w.common(f.Status, "received_at", f.Since, f.Until, withCursor, f.After)
	return w.b.String(), w.args
}

type scanner interface{ Scan(dest ...any) error }

func scanEvent(r scanner) (store.Event, error) {
	var e store.Event
	var headers string
	var next, received int64
	var delivered sql.NullInt64
	if err := r.Scan(&e.Seq, &e.ID, &e.Source, &e.EventID, &e.ResourceKey, &e.ContentType, &headers, &e.Body,
		&e.Status, &e.Attempts, &next, &received, &delivered, &e.LastError, &e.Recovered); err != nil {
		return store.Event{}, err
	}
	e.NextAt = fromMicros(next)
	e.ReceivedAt = fromMicros(received)
	if delivered.Valid {
		t := fromMicros(delivered.Int64)
		e.DeliveredAt = &t
	}
	if err := json.Unmarshal([]byte(headers), &e.Headers); err != nil {
		return store.Event{}, fmt.Errorf("event %s headers: %w", e.ID, err)
	}
	if len(e.Headers) == 0 {
		e.Headers = nil
	}
	return e, nil
}

func encodeHeaders(h map[string]string) (string, error) {
	if len(h) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(h)
	if err != nil {
		return "", fmt.Errorf("sqlite: headers: %w", err)
	}
	return string(b), nil
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// Read-only checks that a claim would find something. Idle workers poll
// several times a second; without the check each poll is a write
// transaction queued behind ingests.
const (
	anyDueEvents = `SELECT EXISTS (SELECT 1 FROM events
		WHERE status = 'pending' AND next_at <= ?1
		  AND (lease_until IS NULL OR lease_until <= ?1)
		  AND (?2 = '' OR source IN (SELECT value FROM json_each(?2))))`
	anyDueJobs = `SELECT EXISTS (SELECT 1 FROM jobs
		WHERE status = 'pending' AND next_at <= ?1
		  AND (lease_until IS NULL OR lease_until <= ?1)
		  AND (?2 = '' OR kind IN (SELECT value FROM json_each(?2)))
		  AND (?3 = '' OR upstream IN (SELECT value FROM json_each(?3))))`
)

// anyDue runs one of the checks on the read pool. On error the caller
// claims anyway: the check only saves work, it never decides.
func (s *Store) anyDue(ctx context.Context, query string, args ...any) (bool, error) {
	var due bool
	err := s.rdb.QueryRowContext(ctx, query, args...).Scan(&due)
	return due, err
}
