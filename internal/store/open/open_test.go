package open_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/fender-dev/fender/internal/store"
	"github.com/fender-dev/fender/internal/store/open"
)

func TestOpen(t *testing.T) {
	ctx := context.Background()
	s, err := open.Open(ctx, "sqlite", filepath.Join(t.TempDir(), "f.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	s.Close()

	if _, err := open.Open(ctx, "mysql", "x"); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("Open(mysql) err = %v, want ErrInvalid", err)
	}

	dsn := os.Getenv("FENDER_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Log("FENDER_TEST_POSTGRES_DSN not set: postgres not opened")
		return
	}
	// A schema of its own, chosen through the DSN (pgx passes unknown URL
	// parameters on as run-time parameters).
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		t.Skipf("FENDER_TEST_POSTGRES_DSN is not a URL: %q", dsn)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "fender_test_" + hex.EncodeToString(b[:])
	admin := func(sql string) {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	admin("CREATE SCHEMA " + schema)
	defer admin("DROP SCHEMA " + schema + " CASCADE")
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()

	s, err = open.Open(ctx, "postgres", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}
