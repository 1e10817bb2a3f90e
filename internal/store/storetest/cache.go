package storetest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fender-dev/fender/internal/store"
)

func cacheEntry(primary, variant string, size int, at time.Time) store.CacheEntry {
	return store.CacheEntry{
		Primary: primary, Variant: variant, Upstream: "up", StoredAt: at,
		Response: store.StoredResponse{Status: 200, Header: map[string][]string{"Content-Type": {"text/plain"}},
			Body: bytes.Repeat([]byte{'x'}, size)},
	}
}

func cacheKeys(t *testing.T, s store.Store, now time.Time, primaries ...string) string {
	t.Helper()
	var have []string
	for _, p := range primaries {
		es, err := s.CacheGet(context.Background(), p, now)
		if err != nil {
			t.Fatalf("CacheGet(%s): %v", p, err)
		}
		for _, e := range es {
			have = append(have, e.Primary+"|"+e.Variant)
		}
	}
	return strings.Join(have, ",")
}

func cachePut(t *testing.T, s store.Store, e store.CacheEntry, max int64) {
	t.Helper()
	if err := s.CachePut(context.Background(), e, max); err != nil {
		t.Fatalf("CachePut(%s|%s): %v", e.Primary, e.Variant, err)
	}
}

func testCachePutGet(t *testing.T, s store.Store) {
	ctx := context.Background()
	if es, err := s.CacheGet(ctx, "up GET /none", t0); err != nil || len(es) != 0 {
		t.Fatalf("CacheGet(miss) = %v, %v", es, err)
	}
	gz := store.CacheEntry{Primary: "up GET /a?x=1", Variant: "gzip", Upstream: "up", Vary: []string{"Accept-Encoding"},
		Response: store.StoredResponse{Status: 200, Header: map[string][]string{"Content-Encoding": {"gzip"}, "Vary": {"Accept-Encoding"}},
			Body: []byte("gz-body")}, StoredAt: t0}
	plain := gz
	plain.Variant, plain.Response.Body, plain.Response.Header = "", []byte("plain"), map[string][]string{"Vary": {"Accept-Encoding"}}
	cachePut(t, s, gz, 0)
	cachePut(t, s, plain, 0)
	cachePut(t, s, store.CacheEntry{Primary: "up GET /b", Upstream: "up", Response: store.StoredResponse{Status: 204}, StoredAt: t0}, 0)

	es, err := s.CacheGet(ctx, gz.Primary, t0.Add(time.Minute))
	if err != nil || len(es) != 2 {
		t.Fatalf("CacheGet = %+v, %v; want 2 variants", es, err)
	}
	if es[0].Variant != "" || es[1].Variant != "gzip" {
		t.Fatalf("variants %q, %q; want sorted \"\", gzip", es[0].Variant, es[1].Variant)
	}
	g := es[1]
	if g.Primary != gz.Primary || g.Upstream != "up" || strings.Join(g.Vary, ",") != "Accept-Encoding" || g.Response.Status != 200 ||
		string(g.Response.Body) != "gz-body" || g.Response.Header["Content-Encoding"][0] != "gzip" || !g.StoredAt.Equal(t0) {
		t.Errorf("gzip variant = %+v", g)
	}
	if b, err := s.CacheGet(ctx, "up GET /b", t0); err != nil || len(b) != 1 || b[0].Response.Status != 204 || len(b[0].Response.Body) != 0 || b[0].Vary != nil {
		t.Errorf("CacheGet(/b) = %+v, %v", b, err)
	}

	// Upsert replaces the variant.
	gz.Response.Body, gz.StoredAt = []byte("gz-body-2"), t0.Add(time.Hour)
	cachePut(t, s, gz, 0)
	es, err = s.CacheGet(ctx, gz.Primary, t0.Add(time.Hour))
	if err != nil || len(es) != 2 || string(es[1].Response.Body) != "gz-body-2" || !es[1].StoredAt.Equal(t0.Add(time.Hour)) || string(es[0].Response.Body) != "plain" {
		t.Fatalf("after upsert: %+v, %v", es, err)
	}

	// Delete takes every variant.
	if err := s.CacheDelete(ctx, gz.Primary); err != nil {
		t.Fatalf("CacheDelete: %v", err)
	}
	if got := cacheKeys(t, s, t0, gz.Primary, "up GET /b"); got != "up GET /b|" {
		t.Fatalf("after delete: %s", got)
	}
	if err := s.CachePut(ctx, store.CacheEntry{Primary: "x"}, 0); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("CachePut(no upstream) err = %v, want ErrInvalid", err)
	}
}

func testCacheEviction(t *testing.T, s store.Store) {
	const max = 300
	cachePut(t, s, cacheEntry("A", "", 100, t0), max)
	cachePut(t, s, cacheEntry("B", "", 100, t0.Add(1*time.Second)), max)
	cachePut(t, s, cacheEntry("C", "", 100, t0.Add(2*time.Second)), max)
	// Another upstream's entries count apart.
	other := cacheEntry("O", "", 250, t0)
	other.Upstream = "other"
	cachePut(t, s, other, max)
	// A is used again: B is now the least recently used.
	if got := cacheKeys(t, s, t0.Add(3*time.Second), "A"); got != "A|" {
		t.Fatalf("A: %s", got)
	}
	cachePut(t, s, cacheEntry("D", "", 100, t0.Add(4*time.Second)), max)
	if got := cacheKeys(t, s, t0.Add(5*time.Second), "A", "B", "C", "D", "O"); got != "A|,C|,D|,O|" {
		t.Fatalf("after evicting for D: %s, want A C D O", got)
	}
	// A big entry pushes out several (LRU order: C, then A, then D).
	cachePut(t, s, cacheEntry("E", "", 250, t0.Add(6*time.Second)), max)
	if got := cacheKeys(t, s, t0.Add(7*time.Second), "A", "B", "C", "D", "E"); got != "E|" {
		t.Fatalf("after E: %s, want only E", got)
	}
	// An entry larger than the whole budget is not stored and evicts nothing.
	cachePut(t, s, cacheEntry("F", "", max+1, t0.Add(8*time.Second)), max)
	if got := cacheKeys(t, s, t0.Add(9*time.Second), "E", "F"); got != "E|" {
		t.Fatalf("after F: %s, want E", got)
	}
}
