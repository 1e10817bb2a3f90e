package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fender-dev/fender/internal/store"
)

// T0 is the suite's reference time; stores keep microseconds.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC)

// Exercise runs the conformance suite. open must return a new, empty store
// each time it is called; Exercise closes it (closing twice must be safe,
// so open may also register a Close cleanup).
func Exercise(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"IngestAndGet", testIngestAndGet},
		{"IngestInvalid", testIngestInvalid},
		{"IngestConcurrentDuplicates", testIngestConcurrentDuplicates},
		{"IngestManyKeysConcurrently", testIngestManyKeys},
		{"IngestSameEventIDOtherSource", testIngestOtherSource},
		{"IngestCanceled", testIngestCanceled},
		{"ClaimOrderAndFinish", testClaimAndFinish},
		{"ClaimSources", testClaimSources},
		{"ClaimersNeverShare", testClaimersNeverShare},
		{"LeaseExpiry", testLeaseExpiry},
		{"Release", testRelease},
		{"Schedule", testSchedule},
		{"Dead", testDead},
		{"Replay", testReplay},
		{"ReplayMatching", testReplayMatching},
		{"Purge", testPurge},
		{"ListPagination", testListPagination},
		{"QueueDepth", testQueueDepth},
		{"IdempotencyConcurrentBegin", testIdemConcurrentBegin},
		{"IdempotencyLifecycle", testIdemLifecycle},
		{"IdempotencyTakeover", testIdemTakeover},
		{"IdempotencyRelease", testIdemRelease},
		{"JobEnqueueAndGet", testJobEnqueueAndGet},
		{"JobClaimAndFinish", testJobClaimAndFinish},
		{"JobClaimKinds", testJobClaimKinds},
		{"JobClaimersNeverShare", testJobClaimersNeverShare},
		{"JobDeferAndRelease", testJobDeferAndRelease},
		{"JobCallback", testJobCallback},
		{"JobReplay", testJobReplay},
		{"JobListPagination", testJobListPagination},
		{"JobPurge", testJobPurge},
		{"CachePutGet", testCachePutGet},
		{"CacheEviction", testCacheEviction},
		{"Close", testClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s)
		})
	}
}

func ingest(t *testing.T, s store.Store, e store.NewEvent) string {
	t.Helper()
	if e.Source == "" {
		e.Source = "src"
	}
	if e.EventID == "" {
		e.EventID = store.NewID()
	}
	if e.ReceivedAt.IsZero() {
		e.ReceivedAt = t0
	}
	res, err := s.Ingest(context.Background(), e)
	if err != nil {
		t.Fatalf("Ingest(%s/%s): %v", e.Source, e.EventID, err)
	}
	if res.Duplicate {
		t.Fatalf("Ingest(%s/%s): unexpected duplicate", e.Source, e.EventID)
	}
	return res.ID
}

func get(t *testing.T, s store.Store, id string) (store.Event, []store.Attempt) {
	t.Helper()
	e, as, err := s.GetEvent(context.Background(), id)
	if err != nil {
		t.Fatalf("GetEvent(%s): %v", id, err)
	}
	return e, as
}

func claim(t *testing.T, s store.Store, sources []string, owner string, limit int, now time.Time) []store.Event {
	t.Helper()
	es, err := s.Claim(context.Background(), sources, owner, limit, time.Minute, now)
	if err != nil {
		t.Fatalf("Claim(%s): %v", owner, err)
	}
	return es
}

func finish(t *testing.T, s store.Store, id, owner string, out store.Outcome, now time.Time) {
	t.Helper()
	a := store.Attempt{StartedAt: now, Duration: 1500 * time.Microsecond, Status: 200}
	if err := s.Finish(context.Background(), id, owner, a, out, now); err != nil {
		t.Fatalf("Finish(%s, %s): %v", id, owner, err)
	}
}

func eventID(e store.Event) string { return e.ID }

func ids(es []store.Event) []string { return idsOf(es, eventID) }

func wantIDs(t *testing.T, what string, got []store.Event, want ...string) {
	t.Helper()
	wantIDsOf(t, what, got, eventID, want...)
}

func wantStatus(t *testing.T, s store.Store, id, status string) store.Event {
	t.Helper()
	e, _ := get(t, s, id)
	if e.Status != status {
		t.Fatalf("event %s: status %q, want %q", id, e.Status, status)
	}
	return e
}

