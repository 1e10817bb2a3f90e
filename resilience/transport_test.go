package resilience

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testPolicy is DefaultPolicy with short waits so tests run fast.
func testPolicy() Policy {
	p := DefaultPolicy()
	p.Retry.Backoff = Backoff{Base: time.Millisecond, Max: 5 * time.Millisecond}
	p.Timeout = Timeouts{Attempt: 2 * time.Second, Total: 5 * time.Second}
	return p
}

func newTransport(t *testing.T, p Policy) *Transport {
	t.Helper()
	tr, err := New("test", p, Options{AllowPrivateNetwork: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// scripted answers with the given statuses in turn, then 200.
func scripted(t *testing.T, statuses ...int) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		io.Copy(io.Discard, r.Body)
		if i < len(statuses) {
			w.WriteHeader(statuses[i])
			return
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func do(t *testing.T, tr *Transport, method, url string, body io.Reader, hdr map[string]string) (*http.Response, *Report, error) {
	t.Helper()
	req, _ := http.NewRequest(method, url, body)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	var rep Report
	resp, err := tr.Do(req, &rep)
	if resp != nil {
		t.Cleanup(func() { resp.Body.Close() })
	}
	return resp, &rep, err
}

func TestRetryClassification(t *testing.T) {
	tests := []struct {
		name         string
		method       string
		key          bool
		unsafe       string
		statuses     []int
		wantStatus   int
		wantAttempts int
	}{
		{"GET 503 503 200", "GET", false, "", []int{503, 503}, 200, 3},
		{"GET 502 then ok", "GET", false, "", []int{502}, 200, 2},
		{"GET 504 then ok", "GET", false, "", []int{504}, 200, 2},
		{"GET 429 no Retry-After then ok", "GET", false, "", []int{429}, 200, 2},
		{"GET 500 final (not listed)", "GET", false, "", []int{500}, 500, 1},
		{"GET 501 final", "GET", false, "", []int{501}, 501, 1},
		{"GET 400 final", "GET", false, "", []int{400}, 400, 1},
		{"GET 401 final", "GET", false, "", []int{401}, 401, 1},
		{"GET 404 final", "GET", false, "", []int{404}, 404, 1},
		{"GET exhausted", "GET", false, "", []int{503, 503, 503, 503}, 503, 3},
		{"PUT idempotent retried", "PUT", false, "", []int{503}, 200, 2},
		{"DELETE idempotent retried", "DELETE", false, "", []int{503}, 200, 2},
		{"POST no key not retried", "POST", false, "", []int{503}, 503, 1},
		{"POST with key retried", "POST", true, "", []int{503}, 200, 2},
		{"PATCH no key not retried", "PATCH", false, "", []int{503}, 503, 1},
		{"PATCH with key retried", "PATCH", true, "", []int{502}, 200, 2},
		{"POST always", "POST", false, UnsafeAlways, []int{503}, 200, 2},
		{"POST never even with key", "POST", true, UnsafeNever, []int{503}, 503, 1},
		{"GET under never still retried", "GET", false, UnsafeNever, []int{503}, 200, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, hits := scripted(t, tt.statuses...)
			p := testPolicy()
			if tt.unsafe != "" {
				p.Retry.UnsafeMethods = tt.unsafe
			}
			tr := newTransport(t, p)
			hdr := map[string]string{}
			if tt.key {
				hdr[IdempotencyKeyHeader] = "k1"
			}
			resp, rep, err := do(t, tr, tt.method, srv.URL, strings.NewReader("payload"), hdr)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus || rep.Attempts != tt.wantAttempts || int(hits.Load()) != tt.wantAttempts {
				t.Errorf("status %d attempts %d hits %d; want %d, %d, %d",
					resp.StatusCode, rep.Attempts, hits.Load(), tt.wantStatus, tt.wantAttempts, tt.wantAttempts)
			}
			if len(rep.Outcomes) != rep.Attempts {
				t.Errorf("outcomes %v for %d attempts", rep.Outcomes, rep.Attempts)
			}
		})
	}
}

func TestClassifyStatus(t *testing.T) {
	for code, want := range map[int]Category{200: CategoryOK, 204: CategoryOK, 304: CategoryOK, 400: CategoryClientError,
		401: CategoryAuth, 403: CategoryAuth, 404: CategoryClientError, 429: CategoryRateLimited, 500: CategoryServerError, 503: CategoryServerError} {
		if got := ClassifyStatus(code); got != want {
			t.Errorf("ClassifyStatus(%d) = %s, want %s", code, got, want)
		}
	}
}

func TestBodyReplayedOnRetry(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		if n.Add(1) < 3 {
			w.WriteHeader(503)
		}
	}))
	defer srv.Close()
	tr := newTransport(t, testPolicy())
	// An io.Reader that is not a bytes.Reader: the transport must buffer it.
	body := io.MultiReader(strings.NewReader("hello "), strings.NewReader("world"))
	resp, rep, err := do(t, tr, "PUT", srv.URL, body, nil)
	if err != nil || resp.StatusCode != 200 || rep.Attempts != 3 {
		t.Fatalf("got %v %v attempts %d", resp, err, rep.Attempts)
	}
	for i, b := range bodies {
		if b != "hello world" {
			t.Errorf("attempt %d body %q", i+1, b)
		}
	}
}

