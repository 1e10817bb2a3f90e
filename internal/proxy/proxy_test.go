package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fender-dev/fender/internal/config"
	"github.com/fender-dev/fender/internal/telemetry"
	"github.com/fender-dev/fender/resilience"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type harness struct {
	proxy   *Proxy
	srv     *httptest.Server
	logs    *syncBuffer
	metrics *telemetry.Metrics
}

// upstreamCfg is an upstream with fast test timings.
func upstreamCfg(url string, mod ...func(*config.Upstream)) *config.Upstream {
	u := config.DefaultUpstream()
	u.URL = url
	u.AllowPrivateNetwork = true
	u.Retry.Backoff = resilience.Backoff{Base: time.Millisecond, Max: 5 * time.Millisecond}
	for _, m := range mod {
		m(u)
	}
	return u
}

func newHarness(t *testing.T, ups map[string]*config.Upstream) *harness {
	t.Helper()
	cfg := config.Default()
	cfg.Upstreams = ups
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	m := telemetry.NewMetrics()
	tr, err := telemetry.NewTracing(context.Background(), func(string) string { return "" }, "test")
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg, Options{Logger: log, Metrics: m, Tracing: tr})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return &harness{proxy: p, srv: srv, logs: logs, metrics: m}
}

func (h *harness) do(t *testing.T, method, path string, body io.Reader, hdr http.Header) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, h.srv.URL+path, body)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func decodeProblem(t *testing.T, resp *http.Response, body []byte) Problem {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json (body %s)", ct, body)
	}
	var p Problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("problem body %s: %v", body, err)
	}
	if p.Status != resp.StatusCode || p.Category != resp.Header.Get(HeaderError) || p.Type == "" || p.Title == "" || p.RequestID == "" {
		t.Errorf("incomplete problem %+v for status %d, Fender-Error %q", p, resp.StatusCode, resp.Header.Get(HeaderError))
	}
	return p
}

func TestRetriesThenPassesThrough(t *testing.T) {
	var n atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			w.WriteHeader(503)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path":%q,"query":%q}`, r.URL.EscapedPath(), r.URL.RawQuery)
	}))
	defer up.Close()
	h := newHarness(t, map[string]*config.Upstream{"pay": upstreamCfg(up.URL + "/base")})
	resp, body := h.do(t, "GET", "/pay/v1/charges/a%2Fb?limit=3&x=y", nil, http.Header{"X-Request-Id": {"req-123"}})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if got := resp.Header.Get(HeaderAttempts); got != "3" {
		t.Errorf("Fender-Attempts = %q, want 3", got)
	}
	if resp.Header.Get(HeaderUpstream) != "pay" || resp.Header.Get(HeaderRequestID) != "req-123" {
		t.Errorf("headers %v", resp.Header)
	}
	if want := `{"path":"/base/v1/charges/a%2Fb","query":"limit=3&x=y"}`; string(body) != want {
		t.Errorf("upstream saw %s, want %s", body, want)
	}
	// A generated request id when the caller sends none.
	n.Store(10)
	resp, _ = h.do(t, "GET", "/pay/x", nil, nil)
	if id := resp.Header.Get(HeaderRequestID); len(id) != 32 {
		t.Errorf("generated request id %q", id)
	}
	if got := testutil.ToFloat64(h.metrics.UpstreamRequests.WithLabelValues("pay", "ok")); got != 2 {
		t.Errorf("requests_total{ok} = %v, want 2", got)
	}
	if got := testutil.ToFloat64(h.metrics.UpstreamAttempts.WithLabelValues("pay", "server_error")); got != 2 {
		t.Errorf("attempts_total{server_error} = %v, want 2", got)
	}
}

func TestUpstreamErrorsPassThroughUnchanged(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(402)
		io.WriteString(w, `{"error":{"code":"card_declined"}}`)
	}))
	defer up.Close()
	h := newHarness(t, map[string]*config.Upstream{"pay": upstreamCfg(up.URL)})
	resp, body := h.do(t, "POST", "/pay/v1/charges", strings.NewReader("amount=1"), nil)
	if resp.StatusCode != 402 || string(body) != `{"error":{"code":"card_declined"}}` || resp.Header.Get(HeaderError) != "" {
		t.Errorf("got %d %s %v", resp.StatusCode, body, resp.Header)
	}
	if !strings.Contains(h.logs.String(), `"category":"client_error"`) {
		t.Errorf("log does not classify the 402: %s", h.logs.String())
	}
}

func TestUnknownUpstream(t *testing.T) {
	h := newHarness(t, nil)
	resp, body := h.do(t, "GET", "/nope/v1/x", nil, nil)
	p := decodeProblem(t, resp, body)
	if resp.StatusCode != 404 || p.Category != "unknown_upstream" || p.Upstream != "nope" {
		t.Errorf("got %d %+v", resp.StatusCode, p)
	}
}