func testIngestAndGet(t *testing.T, s store.Store) {
	ctx := context.Background()
	ne := store.NewEvent{
		Source: "stripe", EventID: "evt_1", ResourceKey: "ch_1", ContentType: "application/json",
		Headers: map[string]string{"Stripe-Signature": "t=1,v1=x", "User-Agent": "Stripe/1.0"},
		Body:    []byte(`{"id":"evt_1"}`), ReceivedAt: t0, Recovered: true,
	}
	res, err := s.Ingest(ctx, ne)
	if err != nil || res.Duplicate || res.ID == "" {
		t.Fatalf("Ingest = %+v, %v", res, err)
	}
	e, as := get(t, s, res.ID)
	if len(as) != 0 {
		t.Errorf("attempts = %v, want none", as)
	}
	if e.ID != res.ID || e.Source != "stripe" || e.EventID != "evt_1" || e.ResourceKey != "ch_1" ||
		e.ContentType != "application/json" || !bytes.Equal(e.Body, ne.Body) || !e.Recovered ||
		e.Status != store.StatusPending || e.Attempts != 0 || e.LastError != "" || e.DeliveredAt != nil || e.Seq <= 0 {
		t.Errorf("GetEvent = %+v", e)
	}
	if !e.ReceivedAt.Equal(t0) || !e.NextAt.Equal(t0) {
		t.Errorf("ReceivedAt %v NextAt %v, want both %v", e.ReceivedAt, e.NextAt, t0)
	}
	if len(e.Headers) != 2 || e.Headers["User-Agent"] != "Stripe/1.0" {
		t.Errorf("Headers = %v", e.Headers)
	}

	// A second event arrives later and sorts after the first.
	id2 := ingest(t, s, store.NewEvent{Source: "stripe", EventID: "evt_2"})
	e2, _ := get(t, s, id2)
	if e2.Seq <= e.Seq || id2 <= res.ID {
		t.Errorf("second event seq %d id %s not after seq %d id %s", e2.Seq, id2, e.Seq, res.ID)
	}
	if len(e2.Body) != 0 || len(e2.Headers) != 0 {
		t.Errorf("empty event came back with body %q headers %v", e2.Body, e2.Headers)
	}

	// Same again: duplicate, same id, nothing changed.
	ne.Body = []byte("other")
	dup, err := s.Ingest(ctx, ne)
	if err != nil || !dup.Duplicate || dup.ID != res.ID {
		t.Fatalf("duplicate Ingest = %+v, %v; want id %s duplicate", dup, err, res.ID)
	}
	if e, _ := get(t, s, res.ID); string(e.Body) != `{"id":"evt_1"}` {
		t.Errorf("duplicate overwrote body: %q", e.Body)
	}

	if _, _, err := s.GetEvent(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetEvent(unknown) err = %v, want ErrNotFound", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func testIngestInvalid(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, e := range []store.NewEvent{{EventID: "x"}, {Source: "x"}} {
		if _, err := s.Ingest(ctx, e); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Ingest(%+v) err = %v, want ErrInvalid", e, err)
		}
	}
	if _, _, err := s.ListEvents(ctx, store.Filter{Status: "bogus"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("ListEvents(bad status) err = %v, want ErrInvalid", err)
	}
	if _, err := s.ReplayMatching(ctx, store.Filter{Status: "bogus"}, t0); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("ReplayMatching(bad status) err = %v, want ErrInvalid", err)
	}
	id := ingest(t, s, store.NewEvent{})
	claim(t, s, nil, "w", 1, t0)
	if err := s.Finish(ctx, id, "w", store.Attempt{}, store.Outcome{Status: "bogus"}, t0); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Finish(bad status) err = %v, want ErrInvalid", err)
	}
}