func TestLargeBodyNotBufferedNotRetried(t *testing.T) {
	srv, hits := scripted(t, 503)
	p := testPolicy()
	tr, _ := New("test", p, Options{AllowPrivateNetwork: true, MaxReplayBody: 1024})
	big := bytes.Repeat([]byte("x"), 4096)
	resp, rep, err := do(t, tr, "PUT", srv.URL, io.MultiReader(bytes.NewReader(big)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 503 || rep.Attempts != 1 || hits.Load() != 1 {
		t.Errorf("status %d attempts %d hits %d: a body over the replay limit must not be retried", resp.StatusCode, rep.Attempts, hits.Load())
	}
}

func TestConnectRefusedRetriedEvenForPOST(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nothing listens: dials are refused
	tr := newTransport(t, testPolicy())
	_, rep, err := do(t, tr, "POST", "http://"+addr, strings.NewReader("x"), nil)
	var fe *Error
	if !errors.As(err, &fe) || fe.Category != CategoryConnect {
		t.Fatalf("err = %v, want connect Error", err)
	}
	if rep.Attempts != 3 {
		t.Errorf("attempts = %d, want 3: dial errors are retried for every method", rep.Attempts)
	}
}

func TestResetAfterSendNotRetriedForPOST(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close() // reset after the request arrived
	}))
	defer srv.Close()
	tr := newTransport(t, testPolicy())
	_, rep, err := do(t, tr, "POST", srv.URL, strings.NewReader("x"), nil)
	var fe *Error
	if !errors.As(err, &fe) || fe.Category != CategoryConnect {
		t.Fatalf("err = %v, want connect", err)
	}
	if rep.Attempts != 1 || hits.Load() != 1 {
		t.Errorf("attempts %d hits %d: a POST without key that reached the upstream must not be repeated", rep.Attempts, hits.Load())
	}
	_, rep, _ = do(t, tr, "GET", srv.URL, nil, nil)
	if rep.Attempts != 3 {
		t.Errorf("GET attempts = %d, want 3", rep.Attempts)
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	var n atomic.Int32
	var first time.Time
	var gap time.Duration
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			first = time.Now()
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(429)
			return
		}
		gap = time.Since(first)
	}))
	defer srv.Close()
	tr := newTransport(t, testPolicy())
	resp, rep, err := do(t, tr, "GET", srv.URL, nil, nil)
	if err != nil || resp.StatusCode != 200 || rep.Attempts != 2 {
		t.Fatalf("got %v %v %d", resp, err, rep.Attempts)
	}
	if gap < 900*time.Millisecond || gap > 2*time.Second {
		t.Errorf("retried after %v, want about 1s", gap)
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", time.Now().Add(1500*time.Millisecond).UTC().Format(http.TimeFormat))
			w.WriteHeader(503)
		}
	}))
	defer srv.Close()
	tr := newTransport(t, testPolicy())
	start := time.Now()
	resp, rep, err := do(t, tr, "GET", srv.URL, nil, nil)
	if err != nil || resp.StatusCode != 200 || rep.Attempts != 2 {
		t.Fatalf("got %v %v %d", resp, err, rep.Attempts)
	}
	// HTTP-date has one-second resolution: between 0.5 s and 1.5 s.
	if d := time.Since(start); d < 400*time.Millisecond || d > 2500*time.Millisecond {
		t.Errorf("waited %v for an HTTP-date about 1 s ahead", d)
	}
}

