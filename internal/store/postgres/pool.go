package postgres

import (
	"context"
	"errors"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pool is a minimal connection pool: at most max connections, opened on
// demand, idle ones reused after a cheap liveness check, broken ones
// dropped. It is safe for concurrent use.
type pool struct {
	cfg  *pgx.ConnConfig
	sem  chan struct{}  // one token per open or opening connection
	idle chan *pgx.Conn // idle connections

	mu     sync.Mutex
	closed bool
}

var errPoolClosed = errors.New("pool closed")

func newPool(cfg *pgx.ConnConfig, max int) *pool {
	return &pool{cfg: cfg, sem: make(chan struct{}, max), idle: make(chan *pgx.Conn, max)}
}

// acquire returns a connection to give back with release.
func (p *pool) acquire(ctx context.Context) (*pgx.Conn, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for {
		select {
		case c := <-p.idle:
			if c.IsClosed() || c.PgConn().CheckConn() != nil {
				c.Close(context.Background())
				continue
			}
			return c, nil
		default:
		}
		break
	}
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		<-p.sem
		return nil, errPoolClosed
	}
	c, err := pgx.ConnectConfig(ctx, p.cfg)
	if err != nil {
		<-p.sem
		return nil, err
	}
	return c, nil
}

// release gives c back. err is the outcome of its last use: a connection
// that failed for any reason but an SQL error from the server is closed.
func (p *pool) release(c *pgx.Conn, err error) {
	defer func() { <-p.sem }()
	var pgErr *pgconn.PgError
	if (err != nil && !errors.As(err, &pgErr)) || c.IsClosed() || c.PgConn().IsBusy() || c.PgConn().TxStatus() != 'I' {
		c.Close(context.Background())
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close(context.Background())
		return
	}
	select {
	case p.idle <- c:
	default:
		c.Close(context.Background())
	}
}

// with runs fn on a pooled connection.
func (p *pool) with(ctx context.Context, fn func(c *pgx.Conn) error) error {
	c, err := p.acquire(ctx)
	if err != nil {
		return err
	}
	err = fn(c)
	p.release(c, err)
	return err
}

// close closes the idle connections; busy ones are closed as they come back.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	for {
		select {
		case c := <-p.idle:
			c.Close(context.Background())
		default:
			return
		}
	}
}