func testIngestConcurrentDuplicates(t *testing.T, s store.Store) {
	const n = 100
	var wg sync.WaitGroup
	results := make([]store.IngestResult, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			results[i], errs[i] = s.Ingest(context.Background(), store.NewEvent{
				Source: "gh", EventID: "delivery-1", Body: []byte("x"), ReceivedAt: t0,
			})
		})
	}
	close(start)
	wg.Wait()
	fresh := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Ingest #%d: %v", i, errs[i])
		}
		if results[i].ID != results[0].ID {
			t.Fatalf("Ingest #%d id %s, #0 id %s", i, results[i].ID, results[0].ID)
		}
		if !results[i].Duplicate {
			fresh++
		}
	}
	if fresh != 1 {
		t.Fatalf("%d non-duplicate results, want 1", fresh)
	}
	es, _, err := s.ListEvents(context.Background(), store.Filter{Source: "gh"})
	if err != nil || len(es) != 1 {
		t.Fatalf("ListEvents = %d events, %v; want 1", len(es), err)
	}
}

func testIngestManyKeys(t *testing.T, s store.Store) {
	const callers, keys = 200, 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	byKey := map[string]map[string]int{} // key -> id -> non-duplicate count
	for i := range callers {
		wg.Go(func() {
			key := fmt.Sprintf("k%d", i%keys)
			res, err := s.Ingest(context.Background(), store.NewEvent{Source: "s", EventID: key, ReceivedAt: t0})
			if err != nil {
				t.Errorf("Ingest: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if byKey[key] == nil {
				byKey[key] = map[string]int{}
			}
			if res.Duplicate {
				byKey[key][res.ID] += 0
			} else {
				byKey[key][res.ID]++
			}
		})
	}
	wg.Wait()
	for key, m := range byKey {
		if len(m) != 1 {
			t.Errorf("key %s got ids %v, want one", key, m)
		}
		for id, fresh := range m {
			if fresh != 1 {
				t.Errorf("key %s id %s: %d non-duplicate results, want 1", key, id, fresh)
			}
		}
	}
	depth, err := s.QueueDepth(context.Background())
	if err != nil || depth["s"][store.StatusPending] != keys {
		t.Fatalf("QueueDepth = %v, %v; want %d pending", depth, err, keys)
	}
}

func testIngestOtherSource(t *testing.T, s store.Store) {
	a := ingest(t, s, store.NewEvent{Source: "a", EventID: "same"})
	b := ingest(t, s, store.NewEvent{Source: "b", EventID: "same"})
	if a == b {
		t.Fatalf("two sources, one id %s", a)
	}
}

func testIngestCanceled(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Ingest(ctx, store.NewEvent{Source: "s", EventID: "e"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Ingest(canceled) err = %v, want context.Canceled", err)
	}
}

func testClaimAndFinish(t *testing.T, s store.Store) {
	ctx := context.Background()
	e1 := ingest(t, s, store.NewEvent{ReceivedAt: t0})
	e3 := ingest(t, s, store.NewEvent{ReceivedAt: t0.Add(2 * time.Second)})
	e2 := ingest(t, s, store.NewEvent{ReceivedAt: t0.Add(time.Second)})
	now := t0.Add(10 * time.Second)

	got := claim(t, s, nil, "w1", 2, now)
	wantIDs(t, "first claim", got, e1, e2)
	if got[0].Status != store.StatusPending || got[0].Source != "src" {
		t.Errorf("claimed event = %+v", got[0])
	}
	wantIDs(t, "second claim", claim(t, s, nil, "w2", 5, now), e3)
	wantIDs(t, "third claim", claim(t, s, nil, "w2", 5, now))

	// Delivered.
	long := strings.Repeat("é", store.MaxExcerpt) // 2 bytes each
	a := store.Attempt{StartedAt: now, Duration: 1234 * time.Microsecond, Status: 200, ResponseExcerpt: long}
	if err := s.Finish(ctx, e1, "w1", a, store.Outcome{Status: store.StatusDelivered}, now.Add(time.Second)); err != nil {
		t.Fatalf("Finish: %v", err)
	}
	ev, as := get(t, s, e1)
	if ev.Status != store.StatusDelivered || ev.Attempts != 1 || ev.DeliveredAt == nil ||
		!ev.DeliveredAt.Equal(now.Add(time.Second)) || ev.LastError != "" {
		t.Errorf("delivered event = %+v", ev)
	}
	if len(as) != 1 || as[0].N != 1 || as[0].EventID != e1 || as[0].Status != 200 ||
		as[0].Duration != 1234*time.Microsecond || !as[0].StartedAt.Equal(now) {
		t.Fatalf("attempts = %+v", as)
	}
	if n := len(as[0].ResponseExcerpt); n > store.MaxExcerpt || n < store.MaxExcerpt-1 {
		t.Errorf("excerpt kept %d bytes, want %d", n, store.MaxExcerpt)
	}
	// The lease is gone with the finish.
	if err := s.Finish(ctx, e1, "w1", a, store.Outcome{Status: store.StatusDelivered}, now); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("second Finish err = %v, want ErrLeaseLost", err)
	}

	// Retry later.
	fail := store.Attempt{StartedAt: now, Status: 503, Category: "server_error", Error: "503 Service Unavailable"}
	retryAt := now.Add(5 * time.Second)
	if err := s.Finish(ctx, e2, "w1", fail, store.Outcome{Status: store.StatusPending, NextAt: retryAt, Error: "503"}, now); err != nil {
		t.Fatalf("Finish(retry): %v", err)
	}
	ev, as = get(t, s, e2)
	if ev.Status != store.StatusPending || ev.Attempts != 1 || !ev.NextAt.Equal(retryAt) || ev.LastError != "503" || ev.DeliveredAt != nil {
		t.Errorf("retried event = %+v", ev)
	}
	if len(as) != 1 || as[0].Category != "server_error" || as[0].Error != "503 Service Unavailable" || as[0].Status != 503 {
		t.Errorf("attempts = %+v", as)
	}
	wantIDs(t, "claim before retry", claim(t, s, nil, "w1", 5, retryAt.Add(-time.Microsecond)))
	got = claim(t, s, nil, "w1", 5, retryAt)
	wantIDs(t, "claim at retry", got, e2)
	if got[0].Attempts != 1 {
		t.Errorf("reclaimed attempts = %d", got[0].Attempts)
	}
	finish(t, s, e2, "w1", store.Outcome{Status: store.StatusDelivered}, retryAt)
	if _, as := get(t, s, e2); len(as) != 2 || as[1].N != 2 {
		t.Errorf("attempts after second finish = %+v", as)
	}

	// Wrong owner, unknown event.
	if err := s.Finish(ctx, e3, "w1", a, store.Outcome{Status: store.StatusDelivered}, now); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("Finish by non-owner err = %v, want ErrLeaseLost", err)
	}
	if err := s.Finish(ctx, "missing", "w1", a, store.Outcome{Status: store.StatusDelivered}, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Finish(unknown) err = %v, want ErrNotFound", err)
	}
	wantStatus(t, s, e3, store.StatusPending)
}