func TestRetryAfterBeyondDeadlineReturnsAtOnceAndPauses(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(429)
	}))
	defer srv.Close()
	p := testPolicy()
	p.Retry.RetryAfterMax = 2 * time.Hour
	tr := newTransport(t, p)
	start := time.Now()
	resp, rep, err := do(t, tr, "GET", srv.URL, nil, nil)
	if err != nil || resp.StatusCode != 429 || rep.Attempts != 1 {
		t.Fatalf("got %v %v %d, want the 429 after 1 attempt", resp, err, rep.Attempts)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("took %v: must not sleep when the wait passes the deadline", d)
	}
	if got := resp.Header.Get("Retry-After"); got != "3600" {
		t.Errorf("Retry-After = %q, want 3600 intact", got)
	}
	// The upstream is now paused: other calls fail fast without reaching it.
	_, _, err = do(t, tr, "GET", srv.URL, nil, nil)
	var fe *Error
	if !errors.As(err, &fe) || fe.Category != CategoryRateLimited || fe.RetryAfter < 59*time.Minute {
		t.Fatalf("second call: %v, want rate_limited with Retry-After about 1h", err)
	}
	if hits.Load() != 1 {
		t.Errorf("upstream hit %d times, want 1", hits.Load())
	}
}

func TestHangingUpstreamTimesOutWithinDeadline(t *testing.T) {
	block := make(chan struct{})
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	p := testPolicy()
	p.Timeout = Timeouts{Attempt: 100 * time.Millisecond, Total: 250 * time.Millisecond}
	tr := newTransport(t, p)
	start := time.Now()
	_, rep, err := do(t, tr, "GET", srv.URL, nil, nil)
	took := time.Since(start)
	var fe *Error
	if !errors.As(err, &fe) || fe.Category != CategoryTimeout {
		t.Fatalf("err = %v, want timeout", err)
	}
	// The deadline is 250ms; a loaded CI machine may add scheduling delay,
	// but never another attempt's worth.
	if took > 450*time.Millisecond {
		t.Errorf("took %v, well past the 250ms total deadline", took)
	}
	if rep.Attempts < 2 {
		t.Errorf("attempts = %d: the attempt timeout should have allowed a retry", rep.Attempts)
	}
}

func TestCallerCancelCancelsUpstream(t *testing.T) {
	canceled := make(chan struct{})
	started := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
		close(canceled)
	}))
	defer srv.Close()
	tr := newTransport(t, testPolicy())
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	go func() { <-started; cancel() }()
	var rep Report
	_, err := tr.Do(req, &rep)
	var fe *Error
	if !errors.As(err, &fe) || fe.Category != CategoryCanceled {
		t.Fatalf("err = %v, want canceled", err)
	}
	select {
	case <-canceled:
	case <-time.After(2 * time.Second):
		t.Fatal("upstream request was not canceled")
	}
}

func TestConcurrencyLimitFailsFast(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer srv.Close()
	p := testPolicy()
	p.Concurrency.Max = 2
	tr := newTransport(t, p)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", srv.URL, nil)
			if resp, err := tr.RoundTrip(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); tr.InFlight() < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the two held calls never got in flight")
		}
	}
	start := time.Now()
	_, _, err := do(t, tr, "GET", srv.URL, nil, nil)
	var fe *Error
	if !errors.As(err, &fe) || fe.Category != CategoryConcurrencyLimited {
		t.Fatalf("err = %v, want concurrency_limited", err)
	}
	if time.Since(start) > 200*time.Millisecond { // the held calls wait indefinitely
		t.Errorf("a full bulkhead must fail fast, took %v", time.Since(start))
	}
	close(release)
	wg.Wait()
	if tr.InFlight() != 0 {
		t.Errorf("in flight %d after all calls ended", tr.InFlight())
	}
}

