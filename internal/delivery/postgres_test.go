package delivery_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fender-dev/fender/internal/store"
	"github.com/fender-dev/fender/internal/store/postgres"
)

// openPostgres opens a store in a schema of its own (dropped at cleanup),
// as internal/store/postgres's tests do. Without FENDER_TEST_POSTGRES_DSN
// the test is skipped.
func openPostgres(t *testing.T) store.Store {
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
			t.Fatalf("connect: %v", err)
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	admin("CREATE SCHEMA " + schema)
	t.Cleanup(func() { admin("DROP SCHEMA " + schema + " CASCADE") })
	st, err := postgres.OpenConfig(context.Background(), postgres.Config{DSN: dsn, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