func testClaimSources(t *testing.T, s store.Store) {
	a1 := ingest(t, s, store.NewEvent{Source: "a"})
	b1 := ingest(t, s, store.NewEvent{Source: "b", ReceivedAt: t0.Add(time.Second)})
	c1 := ingest(t, s, store.NewEvent{Source: "c", ReceivedAt: t0.Add(2 * time.Second)})
	now := t0.Add(time.Hour)
	wantIDs(t, "claim b", claim(t, s, []string{"b"}, "w", 10, now), b1)
	wantIDs(t, "claim a,c", claim(t, s, []string{"c", "a"}, "w", 10, now), a1, c1)
}

func testClaimersNeverShare(t *testing.T, s store.Store) {
	const events, claimers = 300, 4
	for i := range events {
		ingest(t, s, store.NewEvent{EventID: fmt.Sprintf("e%d", i), ReceivedAt: t0.Add(time.Duration(i) * time.Millisecond)})
	}
	now := t0.Add(time.Hour)
	n := claimConcurrently(t, claimers, "event", "Claim", "Finish",
		func(ctx context.Context, owner string) ([]string, error) {
			es, err := s.Claim(ctx, nil, owner, 7, time.Minute, now)
			return ids(es), err
		},
		func(ctx context.Context, id, owner string) error {
			return s.Finish(ctx, id, owner, store.Attempt{StartedAt: now}, store.Outcome{Status: store.StatusDelivered}, now)
		})
	if n != events {
		t.Fatalf("claimed %d distinct events, want %d", n, events)
	}
	depth, err := s.QueueDepth(context.Background())
	if err != nil || depth["src"][store.StatusDelivered] != events || depth["src"][store.StatusPending] != 0 {
		t.Fatalf("QueueDepth = %v, %v", depth, err)
	}
}

