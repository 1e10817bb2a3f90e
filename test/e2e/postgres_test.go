package e2e

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fender-dev/fender/webhook"
)

// pgSchema makes a fresh schema for one test and returns a DSN using it.
func pgSchema(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("FENDER_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("FENDER_TEST_POSTGRES_DSN not set: skipping a PostgreSQL test")
	}
	schema := fmt.Sprintf("fender_e2e_%d", rand.Uint32())
	psql(t, dsn, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { psql(t, dsn, "DROP SCHEMA "+schema+" CASCADE") })
	return withSearchPath(dsn, schema)
}

func sendWebhook(client *http.Client, addr, id string) (int, error) {
	body := []byte(fmt.Sprintf(`{"id":%q,"type":"invoice.paid","data":{"object":{"id":"in_%s"}}}`, id, id))
	req, _ := http.NewRequest("POST", "http://"+addr+"/webhooks/stripe", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", webhook.SignStripe(stripeSecret, time.Now(), body))
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestTwoInstancesOnePostgres: two fender processes share one database;
// webhooks arrive at both; each event is delivered exactly once.
func TestTwoInstancesOnePostgres(t *testing.T) {
	dsn := pgSchema(t)
	app := newDeliveryLog()
	appSrv := httptest.NewServer(app)
	defer appSrv.Close()
	storage := fmt.Sprintf("{ driver: postgres, dsn: %q }", dsn)
	var hooks [2]string
	for i := range hooks {
		hooks[i] = freePort(t)
		admin := freePort(t)
		cfg := filepath.Join(t.TempDir(), "fender.yaml")
		writeFile(t, cfg, sourceConfig(hooks[i], admin, appSrv.URL, storage))
		start(t, cfg, admin)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	const n = 400
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, err := sendWebhook(client, hooks[i%2], fmt.Sprintf("evt_two_%d", i)); err != nil || code != 200 {
				failed.Add(1)
			}
		}()
		if i%50 == 49 {
			wg.Wait()
		}
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d webhooks not acknowledged", failed.Load())
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		app.mu.Lock()
		got := len(app.count)
		app.mu.Unlock()
		if got == n {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // a double delivery would land now
	app.mu.Lock()
	defer app.mu.Unlock()
	twice := 0
	for _, c := range app.count {
		if c > 1 {
			twice++
		}
	}
	t.Logf("%d events through two instances: %d delivered, %d more than once", n, len(app.count), twice)
	if len(app.count) != n || twice > 0 {
		t.Errorf("delivered %d of %d, %d twice", len(app.count), n, twice)
	}
}

// tcpProxy forwards a local port to target and can cut every connection.
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	up     bool
	conns  []net.Conn
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, up: true}
	t.Cleanup(func() { ln.Close(); p.setUp(false) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			up := p.up
			p.mu.Unlock()
			if !up {
				c.Close()
				continue
			}
			d, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, d)
			p.mu.Unlock()
			go func() { io.Copy(d, c); d.Close() }()
			go func() { io.Copy(c, d); c.Close() }()
		}
	}()
	return p
}

func (p *tcpProxy) setUp(up bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.up = up
	if !up {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// TestStoreDownAnswers503: with PostgreSQL unreachable, webhooks get 503 —
// never 200 — and /readyz fails; when it returns, 200 again and the events
// acknowledged around the outage are all delivered.
func TestStoreDownAnswers503(t *testing.T) {
	dsn := pgSchema(t)
	u, _ := url.Parse(dsn)
	proxy := newTCPProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	app := newDeliveryLog()
	appSrv := httptest.NewServer(app)
	defer appSrv.Close()
	hooks, admin := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "fender.yaml")
	writeFile(t, cfg, sourceConfig(hooks, admin, appSrv.URL, fmt.Sprintf("{ driver: postgres, dsn: %q }", u.String())))
	start(t, cfg, admin)
	client := &http.Client{Timeout: 20 * time.Second}
	if code, err := sendWebhook(client, hooks, "evt_before"); err != nil || code != 200 {
		t.Fatalf("before the outage: %d %v", code, err)
	}
	proxy.setUp(false)
	for i := range 5 {
		code, err := sendWebhook(client, hooks, fmt.Sprintf("evt_during_%d", i))
		if err != nil {
			t.Fatalf("during the outage: %v", err)
		}
		if code != 503 {
			t.Errorf("during the outage: %d, want 503 (never 200)", code)
		}
	}
	if code, _, _ := get(t, "http://"+admin+"/readyz"); code != 503 {
		t.Errorf("/readyz during the outage: %d, want 503", code)
	}
	proxy.setUp(true)
	deadline := time.Now().Add(20 * time.Second)
	code := 0
	for time.Now().Before(deadline) {
		code, _ = sendWebhook(client, hooks, "evt_after")
		if code == 200 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code != 200 {
		t.Fatalf("after the outage: %d, want 200", code)
	}
	// A claim whose answer was cut by the outage leaves its lease held
	// until it expires (30s by default): allow for it.
	deadline = time.Now().Add(45 * time.Second)
	for time.Now().Before(deadline) {
		if len(app.missing([]string{"evt_before", "evt_after"})) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("events acknowledged around the outage were not delivered: %v", app.missing([]string{"evt_before", "evt_after"}))
}
