package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/fender-dev/fender/internal/store"
	"github.com/fender-dev/fender/internal/store/migrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Config configures a Store. Only Path is required.
type Config struct {
	// Path is the database file; it is created when missing.
	Path string
	// MaxBatch is the most write requests committed in one transaction;
	// 0 means 1000. 1 turns group commit off (one transaction per write).
	MaxBatch int
	// ReadConns is the size of the read pool; 0 means 4.
	ReadConns int
}

// Store is the SQLite implementation of store.Store. It is safe for
// concurrent use; the zero value is not usable, call Open.
type Store struct {
	wdb, rdb *sql.DB
	stmts    statements
	maxBatch int

	mu      sync.RWMutex // guards sending on reqs against close(reqs)
	reqs    chan *request
	closed  atomic.Bool
	done    chan struct{} // closed when the writer goroutine has returned
	closeMu sync.Mutex
}

var _ store.Store = (*Store)(nil)

// Open opens (creating and migrating as needed) the database at path.
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenConfig(ctx, Config{Path: path})
}

// OpenConfig opens the database described by cfg.
func OpenConfig(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Path == "" || strings.ContainsAny(cfg.Path, "?#") || cfg.Path == ":memory:" {
		return nil, fmt.Errorf("sqlite: open %q: need a file path without ? or #", cfg.Path)
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1000
	}
	if cfg.ReadConns <= 0 {
		cfg.ReadConns = 4
	}
	const common = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
	wdb, err := sql.Open("sqlite", cfg.Path+"?"+common+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.Path, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	if err := migrateDB(ctx, wdb); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.Path, err)
	}
	rdb, err := sql.Open("sqlite", cfg.Path+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.Path, err)
	}
	rdb.SetMaxOpenConns(cfg.ReadConns)
	rdb.SetMaxIdleConns(cfg.ReadConns)
	s := &Store{
		wdb:      wdb,
		rdb:      rdb,
		maxBatch: cfg.MaxBatch,
		reqs:     make(chan *request, cfg.MaxBatch),
		done:     make(chan struct{}),
	}
	if err := s.stmts.prepare(ctx, wdb); err != nil {
		s.stmts.close()
		wdb.Close()
		rdb.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.Path, err)
	}
	go s.writer()
	return s, nil
}

// Close finishes the queued writes, stops the writer and closes the
// database. It is safe to call more than once; later calls return nil.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed.Load() {
		return nil
	}
	s.mu.Lock()
	s.closed.Store(true)
	close(s.reqs)
	s.mu.Unlock()
	<-s.done
	s.stmts.close()
	return errors.Join(s.wdb.Close(), s.rdb.Close())
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	var one int
	if err := s.rdb.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return s.fail("ping", err)
	}
	return nil
}

// fail wraps err with the operation name, reporting ErrClosed when the
// store was closed underneath the call.
func (s *Store) fail(op string, err error) error {
	if s.closed.Load() && !errors.Is(err, store.ErrClosed) {
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrClosed)
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

func migrateDB(ctx context.Context, db *sql.DB) error {
	ms, err := migrate.Load(migrationFS, "migrations")
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: one migrator at a time
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)))`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, m := range ms {
		if m.Version <= current {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("migrate %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", m.Version, m.Name); err != nil {
			return fmt.Errorf("migrate %s: %w", m.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