func testLeaseExpiry(t *testing.T, s store.Store) {
	ctx := context.Background()
	id := ingest(t, s, store.NewEvent{})
	if es, err := s.Claim(ctx, nil, "a", 1, 30*time.Second, t0); err != nil || len(es) != 1 {
		t.Fatalf("Claim(a) = %v, %v", ids(es), err)
	}
	if es, err := s.Claim(ctx, nil, "b", 1, 30*time.Second, t0.Add(29*time.Second)); err != nil || len(es) != 0 {
		t.Fatalf("Claim(b) during lease = %v, %v", ids(es), err)
	}
	later := t0.Add(31 * time.Second)
	es, err := s.Claim(ctx, nil, "b", 1, 30*time.Second, later)
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "claim after expiry", es, id)
	if err := s.Finish(ctx, id, "a", store.Attempt{}, store.Outcome{Status: store.StatusDelivered}, later); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("Finish by expired owner err = %v, want ErrLeaseLost", err)
	}
	// A lease that ran out is lost even if nobody took the event.
	if err := s.Finish(ctx, id, "b", store.Attempt{}, store.Outcome{Status: store.StatusDelivered}, later.Add(30*time.Second)); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("Finish after own lease expired err = %v, want ErrLeaseLost", err)
	}
	finish(t, s, id, "b", store.Outcome{Status: store.StatusDelivered}, later.Add(time.Second))
	if e, as := get(t, s, id); e.Attempts != 1 || len(as) != 1 {
		t.Fatalf("attempts %d / %d, want 1 (lost finishes record nothing)", e.Attempts, len(as))
	}
}

func testRelease(t *testing.T, s store.Store) {
	ctx := context.Background()
	e1 := ingest(t, s, store.NewEvent{})
	e2 := ingest(t, s, store.NewEvent{ReceivedAt: t0.Add(time.Second)})
	e3 := ingest(t, s, store.NewEvent{ReceivedAt: t0.Add(2 * time.Second)})
	now := t0.Add(time.Minute)
	wantIDs(t, "claim a", claim(t, s, nil, "a", 2, now), e1, e2)
	wantIDs(t, "claim c", claim(t, s, nil, "c", 1, now), e3)
	if err := s.Release(ctx, "a"); err != nil {
		t.Fatalf("Release: %v", err)
	}
	wantIDs(t, "claim b after release", claim(t, s, nil, "b", 5, now), e1, e2)
	if err := s.Finish(ctx, e1, "a", store.Attempt{}, store.Outcome{Status: store.StatusDelivered}, now); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("Finish by released owner err = %v, want ErrLeaseLost", err)
	}
	if e, _ := get(t, s, e1); e.Attempts != 0 {
		t.Errorf("release recorded an attempt: %d", e.Attempts)
	}
	if err := s.Release(ctx, "nobody"); err != nil {
		t.Fatalf("Release(nobody): %v", err)
	}
}

func testSchedule(t *testing.T, s store.Store) {
	id := ingest(t, s, store.NewEvent{ReceivedAt: t0.Add(time.Hour)})
	wantIDs(t, "claim before due", claim(t, s, nil, "w", 5, t0))
	wantIDs(t, "claim just before due", claim(t, s, nil, "w", 5, t0.Add(time.Hour-time.Microsecond)))
	wantIDs(t, "claim when due", claim(t, s, nil, "w", 5, t0.Add(time.Hour)), id)

	// Finish pending re-schedules; zero NextAt means now.
	now := t0.Add(time.Hour)
	finish(t, s, id, "w", store.Outcome{Status: store.StatusPending, Error: "boom"}, now)
	wantIDs(t, "claim immediately due", claim(t, s, nil, "w", 5, now), id)
}