func TestHeaderHygiene(t *testing.T) {
	var seen http.Header
	var host string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		host = r.Host
		w.Header().Set("Connection", "X-Up-Hop")
		w.Header().Set("X-Up-Hop", "1")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-Kept", "yes")
	}))
	defer up.Close()
	h := newHarness(t, map[string]*config.Upstream{"api": upstreamCfg(up.URL, func(u *config.Upstream) {
		u.Headers = map[string]string{"Authorization": "Bearer sk_live_SECRET", "x-api-version": "2024-01"}
	})})
	resp, _ := h.do(t, "GET", "/api/x", nil, http.Header{
		"Connection":          {"X-Custom-Hop"},
		"X-Custom-Hop":        {"drop me"},
		"Proxy-Authorization": {"Basic abc"},
		"Te":                  {"trailers"},
		"Authorization":       {"Bearer caller-token"},
		"X-Caller":            {"kept"},
	})
	for _, k := range []string{"X-Custom-Hop", "Proxy-Authorization", "Te", "Connection"} {
		if v := seen.Get(k); v != "" {
			t.Errorf("upstream saw hop-by-hop %s: %q", k, v)
		}
	}
	if seen.Get("Authorization") != "Bearer sk_live_SECRET" || seen.Get("X-Api-Version") != "2024-01" || seen.Get("X-Caller") != "kept" {
		t.Errorf("upstream headers %v", seen)
	}
	if !strings.HasPrefix(host, "127.0.0.1:") {
		t.Errorf("upstream Host %q", host)
	}
	if resp.Header.Get("X-Up-Hop") != "" || resp.Header.Get("Keep-Alive") != "" || resp.Header.Get("X-Kept") != "yes" {
		t.Errorf("response headers %v", resp.Header)
	}
	if strings.Contains(h.logs.String(), "sk_live_SECRET") {
		t.Error("an injected header value reached the log")
	}
}

// rawRequest writes a request line by hand, for targets net/http clients
// will not send.
func rawRequest(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, req)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s %s", resp.StatusCode, resp.Header.Get(HeaderError), b)
}

func TestNeverProxiesAbsoluteURLsOrHost(t *testing.T) {
	var hits atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer up.Close()
	h := newHarness(t, map[string]*config.Upstream{"api": upstreamCfg(up.URL)})
	addr := strings.TrimPrefix(h.srv.URL, "http://")
	got := rawRequest(t, addr, "GET "+up.URL+"/api/x HTTP/1.1\r\nHost: evil.example\r\n\r\n")
	if !strings.HasPrefix(got, "400 bad_request") {
		t.Errorf("absolute-form target: %s", got)
	}
	got = rawRequest(t, addr, "CONNECT "+strings.TrimPrefix(up.URL, "http://")+" HTTP/1.1\r\nHost: x\r\n\r\n")
	if !strings.HasPrefix(got, "400 bad_request") {
		t.Errorf("CONNECT: %s", got)
	}
	// The Host header never chooses the destination: the path does.
	got = rawRequest(t, addr, "GET /missing/x HTTP/1.1\r\nHost: "+strings.TrimPrefix(up.URL, "http://")+"\r\n\r\n")
	if !strings.HasPrefix(got, "404 unknown_upstream") {
		t.Errorf("Host header routing: %s", got)
	}
	if hits.Load() != 0 {
		t.Errorf("upstream reached %d times", hits.Load())
	}
	resp, body := h.do(t, "GET", "/api/a/../../etc/passwd", nil, nil)
	if resp.StatusCode != 400 {
		t.Errorf("dot segments: %d %s", resp.StatusCode, body)
	}
}

func TestPrivateDestinationRefused(t *testing.T) {
	var hits atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer up.Close()
	h := newHarness(t, map[string]*config.Upstream{"api": upstreamCfg(up.URL, func(u *config.Upstream) { u.AllowPrivateNetwork = false })})
	resp, body := h.do(t, "GET", "/api/x", nil, nil)
	p := decodeProblem(t, resp, body)
	if resp.StatusCode != 403 || p.Category != "forbidden_destination" || hits.Load() != 0 {
		t.Errorf("got %d %+v hits %d", resp.StatusCode, p, hits.Load())
	}
}

func TestTimeoutProblem(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer up.Close()
	h := newHarness(t, map[string]*config.Upstream{"slow": upstreamCfg(up.URL, func(u *config.Upstream) {
		u.Timeout = resilience.Timeouts{Attempt: 50 * time.Millisecond, Total: 200 * time.Millisecond}
	})})
	start := time.Now()
	resp, body := h.do(t, "GET", "/slow/x", nil, nil)
	p := decodeProblem(t, resp, body)
	if resp.StatusCode != 504 || p.Category != "timeout" || p.Attempts < 2 || p.Upstream != "slow" {
		t.Errorf("got %d %+v", resp.StatusCode, p)
	}
	if d := time.Since(start); d > 600*time.Millisecond { // 200ms deadline plus scheduling slack
		t.Errorf("answered after %v, total deadline is 200ms", d)
	}
}

