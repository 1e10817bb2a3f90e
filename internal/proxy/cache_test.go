package proxy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fender-dev/fender/internal/config"
	"github.com/fender-dev/fender/resilience"
)

// flakyAPI answers from body with the given headers until mode changes.
type flakyAPI struct {
	mode  atomic.Value // "ok", "503", "hang"
	calls atomic.Int32
	cc    string
}

func (f *flakyAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	switch f.mode.Load() {
	case "503":
		w.WriteHeader(503)
		return
	case "hang":
		<-r.Context().Done()
		return
	}
	if f.cc != "" {
		w.Header().Set("Cache-Control", f.cc)
	}
	if strings.HasPrefix(r.URL.Path, "/vary") {
		w.Header().Set("Vary", "Accept-Language")
		w.Write([]byte("lang=" + r.Header.Get("Accept-Language")))
		return
	}
	if strings.HasPrefix(r.URL.Path, "/nostore") {
		w.Header().Set("Cache-Control", "no-store")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"path":"` + r.URL.Path + `"}`))
}

func cached(d time.Duration) func(*config.Upstream) {
	return func(u *config.Upstream) {
		u.Cache.StaleIfError = d
		u.Timeout = resilience.Timeouts{Attempt: 100 * time.Millisecond, Total: 300 * time.Millisecond}
	}
}

// waitCached waits for the background cache write of primary to land.
func waitCached(t *testing.T, h *storeHarness, path string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		es, _ := h.st.CacheGet(t.Context(), "api\x00GET\x00"+path, time.Now())
		if len(es) > 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("response to %s was not cached", path)
}

func TestStaleIfError(t *testing.T) {
	api := &flakyAPI{}
	api.mode.Store("ok")
	srv := httptest.NewServer(api)
	defer srv.Close()
	h := newStoreHarness(t, map[string]*config.Upstream{"api": upstreamCfg(srv.URL, cached(time.Hour))}, "")
	fetchedAt := h.clock.Now()
	resp, body := h.do(t, "GET", "/api/items?page=1", nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get(HeaderCache) != "" {
		t.Fatalf("fill: %d %v", resp.StatusCode, resp.Header)
	}
	waitCached(t, h, "items?page=1")
	h.clock.Advance(12 * time.Minute)
	for _, mode := range []string{"503", "hang"} {
		api.mode.Store(mode)
		resp, b := h.do(t, "GET", "/api/items?page=1", nil, nil)
		if resp.StatusCode != 200 || string(b) != string(body) || resp.Header.Get(HeaderCache) != "stale" ||
			resp.Header.Get("Age") != "720" || resp.Header.Get("Last-Modified") != fetchedAt.Format(http.TimeFormat) {
			t.Errorf("%s: %d %q %v", mode, resp.StatusCode, b, resp.Header)
		}
	}
	// Another query string was never cached: the failure passes through.
	api.mode.Store("503")
	if resp, _ := h.do(t, "GET", "/api/items?page=2", nil, nil); resp.StatusCode != 503 {
		t.Errorf("uncached page during outage: %d, want 503", resp.StatusCode)
	}
	// Beyond stale_if_error the failure passes through.
	h.clock.Advance(time.Hour)
	if resp, _ := h.do(t, "GET", "/api/items?page=1", nil, nil); resp.StatusCode != 503 || resp.Header.Get(HeaderCache) != "" {
		t.Errorf("past the stale limit: %d %v", resp.StatusCode, resp.Header)
	}
	if got := testutil.ToFloat64(h.metrics.Degraded.WithLabelValues("api", "stale")); got != 2 {
		t.Errorf("degraded{stale} = %v, want 2", got)
	}
}

func TestStaleWhenRefusedAndCircuitOpen(t *testing.T) {
	api := &flakyAPI{}
	api.mode.Store("ok")
	srv := httptest.NewServer(api)
	h := newStoreHarness(t, map[string]*config.Upstream{"api": upstreamCfg(srv.URL, cached(time.Hour), func(u *config.Upstream) {
		u.Breaker = resilience.Breaker{FailureRate: 0.5, MinRequests: 2, Window: time.Minute, OpenFor: time.Minute, HalfOpenProbes: 1}
	})}, "")
	h.do(t, "GET", "/api/a", nil, nil)
	waitCached(t, h, "a?")
	srv.Close() // connection refused from now on
	for i := range 4 {
		resp, _ := h.do(t, "GET", "/api/a", nil, nil)
		if resp.Header.Get(HeaderCache) != "stale" {
			t.Fatalf("call %d with the upstream down: %d %v", i, resp.StatusCode, resp.Header)
		}
		if i == 3 && resp.Header.Get(HeaderError) != "circuit_open" {
			t.Errorf("after failures the breaker should be open: Fender-Error %q", resp.Header.Get(HeaderError))
		}
	}
}

func TestCacheRespectsNoStoreAndVary(t *testing.T) {
	api := &flakyAPI{}
	api.mode.Store("ok")
	srv := httptest.NewServer(api)
	defer srv.Close()
	h := newStoreHarness(t, map[string]*config.Upstream{"api": upstreamCfg(srv.URL, cached(time.Hour))}, "")
	h.do(t, "GET", "/api/nostore", nil, nil)
	h.do(t, "GET", "/api/vary", nil, http.Header{"Accept-Language": {"fr"}})
	waitCached(t, h, "vary?")
	api.mode.Store("503")
	if resp, _ := h.do(t, "GET", "/api/nostore", nil, nil); resp.StatusCode != 503 {
		t.Errorf("no-store response was cached: %d", resp.StatusCode)
	}
	if resp, b := h.do(t, "GET", "/api/vary", nil, http.Header{"Accept-Language": {"fr"}}); string(b) != "lang=fr" {
		t.Errorf("same variant: %d %q", resp.StatusCode, b)
	}
	if resp, _ := h.do(t, "GET", "/api/vary", nil, http.Header{"Accept-Language": {"de"}}); resp.StatusCode != 503 {
		t.Errorf("other variant served from cache: %d", resp.StatusCode)
	}
	// A caller's own credentials: not cached (another caller could get it).
	api.mode.Store("ok")
	h.do(t, "GET", "/api/private", nil, http.Header{"Authorization": {"Bearer user-1"}})
	time.Sleep(50 * time.Millisecond)
	if es, _ := h.st.CacheGet(t.Context(), "api\x00GET\x00private?", time.Now()); len(es) != 0 {
		t.Error("a response to a caller's Authorization was cached")
	}
}

func TestFreshHitOnlyWithMaxAge(t *testing.T) {
	api := &flakyAPI{cc: "max-age=60"}
	api.mode.Store("ok")
	srv := httptest.NewServer(api)
	defer srv.Close()
	h := newStoreHarness(t, map[string]*config.Upstream{"api": upstreamCfg(srv.URL, cached(time.Hour))}, "")
	h.do(t, "GET", "/api/cfg", nil, nil)
	waitCached(t, h, "cfg?")
	h.clock.Advance(30 * time.Second)
	resp, _ := h.do(t, "GET", "/api/cfg", nil, nil)
	if resp.Header.Get(HeaderCache) != "hit" || resp.Header.Get("Age") != "30" || api.calls.Load() != 1 {
		t.Errorf("within max-age: %v calls %d", resp.Header, api.calls.Load())
	}
	h.clock.Advance(31 * time.Second)
	resp, _ = h.do(t, "GET", "/api/cfg", nil, nil)
	if resp.Header.Get(HeaderCache) != "" || api.calls.Load() != 2 {
		t.Errorf("past max-age: %v calls %d", resp.Header, api.calls.Load())
	}
}

func TestCacheSurvivesRestart(t *testing.T) {
	api := &flakyAPI{}
	api.mode.Store("ok")
	srv := httptest.NewServer(api)
	defer srv.Close()
	ups := map[string]*config.Upstream{"api": upstreamCfg(srv.URL, cached(time.Hour))}
	h := newStoreHarness(t, ups, "")
	h.do(t, "GET", "/api/persist", nil, nil)
	waitCached(t, h, "persist?")
	path := h.path
	h.srv.Close()
	h.st.Close()
	h2 := newStoreHarness(t, ups, path)
	api.mode.Store("503")
	if resp, b := h2.do(t, "GET", "/api/persist", nil, nil); resp.Header.Get(HeaderCache) != "stale" || !strings.Contains(string(b), "persist") {
		t.Errorf("after restart: %d %q %v", resp.StatusCode, b, resp.Header)
	}
}