func testDead(t *testing.T, s store.Store) {
	id := ingest(t, s, store.NewEvent{})
	claim(t, s, nil, "w", 1, t0)
	finish(t, s, id, "w", store.Outcome{Status: store.StatusDead, Error: "410 Gone"}, t0)
	e := wantStatus(t, s, id, store.StatusDead)
	if e.LastError != "410 Gone" || e.Attempts != 1 || e.DeliveredAt != nil {
		t.Errorf("dead event = %+v", e)
	}
	wantIDs(t, "claim dead", claim(t, s, nil, "w", 5, t0.Add(24*time.Hour)))

	id2 := ingest(t, s, store.NewEvent{})
	claim(t, s, nil, "w", 1, t0)
	finish(t, s, id2, "w", store.Outcome{Status: store.StatusSuperseded}, t0)
	wantStatus(t, s, id2, store.StatusSuperseded)
	wantIDs(t, "claim superseded", claim(t, s, nil, "w", 5, t0.Add(24*time.Hour)))
}

func testReplay(t *testing.T, s store.Store) {
	ctx := context.Background()
	id := ingest(t, s, store.NewEvent{})
	claim(t, s, nil, "w", 1, t0)
	finish(t, s, id, "w", store.Outcome{Status: store.StatusDead, Error: "gone"}, t0)

	later := t0.Add(time.Hour)
	if err := s.Replay(ctx, id, later); err != nil {
		t.Fatalf("Replay: %v", err)
	}
	e := wantStatus(t, s, id, store.StatusPending)
	if !e.NextAt.Equal(later) || e.Attempts != 1 {
		t.Errorf("replayed event = %+v", e)
	}
	wantIDs(t, "claim before replay time", claim(t, s, nil, "w", 5, later.Add(-time.Second)))
	wantIDs(t, "claim replayed", claim(t, s, nil, "w", 5, later), id)
	finish(t, s, id, "w", store.Outcome{Status: store.StatusDelivered}, later)
	if e, as := get(t, s, id); e.Attempts != 2 || len(as) != 2 || e.DeliveredAt == nil {
		t.Errorf("after replay delivery: %+v, %d attempts", e, len(as))
	}
	// Delivered events replay too, and lose DeliveredAt.
	if err := s.Replay(ctx, id, later); err != nil {
		t.Fatalf("Replay(delivered): %v", err)
	}
	if e := wantStatus(t, s, id, store.StatusPending); e.DeliveredAt != nil {
		t.Errorf("replayed event keeps DeliveredAt %v", e.DeliveredAt)
	}
	// Pending: no change.
	if err := s.Replay(ctx, id, later.Add(time.Hour)); err != nil {
		t.Fatalf("Replay(pending): %v", err)
	}
	if e, _ := get(t, s, id); !e.NextAt.Equal(later) {
		t.Errorf("Replay(pending) moved NextAt to %v", e.NextAt)
	}
	if err := s.Replay(ctx, "missing", later); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Replay(unknown) err = %v, want ErrNotFound", err)
	}
}

// farFuture is when finished leaves its pending events due: never, for
// the tests that use it.
var farFuture = t0.AddDate(100, 0, 0)

// finished ingests an event and finishes one attempt with status at
// received; a pending event is rescheduled to farFuture.
func finished(t *testing.T, s store.Store, source, status string, received time.Time) string {
	t.Helper()
	id := ingest(t, s, store.NewEvent{Source: source, ReceivedAt: received})
	got := claim(t, s, []string{source}, "setup", 1, received)
	if len(got) != 1 || got[0].ID != id {
		t.Fatalf("setup claim got %v, want %s", ids(got), id)
	}
	finish(t, s, id, "setup", store.Outcome{Status: status, NextAt: farFuture, Error: "x"}, received)
	return id
}