func TestRateLimitedPauseAndBreakerProblems(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/429") {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(429)
			return
		}
		w.WriteHeader(500)
	}))
	defer up.Close()
	h := newHarness(t, map[string]*config.Upstream{
		"rl": upstreamCfg(up.URL),
		"br": upstreamCfg(up.URL, func(u *config.Upstream) {
			u.Breaker = resilience.Breaker{FailureRate: 0.5, MinRequests: 3, Window: time.Minute, OpenFor: time.Minute, HalfOpenProbes: 1}
		}),
	})
	resp, _ := h.do(t, "GET", "/rl/429", nil, nil)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3600" || resp.Header.Get(HeaderError) != "" {
		t.Fatalf("first 429 must pass through: %d %v", resp.StatusCode, resp.Header)
	}
	resp, body := h.do(t, "GET", "/rl/other", nil, nil)
	p := decodeProblem(t, resp, body)
	if resp.StatusCode != 429 || p.Category != "rate_limited" || resp.Header.Get("Retry-After") == "" {
		t.Errorf("paused upstream: %d %+v %v", resp.StatusCode, p, resp.Header)
	}
	for range 3 {
		h.do(t, "GET", "/br/x", nil, nil)
	}
	resp, body = h.do(t, "GET", "/br/x", nil, nil)
	p = decodeProblem(t, resp, body)
	if resp.StatusCode != 503 || p.Category != "circuit_open" || resp.Header.Get("Retry-After") == "" {
		t.Errorf("open breaker: %d %+v %v", resp.StatusCode, p, resp.Header)
	}
	var breaker float64
	for _, mf := range mustGather(t, h) {
		if mf == "fender_upstream_breaker_state{upstream=\"br\"} 2" {
			breaker = 2
		}
	}
	if breaker != 2 {
		t.Error("fender_upstream_breaker_state{upstream=br} is not 2 (open)")
	}
}

func mustGather(t *testing.T, h *harness) []string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return strings.Split(rec.Body.String(), "\n")
}

func TestConcurrencyLimitedProblem(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer up.Close()
	h := newHarness(t, map[string]*config.Upstream{"api": upstreamCfg(up.URL, func(u *config.Upstream) { u.Concurrency.Max = 1 })})
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.Get(h.srv.URL + "/api/slow")
		if err == nil {
			resp.Body.Close()
		}
	}()
	rt, _ := h.proxy.Upstream("api")
	waitFor(t, func() bool { return rt.InFlight() >= 1 }, "the slow call in flight")
	resp, body := h.do(t, "GET", "/api/x", nil, nil)
	p := decodeProblem(t, resp, body)
	if resp.StatusCode != 503 || p.Category != "concurrency_limited" {
		t.Errorf("got %d %+v", resp.StatusCode, p)
	}
	close(release)
	<-done
}

func TestTraceparent(t *testing.T) {
	var got atomic.Value
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Store(r.Header.Get("Traceparent")) }))
	defer up.Close()
	h := newHarness(t, map[string]*config.Upstream{"api": upstreamCfg(up.URL)})
	in := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	h.do(t, "GET", "/api/x", nil, http.Header{"Traceparent": {in}})
	out := got.Load().(string)
	if !strings.HasPrefix(out, "00-4bf92f3577b34da6a3ce929d0e0e4736-") || out == in {
		t.Errorf("propagated traceparent %q from %q: want same trace, new span", out, in)
	}
	if !strings.Contains(h.logs.String(), `"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"`) {
		t.Error("log line lacks the trace id")
	}
	h.do(t, "GET", "/api/x", nil, nil)
	if out := got.Load().(string); len(out) != 55 || strings.Contains(out, "4bf92f35") {
		t.Errorf("started traceparent %q", out)
	}
}

func TestLogLineFields(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	h := newHarness(t, map[string]*config.Upstream{"api": upstreamCfg(up.URL)})
	h.do(t, "GET", "/api/v1/things?token=secret-query", nil, nil)
	var line map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(h.logs.String())), &line); err != nil {
		t.Fatalf("log %q: %v", h.logs.String(), err)
	}
	for _, k := range []string{"request_id", "trace_id", "upstream", "method", "path", "status", "category", "attempts",
		"duration_ms", "dns_ms", "connect_ms", "tls_ms", "ttfb_ms"} {
		if _, ok := line[k]; !ok {
			t.Errorf("log line lacks %s: %v", k, line)
		}
	}
	if line["path"] != "/v1/things" || strings.Contains(h.logs.String(), "secret-query") {
		t.Errorf("path %v: the query string must not be logged", line["path"])
	}
}

