package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fender-dev/fender/internal/store"
	"github.com/fender-dev/fender/internal/store/migrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Config configures a Store. Only DSN is required.
type Config struct {
	// DSN is a PostgreSQL URL or key=value string.
	DSN string
	// Schema, when set, is the schema fender's tables live in (it must
	// exist); it becomes the connections' search_path.
	Schema string
	// MaxConns bounds the connections; 0 means 10.
	MaxConns int
	// MaxBatch is the most ingests (or enqueued jobs) written in one round
	// trip; 0 means 1000. 1 turns group commit off (one INSERT each).
	MaxBatch int
	// FlushTimeout bounds one batch round trip, so an unreachable database
	// fails queued ingests instead of holding them; 0 means 10s.
	FlushTimeout time.Duration
}

// Store is the PostgreSQL implementation of store.Store. It is safe for
// concurrent use; the zero value is not usable, call Open.
type Store struct {
	pool         *pgxpool.Pool
	maxBatch     int
	flushTimeout time.Duration

	mu      sync.RWMutex // guards sending on ingests and jobs against close
	ingests chan *ingestReq
	jobs    chan *jobReq
	closed  atomic.Bool
	wg      sync.WaitGroup // batchers
	closeMu sync.Mutex
}

var _ store.Store = (*Store)(nil)

// flushers is how many ingest batches, and how many job batches, may be
// in flight at once.
const flushers = 2

// Open connects to dsn and migrates the schema.
func Open(ctx context.Context, dsn string) (*Store, error) {
	return OpenConfig(ctx, Config{DSN: dsn})
}

// OpenConfig connects as cfg says and migrates the schema.
func OpenConfig(ctx context.Context, cfg Config) (*Store, error) {
	pc, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	cc := pc.ConnConfig
	if cfg.Schema != "" {
		cc.RuntimeParams["search_path"] = cfg.Schema
	}
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = 5 * time.Second
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 10
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1000
	}
	if cfg.FlushTimeout <= 0 {
		cfg.FlushTimeout = 10 * time.Second
	}
	pc.MaxConns = int32(cfg.MaxConns)
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	s := &Store{
		pool:         pool,
		maxBatch:     cfg.MaxBatch,
		flushTimeout: cfg.FlushTimeout,
		ingests:      make(chan *ingestReq, cfg.MaxBatch),
		jobs:         make(chan *jobReq, cfg.MaxBatch),
	}
	if err := s.with(ctx, func(c *pgx.Conn) error { return migrateDB(ctx, c) }); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if cfg.MaxBatch > 1 {
		for range flushers {
			s.wg.Add(2)
			go s.batcher()
			go s.jobBatcher()
		}
	}
	return s, nil
}

// Close finishes queued ingests and closes the connections. It is safe to
// call more than once; later calls return nil.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed.Load() {
		return nil
	}
	s.mu.Lock()
	s.closed.Store(true)
	close(s.ingests)
	close(s.jobs)
	s.mu.Unlock()
	s.wg.Wait()
	s.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	err := s.with(ctx, func(c *pgx.Conn) error { return c.Ping(ctx) })
	if err != nil {
		return s.fail("ping", err)
	}
	return nil
}

// with runs fn on a pooled connection, unless the store is closed. A
// connection fn leaves broken or inside a transaction is closed by the pool
// rather than reused.
func (s *Store) with(ctx context.Context, fn func(c *pgx.Conn) error) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	return s.conn(ctx, fn)
}

// conn runs fn on a pooled connection even while Close drains the batchers.
func (s *Store) conn(ctx context.Context, fn func(c *pgx.Conn) error) error {
	return s.pool.AcquireFunc(ctx, func(c *pgxpool.Conn) error { return fn(c.Conn()) })
}

func (s *Store) fail(op string, err error) error {
	if s.closed.Load() && !errors.Is(err, store.ErrClosed) {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrClosed)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// migrateDB applies the missing migrations in one transaction, holding an
// advisory lock for the schema so concurrent starts apply each once.
func migrateDB(ctx context.Context, c *pgx.Conn) error {
	ms, err := migrate.Load(migrationFS, "migrations")
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('fender.migrate.' || current_schema()))"); err != nil {
			return fmt.Errorf("migrate lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			name       text        NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		var current int
		if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&current); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		for _, m := range ms {
			if m.Version <= current {
				continue
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migrate %s: %w", m.Name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name); err != nil {
				return fmt.Errorf("migrate %s: %w", m.Name, err)
			}
		}
		return nil
	})
}
