package postgres_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/fender-dev/fender/internal/store"
)

// tcpProxy stands between the store and PostgreSQL so a test can take the
// database away (refuse, or accept and never answer) and bring it back.
type tcpProxy struct {
	t      *testing.T
	addr   string
	target string

	mu        sync.Mutex
	ln        net.Listener
	conns     []net.Conn
	blackhole bool
}

func newProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{t: t, target: target}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.down)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns = append(p.conns, c)
			hole := p.blackhole
			p.mu.Unlock()
			if hole {
				continue // accepted, never answered
			}
			go func() {
				up, err := net.Dial("tcp", p.target)
				if err != nil {
					c.Close()
					return
				}
				p.mu.Lock()
				p.conns = append(p.conns, up)
				p.mu.Unlock()
				go func() { io.Copy(up, c); up.Close() }()
				io.Copy(c, up)
				c.Close()
			}()
		}
	}()
}

// down refuses new connections and cuts the open ones.
func (p *tcpProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// hang cuts the open connections and accepts new ones without answering.
func (p *tcpProxy) hang() {
	p.down()
	p.mu.Lock()
	p.blackhole = true
	p.mu.Unlock()
	p.listen()
}

func (p *tcpProxy) up() {
	p.down()
	p.mu.Lock()
	p.blackhole = false
	p.mu.Unlock()
	p.listen()
}

func (p *tcpProxy) listen() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// TestStoreDown: with PostgreSQL unreachable Ingest fails promptly (and
// never succeeds), within the caller's deadline even when the database
// hangs; it works again once the database is back.
func TestStoreDown(t *testing.T) {
	cfg := testSchema(t)
	u, err := url.Parse(cfg.DSN)
	if err != nil || u.Host == "" {
		t.Skipf("FENDER_TEST_POSTGRES_DSN is not a URL with a host: %q", cfg.DSN)
	}
	proxy := newProxy(t, u.Host)
	u.Host = proxy.addr
	cfg.DSN = u.String()
	cfg.FlushTimeout = 2 * time.Second
	s := openTest(t, cfg)

	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	ingest := func(id string, timeout time.Duration) (store.IngestResult, time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		start := time.Now()
		res, err := s.Ingest(ctx, store.NewEvent{Source: "s", EventID: id, ReceivedAt: at})
		return res, time.Since(start), err
	}
	if _, _, err := ingest("before", 10*time.Second); err != nil {
		t.Fatal(err)
	}

	proxy.down()
	if res, took, err := ingest("refused", 10*time.Second); err == nil {
		t.Fatalf("Ingest acknowledged %s with the database down", res.ID)
	} else if took > 5*time.Second {
		t.Fatalf("Ingest took %v to fail with the database refusing connections", took)
	} else {
		t.Logf("database refusing: %v after %v", err, took)
	}
	if err := s.Ping(context.Background()); err == nil {
		t.Fatal("Ping succeeded with the database down")
	}

	proxy.hang()
	if res, took, err := ingest("hanging", 300*time.Millisecond); err == nil {
		t.Fatalf("Ingest acknowledged %s with the database hanging", res.ID)
	} else if !errors.Is(err, context.DeadlineExceeded) || took > 2*time.Second {
		t.Fatalf("Ingest with the database hanging: %v after %v; want the caller's deadline", err, took)
	}

	proxy.up()
	res, _, err := ingest("after", 15*time.Second)
	if err != nil {
		t.Fatalf("Ingest after the database came back: %v", err)
	}
	if res.Duplicate {
		t.Fatal("fresh event reported duplicate")
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping after the database came back: %v", err)
	}
}
