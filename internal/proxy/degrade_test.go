package proxy

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fender-dev/fender/internal/config"
	"github.com/fender-dev/fender/resilience"
)

func nonCritical(u *config.Upstream) {
	u.Critical = false
	u.Fallback = &config.Fallback{Status: 200, Body: `{"items":[]}`, ContentType: "application/json"}
}

func TestFallbackReplacesFailures(t *testing.T) {
	var mode atomic.Value
	mode.Store("503")
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch mode.Load() {
		case "503":
			w.WriteHeader(503)
		case "404":
			w.WriteHeader(404)
		case "hang":
			<-r.Context().Done()
		default:
			w.Write([]byte(`{"items":[1]}`))
		}
	}))
	defer up.Close()
	h := newHarness(t, map[string]*config.Upstream{"recs": upstreamCfg(up.URL, nonCritical, func(u *config.Upstream) {
		u.Timeout = resilience.Timeouts{Attempt: 50 * time.Millisecond, Total: 150 * time.Millisecond}
	})})
	for _, tc := range []struct{ mode, wantErr string }{{"503", "server_error"}, {"hang", "timeout"}} {
		mode.Store(tc.mode)
		resp, body := h.do(t, "GET", "/recs/items", nil, nil)
		if resp.StatusCode != 200 || string(body) != `{"items":[]}` || resp.Header.Get(HeaderFallback) != "true" ||
			resp.Header.Get(HeaderError) != tc.wantErr || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %s %v", tc.mode, resp.StatusCode, body, resp.Header)
		}
	}
	// The caller's own mistakes are not hidden behind the fallback.
	mode.Store("404")
	if resp, _ := h.do(t, "GET", "/recs/items", nil, nil); resp.StatusCode != 404 || resp.Header.Get(HeaderFallback) != "" {
		t.Errorf("404 got %d fallback=%q", resp.StatusCode, resp.Header.Get(HeaderFallback))
	}
	mode.Store("ok")
	if resp, body := h.do(t, "GET", "/recs/items", nil, nil); string(body) != `{"items":[1]}` || resp.Header.Get(HeaderFallback) != "" {
		t.Errorf("healthy: %s %v", body, resp.Header)
	}
	if got := testutil.ToFloat64(h.metrics.Degraded.WithLabelValues("recs", "fallback")); got != 2 {
		t.Errorf("fender_degraded_total{kind=fallback} = %v, want 2", got)
	}
}

// TestNonCriticalCannotSlowCritical: a non-critical upstream that hangs,
// under concurrent load, must not raise the p99 of a critical upstream's
// calls by more than 1.5× compared with the same load on a healthy
// non-critical upstream. Timing on a shared machine is noisy, so the best of
// three trials counts.
func TestNonCriticalCannotSlowCritical(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Millisecond)
		w.Write([]byte("ok"))
	}))
	defer fast.Close()
	var hanging atomic.Bool
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hanging.Load() {
			<-r.Context().Done()
			return
		}
		time.Sleep(time.Millisecond)
		w.Write([]byte("ok"))
	}))
	defer hang.Close()
	h := newHarness(t, map[string]*config.Upstream{
		"pay": upstreamCfg(fast.URL),
		"recs": upstreamCfg(hang.URL, nonCritical, func(u *config.Upstream) {
			u.Timeout = resilience.Timeouts{Attempt: 200 * time.Millisecond, Total: 400 * time.Millisecond}
			u.Concurrency.Max = 20
		}),
	})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 200}}
	p99 := func(hangs bool) time.Duration {
		hanging.Store(hangs)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		{
			for range 50 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						if resp, err := client.Get(h.srv.URL + "/recs/x"); err == nil {
							resp.Body.Close()
						}
						time.Sleep(5 * time.Millisecond) // a paced client, not a spin loop
					}
				}()
			}
		}
		var mu sync.Mutex
		var lat []time.Duration
		var cw sync.WaitGroup
		for range 8 {
			cw.Add(1)
			go func() {
				defer cw.Done()
				for range 150 {
					start := time.Now()
					resp, err := client.Get(h.srv.URL + "/pay/x")
					if err != nil || resp.StatusCode != 200 {
						t.Errorf("critical call failed: %v", err)
						return
					}
					resp.Body.Close()
					mu.Lock()
					lat = append(lat, time.Since(start))
					mu.Unlock()
				}
			}()
		}
		cw.Wait()
		close(stop)
		wg.Wait()
		slices.Sort(lat)
		return lat[len(lat)*99/100]
	}
	var best float64 = 1e9
	for trial := range 3 {
		quiet := p99(false)
		noisy := p99(true)
		ratio := float64(noisy) / float64(quiet)
		t.Logf("trial %d: critical p99 %v beside a healthy non-critical upstream, %v beside a hanging one (×%.2f)", trial+1, quiet, noisy, ratio)
		best = min(best, ratio)
		if best <= 1.5 {
			break
		}
	}
	if best > 1.5 {
		t.Errorf("a hanging non-critical upstream raised the critical p99 by ×%.2f, want ≤ 1.5", best)
	}
}

// TestOverloadShedsNonCriticalFirst: with limits.max_in_flight 8 and six
// calls in flight, a non-critical call is shed (its fallback answers) while
// a critical one still goes through; past eight, critical calls are
// refused too.
func TestOverloadShedsNonCriticalFirst(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	defer once.Do(func() { close(release) })
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			<-release
		}
		w.Write([]byte("ok"))
	}))
	defer slow.Close()
	h := newHarness(t, map[string]*config.Upstream{
		"pay":  upstreamCfg(slow.URL),
		"recs": upstreamCfg(slow.URL, nonCritical),
	})
	cfg := config.Default()
	cfg.Limits.MaxInFlight = 8
	cfg.Upstreams = map[string]*config.Upstream{"pay": upstreamCfg(slow.URL), "recs": upstreamCfg(slow.URL, nonCritical)}
	if err := h.proxy.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	hold := func(n int) {
		want := h.proxy.inFlight.Load() + int64(n) // before any of them can start
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if resp, err := http.Get(h.srv.URL + "/pay/hold"); err == nil {
					resp.Body.Close()
				}
			}()
		}
		waitFor(t, func() bool { return h.proxy.inFlight.Load() >= want }, "calls in flight")
	}
	hold(6)
	resp, body := h.do(t, "GET", "/recs/x", nil, nil)
	if resp.Header.Get(HeaderFallback) != "true" || resp.Header.Get(HeaderError) != "concurrency_limited" {
		t.Errorf("non-critical at 7/8 in flight: %d %s %v, want shed to its fallback", resp.StatusCode, body, resp.Header)
	}
	if resp, _ := h.do(t, "GET", "/pay/x", nil, nil); resp.StatusCode != 200 {
		t.Errorf("critical at 7/8 in flight: %d, want 200", resp.StatusCode)
	}
	hold(2)
	resp, body = h.do(t, "GET", "/pay/x", nil, nil)
	if p := decodeProblem(t, resp, body); resp.StatusCode != 503 || p.Category != "concurrency_limited" {
		t.Errorf("critical past the limit: %d %+v", resp.StatusCode, p)
	}
	once.Do(func() { close(release) })
	wg.Wait()
	if got := testutil.ToFloat64(h.metrics.Degraded.WithLabelValues("recs", "shed")); got != 1 {
		t.Errorf("degraded{recs,shed} = %v, want 1", got)
	}
}
