package storetest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/fender-dev/fender/internal/store"
)

func begin(t *testing.T, s store.Store, key, fp string, now time.Time) (store.IdemRecord, bool) {
	t.Helper()
	rec, ok, err := s.BeginIdempotent(context.Background(), "up", key, fp, 30*time.Second, now)
	if err != nil {
		t.Fatalf("BeginIdempotent(%s): %v", key, err)
	}
	return rec, ok
}

func testIdemConcurrentBegin(t *testing.T, s store.Store) {
	const n = 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			rec, ok, err := s.BeginIdempotent(context.Background(), "up", "k1", "fp", 30*time.Second, t0)
			if err != nil {
				t.Errorf("BeginIdempotent: %v", err)
				return
			}
			if rec.State != store.IdemInFlight || rec.Fingerprint != "fp" || !rec.LockedUntil.Equal(t0.Add(30*time.Second)) {
				t.Errorf("record = %+v", rec)
			}
			if ok {
				mu.Lock()
				won++
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d of %d concurrent Begins acquired, want 1", won, n)
	}
	// Another upstream, same key: independent.
	if _, ok, err := s.BeginIdempotent(context.Background(), "other", "k1", "fp", time.Second, t0); err != nil || !ok {
		t.Fatalf("Begin(other upstream) = %v, %v; want acquired", ok, err)
	}
}

func testIdemLifecycle(t *testing.T, s store.Store) {
	ctx := context.Background()
	rec, ok := begin(t, s, "k", "fp1", t0)
	if !ok || rec.Upstream != "up" || rec.Key != "k" || rec.State != store.IdemInFlight || rec.Response != nil ||
		!rec.CreatedAt.Equal(t0) || !rec.LockedUntil.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("first Begin = %+v, %v", rec, ok)
	}
	// In flight: a repeat sees the lock (the caller answers 409, or 422 on
	// another fingerprint).
	rec, ok = begin(t, s, "k", "fp2", t0.Add(time.Second))
	if ok || rec.State != store.IdemInFlight || rec.Fingerprint != "fp1" {
		t.Fatalf("Begin while in flight = %+v, %v", rec, ok)
	}

	resp := &store.StoredResponse{Status: 201, Header: map[string][]string{"Content-Type": {"application/json"}, "Set-Cookie": {"a=1", "b=2"}},
		Body: []byte(`{"id":"ord_1"}`)}
	expires := t0.Add(24 * time.Hour)
	if err := s.CompleteIdempotent(ctx, "up", "k", resp, "job-1", expires); err != nil {
		t.Fatalf("CompleteIdempotent: %v", err)
	}
	rec, ok = begin(t, s, "k", "fp1", t0.Add(time.Hour))
	if ok || rec.State != store.IdemDone || rec.Fingerprint != "fp1" || rec.JobID != "job-1" || !rec.ExpiresAt.Equal(expires) ||
		!rec.LockedUntil.IsZero() || !rec.CreatedAt.Equal(t0) {
		t.Fatalf("Begin after done = %+v, %v; want the done record", rec, ok)
	}
	if rec.Response == nil || rec.Response.Status != 201 || !bytes.Equal(rec.Response.Body, resp.Body) ||
		len(rec.Response.Header["Set-Cookie"]) != 2 || rec.Response.Header["Content-Type"][0] != "application/json" {
		t.Fatalf("replayed response = %+v", rec.Response)
	}
	// Release leaves a done record alone.
	if err := s.ReleaseIdempotent(ctx, "up", "k"); err != nil {
		t.Fatal(err)
	}
	if _, ok := begin(t, s, "k", "fp1", t0.Add(2*time.Hour)); ok {
		t.Fatal("Release deleted a done record")
	}
	// Past ExpiresAt: fresh.
	rec, ok = begin(t, s, "k", "fp3", expires)
	if !ok || rec.State != store.IdemInFlight || rec.Fingerprint != "fp3" || rec.Response != nil || rec.JobID != "" || !rec.CreatedAt.Equal(expires) {
		t.Fatalf("Begin past expiry = %+v, %v; want a fresh record", rec, ok)
	}

	// A response too large to keep.
	begin(t, s, "big", "fp", t0)
	if err := s.CompleteIdempotent(ctx, "up", "big", nil, "", expires); err != nil {
		t.Fatal(err)
	}
	if rec, ok := begin(t, s, "big", "fp", t0.Add(time.Minute)); ok || rec.State != store.IdemDone || rec.Response != nil {
		t.Fatalf("Begin after a done without response = %+v, %v", rec, ok)
	}
	if err := s.CompleteIdempotent(ctx, "up", "missing", resp, "", expires); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CompleteIdempotent(unknown) err = %v, want ErrNotFound", err)
	}
	if _, _, err := s.BeginIdempotent(ctx, "", "k", "fp", time.Second, t0); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Begin(empty upstream) err = %v, want ErrInvalid", err)
	}
}

func testIdemTakeover(t *testing.T, s store.Store) {
	begin(t, s, "k", "fp1", t0)
	// The lock holds until t0+30s.
	if _, ok := begin(t, s, "k", "fp1", t0.Add(30*time.Second-time.Microsecond)); ok {
		t.Fatal("acquired a live lock")
	}
	later := t0.Add(30 * time.Second)
	rec, ok := begin(t, s, "k", "fp2", later)
	if !ok || rec.State != store.IdemInFlight || rec.Fingerprint != "fp1" || !rec.LockedUntil.Equal(later) {
		t.Fatalf("takeover = %+v, %v; want acquired with the previous record", rec, ok)
	}
	// The new holder's lock and fingerprint stand.
	rec, ok = begin(t, s, "k", "fp1", later.Add(time.Second))
	if ok || rec.Fingerprint != "fp2" || !rec.LockedUntil.Equal(later.Add(30*time.Second)) || !rec.CreatedAt.Equal(later) {
		t.Fatalf("after takeover = %+v, %v", rec, ok)
	}
}

func testIdemRelease(t *testing.T, s store.Store) {
	ctx := context.Background()
	begin(t, s, "k", "fp", t0)
	if err := s.ReleaseIdempotent(ctx, "up", "k"); err != nil {
		t.Fatalf("ReleaseIdempotent: %v", err)
	}
	if rec, ok := begin(t, s, "k", "fp2", t0.Add(time.Second)); !ok || rec.Fingerprint != "fp2" {
		t.Fatalf("Begin after release = %+v, %v; want acquired", rec, ok)
	}
	if err := s.ReleaseIdempotent(ctx, "up", "nothing"); err != nil {
		t.Fatalf("ReleaseIdempotent(unknown): %v", err)
	}
}
