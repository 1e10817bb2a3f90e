package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/fender-dev/fender/internal/store"
	"github.com/fender-dev/fender/internal/store/migrate"
)

// TestBatchIsolation: in one batch, a request whose statement fails is
// rolled back to its savepoint and the others commit; duplicates inside the
// batch resolve to the first id.
func TestBatchIsolation(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "f.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// Hold the writer so the next requests queue into one batch.
	hold, held := make(chan struct{}), make(chan struct{})
	var unhold sync.Once
	defer unhold.Do(func() { close(hold) }) // a failing test must not leave the writer stuck
	go s.write(ctx, func(*wtx) error { close(held); <-hold; return nil })
	<-held

	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	type result struct {
		res store.IngestResult
		err error
	}
	ingest := func(id string) chan result {
		queued := len(s.reqs) + 1
		ch := make(chan result, 1)
		go func() {
			r, err := s.Ingest(ctx, store.NewEvent{Source: "s", EventID: id, ReceivedAt: at})
			ch <- result{r, err}
		}()
		waitQueued(t, s, queued)
		return ch
	}
	a := ingest("a")
	bad := make(chan error, 1)
	go func() {
		bad <- s.write(ctx, func(tx *wtx) error {
			// A write that succeeds, then one that fails: both must go.
			if _, err := tx.tx.Exec("UPDATE events SET last_error = 'poison'"); err != nil {
				return err
			}
			_, err := tx.tx.Exec("INSERT INTO no_such_table VALUES (1)")
			return err
		})
	}()
	waitQueued(t, s, 2)
	b := ingest("b")
	a2 := ingest("a")
	unhold.Do(func() { close(hold) })

	if err := <-bad; err == nil {
		t.Fatal("bad request succeeded")
	}
	ra, rb, ra2 := <-a, <-b, <-a2
	if ra.err != nil || rb.err != nil || ra2.err != nil {
		t.Fatalf("ingests failed: %v %v %v", ra.err, rb.err, ra2.err)
	}
	if ra.res.Duplicate || rb.res.Duplicate || !ra2.res.Duplicate || ra2.res.ID != ra.res.ID {
		t.Fatalf("results a=%+v b=%+v a again=%+v", ra.res, rb.res, ra2.res)
	}
	for _, id := range []string{ra.res.ID, rb.res.ID} {
		e, _, err := s.GetEvent(ctx, id)
		if err != nil || e.LastError != "" {
			t.Fatalf("GetEvent(%s) = %+v, %v; want stored, untouched by the failed request", id, e, err)
		}
	}
}

func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(s.reqs) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests queued, want %d", len(s.reqs), n)
		}
		runtime.Gosched()
	}
}

// TestPurgeRemovesAttempts looks under the contract: purged events take
// their attempt rows with them.
func TestPurgeRemovesAttempts(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "f.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, id := range []string{"old", "new"} {
		received := at
		if id == "new" {
			received = at.Add(48 * time.Hour)
		}
		if _, err := s.Ingest(ctx, store.NewEvent{Source: "s", EventID: id, ReceivedAt: received}); err != nil {
			t.Fatal(err)
		}
		es, err := s.Claim(ctx, nil, "w", 1, time.Minute, received)
		if err != nil || len(es) != 1 {
			t.Fatalf("Claim = %v, %v", es, err)
		}
		if err := s.Finish(ctx, es[0].ID, "w", store.Attempt{StartedAt: received}, store.Outcome{Status: store.StatusDead}, received); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.Purge(ctx, at.Add(24*time.Hour)); err != nil || n != 1 {
		t.Fatalf("Purge = %d, %v", n, err)
	}
	var attempts int
	if err := s.rdb.QueryRowContext(ctx, "SELECT COUNT(*) FROM attempts").Scan(&attempts); err != nil {
		t.Fatal(err)
	}
	if attempts != 1 {
		t.Fatalf("%d attempt rows left, want 1", attempts)
	}
}

// TestMigrateTwice: opening an existing database applies nothing again.
func TestMigrateTwice(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "f.db")
	for range 2 {
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n, v int
	if err := db.QueryRow("SELECT COUNT(*), MAX(version) FROM schema_migrations").Scan(&n, &v); err != nil {
		t.Fatal(err)
	}
	ms, err := migrate.Load(migrationFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	if last := ms[len(ms)-1].Version; n != len(ms) || v != last {
		t.Fatalf("schema_migrations: %d rows, version %d; want %d rows, version %d", n, v, len(ms), last)
	}
	if _, err := Open(ctx, ""); err == nil {
		t.Fatal("Open(\"\") succeeded")
	}
}

// TestSingleRequestFailureRerunsBatch: single-statement requests run
// without savepoints; when one fails, the batch is rolled back and run again
// with savepoints, so the others still commit and the failing one alone
// gets its error.
func TestSingleRequestFailureRerunsBatch(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "f.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hold, held := make(chan struct{}), make(chan struct{})
	var unhold sync.Once
	defer unhold.Do(func() { close(hold) })
	go s.write(ctx, func(*wtx) error { close(held); <-hold; return nil })
	<-held

	results := make(chan error, 3)
	for _, id := range []string{"x1", "x2"} {
		queued := len(s.reqs) + 1
		go func() {
			_, err := s.Ingest(ctx, store.NewEvent{Source: "s", EventID: id})
			results <- err
		}()
		waitQueued(t, s, queued)
	}
	var runs int
	bad := make(chan error, 1)
	go func() {
		bad <- s.writeSingle(ctx, func(tx *wtx) error {
			runs++
			_, err := tx.tx.Exec("INSERT INTO no_such_table VALUES (1)")
			return err
		})
	}()
	waitQueued(t, s, 3)
	unhold.Do(func() { close(hold) })
	if err := <-bad; err == nil {
		t.Fatal("the failing single request succeeded")
	}
	for range 2 {
		if err := <-results; err != nil {
			t.Errorf("an ingest in the same batch failed: %v", err)
		}
	}
	if runs != 2 {
		t.Errorf("the failing request ran %d times, want 2 (fast path, then strict re-run)", runs)
	}
	events, _, err := s.ListEvents(ctx, store.Filter{})
	if err != nil || len(events) != 2 {
		t.Errorf("stored %d events (%v), want 2", len(events), err)
	}
}
