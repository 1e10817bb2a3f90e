// Package bench holds fender's benchmarks against its peers: proxy.sh and
// profile.sh run the binaries; this file measures the egress handler
// in-process so allocations per request can be counted exactly.
package bench

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fender-dev/fender/internal/config"
	"github.com/fender-dev/fender/internal/proxy"
	"github.com/fender-dev/fender/internal/telemetry"
)

const body = `{"id":"ch_123","amount":1000,"currency":"usd"}`

// newProxy builds the handler as `fender serve` does for one upstream with
// every default policy (concurrency raised to 1000, as in proxy.sh), a JSON
// logger at level writing to w, and base as the upstream transport.
func newProxy(tb testing.TB, url string, w io.Writer, level string, base http.RoundTripper) *proxy.Proxy {
	tb.Helper()
	cfg := config.Default()
	uc := config.DefaultUpstream()
	uc.URL = url
	uc.AllowPrivateNetwork = true
	uc.Concurrency.Max = 1000
	cfg.Upstreams = map[string]*config.Upstream{"origin": uc}
	lg, err := telemetry.NewLogger(w, level, "json")
	if err != nil {
		tb.Fatal(err)
	}
	tr, err := telemetry.NewTracing(tb.Context(), func(string) string { return "" }, "bench")
	if err != nil {
		tb.Fatal(err)
	}
	px, err := proxy.New(cfg, proxy.Options{Logger: lg, Metrics: telemetry.NewMetrics(), Tracing: tr, Base: base})
	if err != nil {
		tb.Fatal(err)
	}
	return px
}

// cannedTransport answers every attempt with the origin's response without
// touching the network, so the benchmark counts only fender's own work.
type cannedTransport struct{}

func (cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{
		Status: "200 OK", StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}, "Content-Length": {"46"}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       r,
	}, nil
}

// BenchmarkHandler is one proxied GET through ServeHTTP: routing, header
// hygiene, the policy chain, the response copy and the log line.
//
//	go test -run '^$' -bench Handler -benchmem ./bench/
func BenchmarkHandler(b *testing.B) {
	for _, bc := range []struct{ name, level string }{
		{"log=info", "info"},   // as proxy.sh runs it; the line goes to io.Discard
		{"log=error", "error"}, // the request's log line is not built
	} {
		b.Run(bc.name, func(b *testing.B) {
			px := newProxy(b, "http://127.0.0.1:1", io.Discard, bc.level, cannedTransport{})
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("GET", "/origin/v1/charges/ch_123", nil)
				rec := httptest.NewRecorder()
				px.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// BenchmarkBaseline is the request and recorder allocations BenchmarkHandler
// pays outside fender; subtract it.
func BenchmarkBaseline(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/origin/v1/charges/ch_123", nil)
		rec := httptest.NewRecorder()
		rec.WriteHeader(200)
		_ = req
	}
}