func testReplayMatching(t *testing.T, s store.Store) {
	ctx := context.Background()
	aDead1 := finished(t, s, "a", store.StatusDead, t0)
	aDead2 := finished(t, s, "a", store.StatusDead, t0.Add(time.Hour))
	aDel := finished(t, s, "a", store.StatusDelivered, t0)
	aPend := finished(t, s, "a", store.StatusPending, t0)
	bDead := finished(t, s, "b", store.StatusDead, t0)

	now := t0.Add(2 * time.Hour)
	n, err := s.ReplayMatching(ctx, store.Filter{Source: "a", Status: store.StatusDead, Until: t0.Add(time.Minute)}, now)
	if err != nil || n != 1 {
		t.Fatalf("ReplayMatching(a, dead, until) = %d, %v; want 1", n, err)
	}
	wantStatus(t, s, aDead1, store.StatusPending)
	wantStatus(t, s, aDead2, store.StatusDead)
	wantStatus(t, s, bDead, store.StatusDead)

	n, err = s.ReplayMatching(ctx, store.Filter{Source: "a", Since: t0.Add(time.Minute)}, now)
	if err != nil || n != 1 {
		t.Fatalf("ReplayMatching(a, since) = %d, %v; want 1", n, err)
	}
	wantStatus(t, s, aDead2, store.StatusPending)
	wantStatus(t, s, aDel, store.StatusDelivered)

	// Everything not pending; pending ones keep their NextAt.
	n, err = s.ReplayMatching(ctx, store.Filter{}, now.Add(time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("ReplayMatching(all) = %d, %v; want 2", n, err)
	}
	if e := wantStatus(t, s, aDel, store.StatusPending); !e.NextAt.Equal(now.Add(time.Hour)) {
		t.Errorf("NextAt = %v", e.NextAt)
	}
	if e := wantStatus(t, s, aPend, store.StatusPending); !e.NextAt.Equal(farFuture) {
		t.Errorf("pending event NextAt moved to %v", e.NextAt)
	}
	if e := wantStatus(t, s, aDead1, store.StatusPending); !e.NextAt.Equal(now) {
		t.Errorf("NextAt = %v", e.NextAt)
	}
	wantStatus(t, s, bDead, store.StatusPending)
	if n, err := s.ReplayMatching(ctx, store.Filter{Status: store.StatusPending}, now); err != nil || n != 0 {
		t.Fatalf("ReplayMatching(pending) = %d, %v; want 0", n, err)
	}
}

func testPurge(t *testing.T, s store.Store) {
	ctx := context.Background()
	cut := t0.Add(24 * time.Hour)
	old := []string{
		finished(t, s, "a", store.StatusDelivered, t0),
		finished(t, s, "a", store.StatusDead, t0.Add(time.Hour)),
		finished(t, s, "b", store.StatusSuperseded, cut.Add(-time.Microsecond)),
	}
	keep := []string{
		finished(t, s, "a", store.StatusPending, t0),
		finished(t, s, "a", store.StatusDelivered, cut),
		finished(t, s, "b", store.StatusDead, cut.Add(time.Hour)),
	}
	n, err := s.Purge(ctx, cut)
	if err != nil || n != len(old) {
		t.Fatalf("Purge = %d, %v; want %d", n, err, len(old))
	}
	for _, id := range old {
		if _, _, err := s.GetEvent(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("purged event %s: err %v, want ErrNotFound", id, err)
		}
	}
	for _, id := range keep {
		if _, as := get(t, s, id); len(as) != 1 {
			t.Errorf("kept event %s lost its attempts: %v", id, as)
		}
	}
	if n, err := s.Purge(ctx, cut); err != nil || n != 0 {
		t.Fatalf("second Purge = %d, %v; want 0", n, err)
	}
}

func testListPagination(t *testing.T, s store.Store) {
	ctx := context.Background()
	type ev struct {
		id, source, status string
		at                 time.Time
	}
	var all []ev
	for i := range 23 {
		src := []string{"a", "b"}[i%2]
		status := store.StatusPending
		if i%3 == 0 {
			status = store.StatusDead
		}
		at := t0.Add(time.Duration(i) * time.Minute)
		all = append(all, ev{finished(t, s, src, status, at), src, status, at})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].id > all[j].id })

	for _, f := range []store.Filter{
		{},
		{Source: "a"},
		{Status: store.StatusDead},
		{Source: "b", Status: store.StatusPending},
		{Since: t0.Add(5 * time.Minute), Until: t0.Add(17 * time.Minute)},
		{Source: "nope"},
	} {
		var want []string
		for _, e := range all {
			if (f.Source == "" || e.source == f.Source) && (f.Status == "" || e.status == f.Status) &&
				(f.Since.IsZero() || !e.at.Before(f.Since)) && (f.Until.IsZero() || e.at.Before(f.Until)) {
				want = append(want, e.id)
			}
		}
		for _, limit := range []int{1, 4, 5, 100} {
			f := f
			f.Limit = limit
			got := pageAll(t, "ListEvents", "events", limit, func() any { return f },
				func(after string) ([]store.Event, string, error) {
					f.After = after
					return s.ListEvents(ctx, f)
				}, eventID, func(e store.Event) []byte { return e.Body })
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("filter %+v limit %d:\n got %v\nwant %v", f, limit, got, want)
			}
		}
	}
	if es, _, err := s.ListEvents(ctx, store.Filter{Limit: 5000}); err != nil || len(es) != 23 {
		t.Fatalf("ListEvents(big limit) = %d, %v", len(es), err)
	}
}

