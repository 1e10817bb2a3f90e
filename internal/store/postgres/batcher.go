package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fender-dev/fender/internal/store"
)

// ingestReq is one queued Ingest.
type ingestReq struct {
	ctx     context.Context
	e       store.NewEvent
	id      string // the id it gets if new
	headers string // JSON
	res     store.IngestResult
	done    chan error // buffered
}

const insertEvents = `INSERT INTO events
	(id, source, event_id, resource_key, content_type, headers, body, next_at, received_at, recovered)
	SELECT id, source, event_id, rk, ct, h::jsonb, COALESCE(b, '\x'::bytea), r, r, rec
	FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
	            $7::bytea[], $8::timestamptz[], $9::bool[])
	     AS u(id, source, event_id, rk, ct, h, b, r, rec)
	ON CONFLICT (source, event_id) DO NOTHING
	RETURNING id`

const lookupEvents = `SELECT e.source, e.event_id, e.id FROM events e
	JOIN unnest($1::text[], $2::text[]) AS u(source, event_id)
	  ON e.source = u.source AND e.event_id = u.event_id`

// batcher writes queued ingests, everything waiting at once in one round
// trip, until ingests is closed and drained.
func (s *Store) batcher() {
	defer s.wg.Done()
	batches(s.ingests, s.maxBatch, func(batch []*ingestReq) {
		live := batch[:0:0]
		for _, r := range batch {
			if err := r.ctx.Err(); err != nil {
				r.done <- err // nobody waits for it; don't write it
				continue
			}
			live = append(live, r)
		}
		if len(live) > 0 {
			err := s.flush(live)
			for _, r := range live {
				r.done <- err
			}
		}
	})
}

// batches calls flush with everything queued on ch at once (at most max
// requests) until ch is closed and drained.
func batches[R any](ch <-chan R, max int, flush func([]R)) {
	batch := make([]R, 0, max)
	for {
		r, ok := <-ch
		if !ok {
			return
		}
		batch = append(batch[:0], r)
	drain:
		for len(batch) < max {
			select {
			case r, ok := <-ch:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		flush(batch)
		clear(batch)
	}
}

// flush inserts batch and fills in each request's result. On error no
// result may be trusted; the caller reports it to everyone.
func (s *Store) flush(batch []*ingestReq) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.flushTimeout)
	defer cancel()
	n := len(batch)
	ids, sources, eventIDs, keys, types, headers := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n)
	bodies, received, recovered := make([][]byte, n), make([]time.Time, n), make([]bool, n)
	for i, r := range batch {
		ids[i], sources[i], eventIDs[i], keys[i], types[i], headers[i] =
			r.id, r.e.Source, r.e.EventID, r.e.ResourceKey, r.e.ContentType, r.headers
		bodies[i], received[i], recovered[i] = r.e.Body, r.e.ReceivedAt, r.e.Recovered
	}
	return s.conn(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, insertEvents, ids, sources, eventIDs, keys, types, headers, bodies, received, recovered)
		if err != nil {
			return err
		}
		inserted, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		fresh := make(map[string]bool, len(inserted))
		for _, id := range inserted {
			fresh[id] = true
		}
		if len(inserted) == n {
			for _, r := range batch {
				r.res = store.IngestResult{ID: r.id}
			}
			return nil
		}
		// Duplicates: of stored events, or of an earlier request in this batch.
		var dupSources, dupIDs []string
		for _, r := range batch {
			if !fresh[r.id] {
				dupSources, dupIDs = append(dupSources, r.e.Source), append(dupIDs, r.e.EventID)
			}
		}
		rows, err = c.Query(ctx, lookupEvents, dupSources, dupIDs)
		if err != nil {
			return err
		}
		type key struct{ source, eventID string }
		existing := map[key]string{}
		var k key
		var id string
		if _, err := pgx.ForEachRow(rows, []any{&k.source, &k.eventID, &id}, func() error {
			existing[k] = id
			return nil
		}); err != nil {
			return err
		}
		for _, r := range batch {
			if fresh[r.id] {
				r.res = store.IngestResult{ID: r.id}
				continue
			}
			id, ok := existing[key{r.e.Source, r.e.EventID}]
			if !ok {
				return fmt.Errorf("duplicate %s/%s vanished", r.e.Source, r.e.EventID)
			}
			r.res = store.IngestResult{ID: id, Duplicate: true}
		}
		return nil
	})
}
