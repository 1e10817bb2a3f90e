package proxy

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fender-dev/fender/internal/config"
	"github.com/fender-dev/fender/internal/store/sqlite"
	"github.com/fender-dev/fender/internal/telemetry"
)

// fakeClock is a settable clock for cache ages and record expiry.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// storeHarness is a proxy backed by a real SQLite store.
type storeHarness struct {
	*harness
	st    *sqlite.Store
	path  string
	clock *fakeClock
}

func newStoreHarness(t *testing.T, ups map[string]*config.Upstream, dbPath string) *storeHarness {
	t.Helper()
	if dbPath == "" {
		dbPath = filepath.Join(t.TempDir(), "fender.db")
	}
	st, err := sqlite.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := &fakeClock{now: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
	cfg := config.Default()
	cfg.Upstreams = ups
	logs := &syncBuffer{}
	m := telemetry.NewMetrics()
	p, err := New(cfg, Options{
		Logger: slog.New(slog.NewJSONHandler(logs, nil)), Metrics: m,
		Idempotency: st, Jobs: st, Cache: st, Retention: time.Hour, Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return &storeHarness{harness: &harness{proxy: p, srv: srv, logs: logs, metrics: m}, st: st, path: dbPath, clock: clock}
}
