package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fender-dev/fender/internal/store"
	"github.com/fender-dev/fender/internal/store/postgres"
	"github.com/fender-dev/fender/internal/store/storetest"
)

// testSchema creates a schema of its own for one test (dropped at cleanup)
// and returns a Config using it. Without FENDER_TEST_POSTGRES_DSN the test
// is skipped.
func testSchema(t testing.TB) postgres.Config {
	t.Helper()
	dsn := os.Getenv("FENDER_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("FENDER_TEST_POSTGRES_DSN not set: skipping PostgreSQL tests")
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "fender_test_" + hex.EncodeToString(b[:])
	admin := func(sql string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatalf("connect %s: %v", dsn, err)
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	admin("CREATE SCHEMA " + schema)
	t.Cleanup(func() { admin("DROP SCHEMA " + schema + " CASCADE") })
	return postgres.Config{DSN: dsn, Schema: schema}
}

func openTest(t testing.TB, cfg postgres.Config) *postgres.Store {
	t.Helper()
	s, err := postgres.OpenConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Exercise(t, func(t *testing.T) store.Store { return openTest(t, testSchema(t)) })
}

func TestReopen(t *testing.T) {
	cfg := testSchema(t)
	storetest.Reopen(t, func(t *testing.T) store.Store { return openTest(t, cfg) })
}

// TestMigrateConcurrently: instances starting together on an empty schema
// all come up, and each version is applied once.
func TestMigrateConcurrently(t *testing.T) {
	cfg := testSchema(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			s, err := postgres.OpenConfig(context.Background(), cfg)
			if err != nil {
				t.Error(err)
				return
			}
			s.Close()
		})
	}
	wg.Wait()
	s := openTest(t, cfg)
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v, %v", files, err)
	}
	var n int
	queryOne(t, cfg, "SELECT COUNT(*) FROM schema_migrations", &n)
	if n != len(files) {
		t.Fatalf("%d schema_migrations rows, want %d", n, len(files))
	}
	_ = s
}

// TestPurgeRemovesAttempts looks under the contract: purged events take
// their attempt rows with them.
func TestPurgeRemovesAttempts(t *testing.T) {
	cfg := testSchema(t)
	s := openTest(t, cfg)
	ctx := context.Background()
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, received := range []time.Time{at, at.Add(48 * time.Hour)} {
		if _, err := s.Ingest(ctx, store.NewEvent{Source: "s", EventID: received.String(), ReceivedAt: received}); err != nil {
			t.Fatal(err)
		}
		es, err := s.Claim(ctx, nil, "w", 1, time.Minute, received)
		if err != nil || len(es) != 1 {
			t.Fatalf("Claim = %v, %v", es, err)
		}
		if err := s.Finish(ctx, es[0].ID, "w", store.Attempt{StartedAt: received}, store.Outcome{Status: store.StatusDead}, received); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.Purge(ctx, at.Add(24*time.Hour)); err != nil || n != 1 {
		t.Fatalf("Purge = %d, %v", n, err)
	}
	var n int
	queryOne(t, cfg, "SELECT COUNT(*) FROM attempts", &n)
	if n != 1 {
		t.Fatalf("%d attempt rows left, want 1", n)
	}
}

func queryOne(t testing.TB, cfg postgres.Config, sql string, dst any) {
	t.Helper()
	ctx := context.Background()
	cc, err := pgx.ParseConfig(cfg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	cc.RuntimeParams["search_path"] = cfg.Schema
	c, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if err := c.QueryRow(ctx, sql).Scan(dst); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