func testQueueDepth(t *testing.T, s store.Store) {
	ctx := context.Background()
	if d, err := s.QueueDepth(ctx); err != nil || len(d) != 0 {
		t.Fatalf("empty QueueDepth = %v, %v", d, err)
	}
	finished(t, s, "a", store.StatusPending, t0)
	finished(t, s, "a", store.StatusPending, t0)
	finished(t, s, "a", store.StatusDead, t0)
	finished(t, s, "b", store.StatusDelivered, t0)
	finished(t, s, "b", store.StatusSuperseded, t0)
	d, err := s.QueueDepth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]int{
		"a": {store.StatusPending: 2, store.StatusDead: 1},
		"b": {store.StatusDelivered: 1, store.StatusSuperseded: 1},
	}
	if fmt.Sprint(d) != fmt.Sprint(want) {
		t.Fatalf("QueueDepth = %v, want %v", d, want)
	}
}

func testClose(t *testing.T, s store.Store) {
	ctx := context.Background()
	id := ingest(t, s, store.NewEvent{})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: err = %v, want ErrClosed", op, err)
		}
	}
	_, err := s.Ingest(ctx, store.NewEvent{Source: "s", EventID: "e"})
	check("Ingest", err)
	_, err = s.Claim(ctx, nil, "w", 1, time.Minute, t0)
	check("Claim", err)
	check("Finish", s.Finish(ctx, id, "w", store.Attempt{}, store.Outcome{Status: store.StatusDelivered}, t0))
	check("Release", s.Release(ctx, "w"))
	_, _, err = s.GetEvent(ctx, id)
	check("GetEvent", err)
	_, _, err = s.ListEvents(ctx, store.Filter{})
	check("ListEvents", err)
	check("Replay", s.Replay(ctx, id, t0))
	_, err = s.ReplayMatching(ctx, store.Filter{}, t0)
	check("ReplayMatching", err)
	_, err = s.Purge(ctx, t0)
	check("Purge", err)
	_, err = s.QueueDepth(ctx)
	check("QueueDepth", err)
	check("Ping", s.Ping(ctx))

	_, err = s.EnqueueJob(ctx, store.NewJob{Kind: store.JobRequest, Upstream: "u", Method: "GET", Path: "/"})
	check("EnqueueJob", err)
	_, err = s.ClaimJobs(ctx, nil, nil, "w", 1, time.Minute, t0)
	check("ClaimJobs", err)
	check("FinishJob", s.FinishJob(ctx, "j", "w", store.JobAttempt{}, store.JobOutcome{Status: store.JobSucceeded}, t0))
	check("DeferJob", s.DeferJob(ctx, "j", "w", t0, "", t0))
	check("ReleaseJobs", s.ReleaseJobs(ctx, "w"))
	_, _, err = s.GetJob(ctx, "j")
	check("GetJob", err)
	_, _, err = s.ListJobs(ctx, store.JobFilter{})
	check("ListJobs", err)
	check("ReplayJob", s.ReplayJob(ctx, "j", t0))
	_, err = s.ReplayJobsMatching(ctx, store.JobFilter{}, t0)
	check("ReplayJobsMatching", err)
	_, err = s.JobQueueDepth(ctx)
	check("JobQueueDepth", err)
	_, _, err = s.BeginIdempotent(ctx, "u", "k", "fp", time.Second, t0)
	check("BeginIdempotent", err)
	check("CompleteIdempotent", s.CompleteIdempotent(ctx, "u", "k", nil, "", t0))
	check("ReleaseIdempotent", s.ReleaseIdempotent(ctx, "u", "k"))
	check("CachePut", s.CachePut(ctx, store.CacheEntry{Primary: "p", Upstream: "u"}, 0))
	_, err = s.CacheGet(ctx, "p", t0)
	check("CacheGet", err)
	check("CacheDelete", s.CacheDelete(ctx, "p"))
}
