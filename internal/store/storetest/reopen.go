package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/fender-dev/fender/internal/store"
)

// Reopen checks that cached responses, jobs and idempotency records
// survive closing the store: open must return a store on the same
// database (file, schema) each time it is called. Drivers call it from a
// test of their own.
func Reopen(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	s := open(t)
	e := store.CacheEntry{Primary: "up GET /a", Variant: "br", Upstream: "up", Vary: []string{"Accept-Encoding"},
		Response: store.StoredResponse{Status: 200, Header: map[string][]string{"Etag": {`"v1"`}}, Body: []byte("body")}, StoredAt: t0}
	cachePut(t, s, e, 1<<20)
	cachePut(t, s, cacheEntry("up GET /b", "", 10, t0.Add(time.Second)), 1<<20)
	// The touch of /a is made durable by Close at the latest.
	if got := cacheKeys(t, s, t0.Add(time.Hour), "up GET /a"); got != "up GET /a|br" {
		t.Fatalf("before reopen: %s", got)
	}
	id := enqueue(t, s, store.NewJob{Body: []byte("payload")})
	begin(t, s, "k", "fp", t0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t)
	defer s.Close()
	// /a was used (+1h) after /b was stored (+1s): a budget of 8 bytes keeps
	// /a and the new /c, and evicts /b. Were the touch lost, /a would go.
	cachePut(t, s, cacheEntry("up GET /c", "", 4, t0.Add(30*time.Minute)), 8)
	if got := cacheKeys(t, s, t0.Add(2*time.Hour), "up GET /a", "up GET /b", "up GET /c"); got != "up GET /a|br,up GET /c|" {
		t.Fatalf("after reopen and eviction: %s, want /a and /c", got)
	}
	es, err := s.CacheGet(ctx, e.Primary, t0.Add(2*time.Hour))
	if err != nil || len(es) != 1 || string(es[0].Response.Body) != "body" || es[0].Response.Header["Etag"][0] != `"v1"` ||
		es[0].Variant != "br" || !es[0].StoredAt.Equal(t0) || es[0].Vary[0] != "Accept-Encoding" {
		t.Fatalf("CacheGet after reopen = %+v, %v", es, err)
	}
	if j, _, err := s.GetJob(ctx, id); err != nil || string(j.Body) != "payload" {
		t.Fatalf("GetJob after reopen = %+v, %v", j, err)
	}
	if rec, ok := begin(t, s, "k", "fp", t0.Add(time.Second)); ok || rec.State != store.IdemInFlight {
		t.Fatalf("idempotency record after reopen = %+v, %v", rec, ok)
	}
}