func TestReloadKeepsUnchangedUpstreams(t *testing.T) {
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "a") }))
	defer a.Close()
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "b") }))
	defer b.Close()
	h := newHarness(t, map[string]*config.Upstream{"one": upstreamCfg(a.URL), "two": upstreamCfg(a.URL)})
	before, _ := h.proxy.Upstream("one")
	cfg := config.Default()
	cfg.Upstreams = map[string]*config.Upstream{"one": upstreamCfg(a.URL), "two": upstreamCfg(b.URL)}
	if err := h.proxy.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	after, _ := h.proxy.Upstream("one")
	if before != after {
		t.Error("an unchanged upstream got a new transport (breaker state lost)")
	}
	if _, body := h.do(t, "GET", "/two/", nil, nil); string(body) != "b" {
		t.Errorf("after reload /two went to %q, want b", body)
	}
}

// TestLargeBodiesStream sends 100 MiB up and down through the proxy and
// checks the heap does not grow with it.
func TestLargeBodiesStream(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MiB transfer")
	}
	const size = 100 << 20
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			n, _ := io.Copy(io.Discard, r.Body)
			fmt.Fprint(w, n)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		io.CopyN(w, zeros{}, size)
	}))
	defer up.Close()
	h := newHarness(t, map[string]*config.Upstream{"big": upstreamCfg(up.URL, func(u *config.Upstream) {
		u.Timeout = resilience.Timeouts{Attempt: 30 * time.Second, Total: 60 * time.Second}
	})})
	var peak atomic.Uint64
	stop := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
			}
		}
	}()
	// Upload of unknown length: cannot be replayed, so it streams once.
	req, _ := http.NewRequest("POST", h.srv.URL+"/big/upload", io.LimitReader(zeros{}, size))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != fmt.Sprint(size) {
		t.Errorf("upstream received %s bytes, want %d", b, size)
	}
	resp, err = http.Get(h.srv.URL + "/big/download")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	close(stop)
	if n != size {
		t.Errorf("downloaded %d bytes, want %d", n, size)
	}
	if p := peak.Load(); p > 40<<20 {
		t.Errorf("heap in use peaked at %d MiB while streaming 100 MiB: bodies are being buffered", p>>20)
	}
	t.Logf("heap peak %d MiB", peak.Load()>>20)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestUpstreamHeaderRouting(t *testing.T) {
	var seen atomic.Value
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.URL.Path + " " + r.Header.Get(HeaderUpstream))
	}))
	defer up.Close()
	h := newHarness(t, map[string]*config.Upstream{"api": upstreamCfg(up.URL)})
	resp, _ := h.do(t, "GET", "/v1/customers", nil, http.Header{HeaderUpstream: {"api"}})
	if resp.StatusCode != 200 || seen.Load() != "/v1/customers " {
		t.Errorf("header routing: %d, upstream saw %q (path kept whole, header not forwarded)", resp.StatusCode, seen.Load())
	}
	resp, body := h.do(t, "GET", "/v1/customers", nil, http.Header{HeaderUpstream: {"nope"}})
	if p := decodeProblem(t, resp, body); resp.StatusCode != 404 || p.Category != "unknown_upstream" {
		t.Errorf("unknown upstream in header: %d %+v", resp.StatusCode, p)
	}
}

// TestBodyStallCutByDeadline: an upstream that sends headers and part of
// the body, then stalls, is cut at the total deadline; the client sees a
// broken body, never a clean short one, and the log says so.
func TestBodyStallCutByDeadline(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(200)
		w.Write([]byte(strings.Repeat("a", 100)))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer up.Close()
	h := newHarness(t, map[string]*config.Upstream{"slow": upstreamCfg(up.URL, func(u *config.Upstream) {
		u.Timeout = resilience.Timeouts{Attempt: 200 * time.Millisecond, Total: 300 * time.Millisecond}
	})})
	start := time.Now()
	resp, err := http.Get(h.srv.URL + "/slow/file")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Errorf("read %d bytes cleanly from a body cut short, want an error", len(b))
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the stalled body held the client %v; the total deadline is 300ms", d)
	}
	rt, _ := h.proxy.Upstream("slow")
	deadline := time.Now().Add(time.Second)
	for rt.InFlight() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if rt.InFlight() != 0 {
		t.Errorf("in flight %d after the body was cut", rt.InFlight())
	}
	logs := h.logs.String()
	if !strings.Contains(logs, `"body_error"`) || !strings.Contains(logs, `"level":"WARN"`) {
		t.Errorf("the log does not report the cut body: %s", logs)
	}
}

// waitFor polls cond until it holds, failing the test after 10s instead of
// hanging it.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