func TestLocalRateLimit(t *testing.T) {
	srv, _ := scripted(t)
	p := testPolicy()
	p.RateLimit = RateLimit{RPS: 1, Burst: 2}
	tr := newTransport(t, p)
	for i := range 2 {
		if _, _, err := do(t, tr, "GET", srv.URL, nil, nil); err != nil {
			t.Fatalf("call %d within burst: %v", i, err)
		}
	}
	_, _, err := do(t, tr, "GET", srv.URL, nil, nil)
	var fe *Error
	if !errors.As(err, &fe) || fe.Category != CategoryRateLimited || fe.RetryAfter <= 0 {
		t.Fatalf("err = %v, want rate_limited with a Retry-After", err)
	}
}

func TestBreakerOpensHalfOpensCloses(t *testing.T) {
	var healthy atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(500)
		}
	}))
	defer srv.Close()
	p := testPolicy()
	p.Breaker = Breaker{FailureRate: 0.5, MinRequests: 5, Window: 10 * time.Second, OpenFor: 200 * time.Millisecond, HalfOpenProbes: 1}
	tr := newTransport(t, p)
	for range 5 {
		do(t, tr, "GET", srv.URL, nil, nil)
	}
	if tr.BreakerState() != "open" {
		t.Fatalf("breaker %s after 5 failures, want open", tr.BreakerState())
	}
	_, _, err := do(t, tr, "GET", srv.URL, nil, nil)
	var fe *Error
	if !errors.As(err, &fe) || fe.Category != CategoryCircuitOpen || fe.RetryAfter <= 0 {
		t.Fatalf("err = %v, want circuit_open with Retry-After", err)
	}
	healthy.Store(true)
	deadline := time.Now().Add(2 * time.Second)
	for tr.BreakerState() == "open" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		do(t, tr, "GET", srv.URL, nil, nil)
	}
	if tr.BreakerState() != "closed" {
		t.Fatalf("breaker %s after recovery, want closed", tr.BreakerState())
	}
}

// TestOutageAmplification: with the upstream failing every call, 200
// concurrent callers for a fixed time must not multiply load: the budget and
// breaker keep attempts per request at or below 1.3.
func TestOutageAmplification(t *testing.T) {
	t.Run("breaker and budget", func(t *testing.T) { outage(t, true) })
	// Breaker out of the way: the budget alone must hold the line.
	t.Run("budget alone", func(t *testing.T) { outage(t, false) })
}

