package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fender-dev/fender/internal/config"
	"github.com/fender-dev/fender/internal/proxy"
	"github.com/fender-dev/fender/internal/store"
	"github.com/fender-dev/fender/internal/store/postgres"
	"github.com/fender-dev/fender/internal/store/sqlite"
	"github.com/fender-dev/fender/internal/telemetry"
)

// stores opens each store the idempotency benchmarks run on: SQLite in a
// temporary directory, and PostgreSQL in a fresh schema when
// FENDER_TEST_POSTGRES_DSN is set.
func stores(b *testing.B) map[string]store.Store {
	b.Helper()
	out := map[string]store.Store{}
	sl, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sl.Close() })
	out["sqlite"] = sl
	if dsn := os.Getenv("FENDER_TEST_POSTGRES_DSN"); dsn != "" {
		schema := fmt.Sprintf("bench_%d", rand.Uint32())
		if err := exec.Command("psql", dsn, "-q", "-c", "CREATE SCHEMA "+schema).Run(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { exec.Command("psql", dsn, "-q", "-c", "DROP SCHEMA "+schema+" CASCADE").Run() })
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		pg, err := postgres.Open(context.Background(), dsn+sep+"search_path="+schema)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { pg.Close() })
		out["postgres"] = pg
	}
	return out
}

func storeProxy(b *testing.B, st store.Store) *proxy.Proxy {
	cfg := config.Default()
	uc := config.DefaultUpstream()
	uc.URL = "http://127.0.0.1:1"
	uc.AllowPrivateNetwork = true
	uc.Concurrency.Max = 10000
	cfg.Upstreams = map[string]*config.Upstream{"origin": uc}
	lg, _ := telemetry.NewLogger(io.Discard, "info", "json")
	px, err := proxy.New(cfg, proxy.Options{Logger: lg, Metrics: telemetry.NewMetrics(), Base: cannedTransport{},
		Idempotency: st, Jobs: st, Cache: st, Retention: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	return px
}

// BenchmarkKeyedPOST is a POST through the proxy with and without an
// Idempotency-Key (each key new: the full begin + complete path), on each
// store, concurrently. The ratio keyed/plain is the added cost of the
// idempotency record.
//
//	FENDER_TEST_POSTGRES_DSN=... go test -run '^$' -bench KeyedPOST ./bench/
func BenchmarkKeyedPOST(b *testing.B) {
	for name, st := range stores(b) {
		px := storeProxy(b, st)
		var n atomic.Int64
		one := func(b *testing.B, keyed bool) {
			req := httptest.NewRequest("POST", "/origin/v1/charges", strings.NewReader(`{"amount":100}`))
			if keyed {
				req.Header.Set("Idempotency-Key", fmt.Sprintf("k-%d", n.Add(1)))
			}
			rec := httptest.NewRecorder()
			px.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
		for _, keyed := range []bool{false, true} {
			// Latency: one request at a time.
			b.Run(fmt.Sprintf("store=%s/keyed=%v/serial", name, keyed), func(b *testing.B) {
				for b.Loop() {
					one(b, keyed)
				}
			})
			// Throughput: 16 goroutines per CPU share the group commits.
			b.Run(fmt.Sprintf("store=%s/keyed=%v/parallel", name, keyed), func(b *testing.B) {
				b.SetParallelism(16)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						one(b, keyed)
					}
				})
			})
		}
	}
}

// BenchmarkAsyncEnqueue is Prefer: respond-async through the proxy: each
// 202 means the job is durable. Reported as accepted jobs/s.
func BenchmarkAsyncEnqueue(b *testing.B) {
	for name, st := range stores(b) {
		px := storeProxy(b, st)
		b.Run("store="+name, func(b *testing.B) {
			b.SetParallelism(32)
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest("POST", "/origin/v1/payouts", strings.NewReader(`{"amount":5}`))
					req.Header.Set("Prefer", "respond-async")
					rec := httptest.NewRecorder()
					px.ServeHTTP(rec, req)
					if rec.Code != 202 {
						b.Fatalf("status %d: %s", rec.Code, rec.Body)
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
		})
	}
}

// failingTransport answers every attempt with 503.
type failingTransport struct{}

func (failingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 503, Status: "503 Service Unavailable", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: http.NoBody, Request: r}, nil
}

// switchTransport sends to ok until fail is set.
type switchTransport struct{ fail atomic.Bool }

func (s *switchTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if s.fail.Load() {
		return failingTransport{}.RoundTrip(r)
	}
	return cannedTransport{}.RoundTrip(r)
}

// BenchmarkStaleGET compares a fresh proxied GET with one answered from the
// stale-if-error cache while the upstream fails (SQLite store).
//
//	go test -run '^$' -bench StaleGET ./bench/
func BenchmarkStaleGET(b *testing.B) {
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "cache.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	sw := &switchTransport{}
	cfg := config.Default()
	uc := config.DefaultUpstream()
	uc.URL = "http://127.0.0.1:1"
	uc.AllowPrivateNetwork = true
	uc.Cache.StaleIfError = time.Hour
	uc.Retry.MaxAttempts = 1
	uc.Breaker.MinRequests = 1 << 30 // measure the stale path, not the breaker
	uc.Throttle.K = 0
	cfg.Upstreams = map[string]*config.Upstream{"origin": uc}
	lg, _ := telemetry.NewLogger(io.Discard, "info", "json")
	px, err := proxy.New(cfg, proxy.Options{Logger: lg, Metrics: telemetry.NewMetrics(), Base: sw, Cache: st, Retention: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	get := func(b *testing.B, want string) {
		req := httptest.NewRequest("GET", "/origin/v1/products/p_1", nil)
		rec := httptest.NewRecorder()
		px.ServeHTTP(rec, req)
		if rec.Code != 200 || rec.Header().Get("Fender-Cache") != want {
			b.Fatalf("status %d cache %q, want 200 %q", rec.Code, rec.Header().Get("Fender-Cache"), want)
		}
	}
	b.Run("fresh", func(b *testing.B) {
		for b.Loop() {
			get(b, "")
		}
	})
	time.Sleep(100 * time.Millisecond) // the background cache write lands
	sw.fail.Store(true)
	b.Run("stale", func(b *testing.B) {
		for b.Loop() {
			get(b, "stale")
		}
	})
}