func outage(t *testing.T, breaker bool) {
	var attempts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempts.Add(1)
		time.Sleep(2 * time.Millisecond)
		w.WriteHeader(503)
	}))
	defer srv.Close()
	p := testPolicy()
	p.Concurrency.Max = 0
	p.Breaker.OpenFor = 100 * time.Millisecond
	if !breaker {
		p.Breaker.MinRequests = 1 << 30
	}
	tr := newTransport(t, p)
	tr.base.(*http.Transport).MaxIdleConnsPerHost = 256
	var requests, openAnswers atomic.Int64
	stop := time.Now().Add(time.Second)
	var wg sync.WaitGroup
	var opened atomic.Bool
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A fixed time, but at least a few calls each even on a slow
			// (race-instrumented, loaded) machine.
			for i := 0; i < 5 || time.Now().Before(stop); i++ {
				requests.Add(1)
				req, _ := http.NewRequest("GET", srv.URL, nil)
				resp, err := tr.RoundTrip(req)
				if err == nil {
					resp.Body.Close()
				}
				var fe *Error
				if errors.As(err, &fe) && fe.Category == CategoryCircuitOpen {
					opened.Store(true)
					openAnswers.Add(1)
					time.Sleep(5 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	ratio := float64(attempts.Load()) / float64(requests.Load())
	t.Logf("outage: %d requests, %d upstream attempts, ratio %.3f", requests.Load(), attempts.Load(), ratio)
	if ratio > 1.3 {
		t.Errorf("attempts/requests = %.3f, want <= 1.3", ratio)
	}
	if breaker && !opened.Load() {
		t.Error("the breaker never opened")
	}
}

func TestForbiddenDestination(t *testing.T) {
	srv, hits := scripted(t)
	tr, err := New("test", testPolicy(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, rep, err := do(t, tr, "GET", srv.URL, nil, nil)
	var fe *Error
	if !errors.As(err, &fe) || fe.Category != CategoryForbiddenDestination {
		t.Fatalf("err = %v, want forbidden_destination", err)
	}
	if rep.Attempts != 1 || hits.Load() != 0 {
		t.Errorf("attempts %d hits %d: a refused destination is final and never reached", rep.Attempts, hits.Load())
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"5", 5 * time.Second, true},
		{" 120 ", 120 * time.Second, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"", 0, false},
		{"soon", 0, false},
		{"Thu, 01 Jan 2026 00:00:30 GMT", 30 * time.Second, true},
		{"Wed, 31 Dec 2025 00:00:00 GMT", 0, true},
		{"99999999999999999999", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestBackoffFullJitterBounds(t *testing.T) {
	p := DefaultPolicy()
	tr, _ := New("b", p, Options{Rand: func() float64 { return 0.999999 }})
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}
	for i, w := range want {
		got := tr.backoff(i + 1)
		if got > w || got < w*99/100 {
			t.Errorf("backoff(%d) = %v, want just under %v", i+1, got, w)
		}
	}
	if got := tr.backoff(100); got > p.Retry.Backoff.Max {
		t.Errorf("backoff(100) = %v exceeds max %v", got, p.Retry.Backoff.Max)
	}
	tr.rand = func() float64 { return 0 }
	if got := tr.backoff(3); got != 0 {
		t.Errorf("full jitter lower bound = %v, want 0", got)
	}
}

// TestAdaptiveThrottle: with the upstream failing 80% of requests, the
// share of calls that reach it falls towards what it accepts, and recovers
// once it heals.
func TestAdaptiveThrottle(t *testing.T) {
	var hits, accepted atomic.Int64
	var healthy atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := hits.Add(1)
		if healthy.Load() || n%5 == 0 {
			accepted.Add(1)
			return
		}
		w.WriteHeader(503)
	}))
	defer srv.Close()
	p := testPolicy()
	p.Retry.MaxAttempts = 1
	p.Breaker.MinRequests = 1 << 30 // breaker out of the way
	p.Throttle = Throttle{K: 2, Window: 500 * time.Millisecond}
	tr := newTransport(t, p)
	call := func() {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		if resp, err := tr.RoundTrip(req); err == nil {
			resp.Body.Close()
		}
	}
	const calls = 2000
	for range calls {
		call()
	}
	ratio := float64(hits.Load()) / calls
	t.Logf("failing 80%%: %d calls, %d reached the upstream (%.2f), %d accepted; upstream requests per accept %.2f",
		calls, hits.Load(), ratio, accepted.Load(), float64(hits.Load())/float64(accepted.Load()))
	if ratio > 0.5 {
		t.Errorf("%.2f of calls reached a failing upstream, want the throttle to hold it under 0.5", ratio)
	}
	healthy.Store(true)
	time.Sleep(600 * time.Millisecond) // let the window slide past the failures
	before := hits.Load()
	for range 200 {
		call()
	}
	healed := float64(hits.Load()-before) / 200
	t.Logf("healed: %.2f of calls reach it", healed)
	if healed < 0.95 {
		t.Errorf("after healing only %.2f of calls reach the upstream", healed)
	}
}

func TestPercentRefusesNaNAndInfinity(t *testing.T) {
	for _, s := range []string{"NaN%", "nan", "Inf%", "+Inf", "-inf%", "1e400%"} {
		var p Percent
		if err := p.UnmarshalText([]byte(s)); err == nil {
			t.Errorf("%q parsed to %v, want an error", s, p)
		}
	}
	var p Percent
	if err := p.UnmarshalText([]byte("12.5%")); err != nil || p != 0.125 {
		t.Errorf("12.5%% = %v, %v", p, err)
	}
}
