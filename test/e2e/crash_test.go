package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fender-dev/fender/webhook"
)

const stripeSecret = "whsec_e2e_crash_secret"

// deliveryLog is the simulated application: it records every delivery.
type deliveryLog struct {
	mu         sync.Mutex
	webhookIDs map[string]map[string]bool // provider event id → Webhook-Id values seen
	count      map[string]int
}

func newDeliveryLog() *deliveryLog {
	return &deliveryLog{webhookIDs: map[string]map[string]bool{}, count: map[string]int{}}
}

func (d *deliveryLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ev := r.Header.Get("Fender-Event-Id")
	wid := r.Header.Get("Webhook-Id")
	d.mu.Lock()
	if d.webhookIDs[ev] == nil {
		d.webhookIDs[ev] = map[string]bool{}
	}
	d.webhookIDs[ev][wid] = true
	d.count[ev]++
	d.mu.Unlock()
}

func (d *deliveryLog) missing(acked []string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, id := range acked {
		if d.count[id] == 0 {
			out = append(out, id)
		}
	}
	return out
}

func sourceConfig(webhooks, admin, appURL, storage string) string {
	return fmt.Sprintf(`listen: { proxy: "", webhooks: %s, admin: %s }
storage: %s
log: { level: warn, format: json }
shutdown_timeout: 2s
sources:
  stripe:
    path: /webhooks/stripe
    verify: { scheme: stripe, secret: %s }
    event_id: body.id
    deliver:
      url: %s
      timeout: 2s
      concurrency: 8
      schedule: [0s, 100ms, 200ms, 400ms, 800ms, 1s, 1s, 1s, 1s, 1s]
`, webhooks, admin, storage, stripeSecret, appURL)
}

// TestCrashSafetySQLite: kill -9 fender 20 times under webhook load; every
// acknowledged event is delivered at least once, and duplicates carry the
// same Webhook-Id.
func TestCrashSafetySQLite(t *testing.T) {
	dir := t.TempDir()
	crashTest(t, fmt.Sprintf("{ driver: sqlite, dsn: %s }", filepath.Join(dir, "fender.db")))
}

func TestCrashSafetyPostgres(t *testing.T) {
	dsn := os.Getenv("FENDER_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("FENDER_TEST_POSTGRES_DSN not set: skipping the PostgreSQL crash test")
	}
	schema := fmt.Sprintf("fender_e2e_%d", rand.Uint32())
	psql(t, dsn, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { psql(t, dsn, "DROP SCHEMA "+schema+" CASCADE") })
	crashTest(t, fmt.Sprintf("{ driver: postgres, dsn: %q }", withSearchPath(dsn, schema)))
}

func withSearchPath(dsn, schema string) string {
	sep := "?"
	if bytes.ContainsRune([]byte(dsn), '?') {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema
}

func psql(t *testing.T, dsn, sql string) {
	t.Helper()
	out, err := exec.Command("psql", dsn, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql).CombinedOutput()
	if err != nil {
		t.Fatalf("psql %q: %v\n%s", sql, err, out)
	}
}

func crashTest(t *testing.T, storage string) {
	if testing.Short() {
		t.Skip("crash test")
	}
	app := newDeliveryLog()
	appSrv := httptest.NewServer(app)
	defer appSrv.Close()
	webhooks, admin := freePort(t), freePort(t)
	cfgPath := filepath.Join(t.TempDir(), "fender.yaml")
	writeFile(t, cfgPath, sourceConfig(webhooks, admin, appSrv.URL, storage))

	f := start(t, cfgPath, admin)
	var (
		mu    sync.Mutex
		acked []string
		seq   atomic.Int64
		sent  atomic.Int64
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("evt_%d", seq.Add(1))
				body := []byte(fmt.Sprintf(`{"id":%q,"type":"charge.succeeded","data":{"object":{"id":"ch_%s"}}}`, id, id))
				req, _ := http.NewRequestWithContext(context.Background(), "POST", "http://"+webhooks+"/webhooks/stripe", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Stripe-Signature", webhook.SignStripe(stripeSecret, time.Now(), body))
				sent.Add(1)
				resp, err := client.Do(req)
				if err != nil {
					time.Sleep(10 * time.Millisecond) // fender is down: the provider retries later
					continue
				}
				resp.Body.Close()
				if resp.StatusCode == 200 {
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				}
			}
		}()
	}
	const kills = 20
	for i := range kills {
		time.Sleep(time.Duration(100+rand.IntN(300)) * time.Millisecond)
		f.cmd.Process.Kill() // SIGKILL: no drain, no lease release
		f.wait(10 * time.Second)
		f = start(t, cfgPath, admin)
		_ = i
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()

	mu.Lock()
	ackedCopy := append([]string(nil), acked...)
	mu.Unlock()
	// Leases held by killed processes expire; the last instance delivers the rest.
	deadline := time.Now().Add(90 * time.Second)
	var missing []string
	for time.Now().Before(deadline) {
		if missing = app.missing(ackedCopy); len(missing) == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	app.mu.Lock()
	dups, mixed := 0, 0
	for ev, n := range app.count {
		if n > 1 {
			dups++
		}
		if len(app.webhookIDs[ev]) > 1 {
			mixed++
		}
	}
	app.mu.Unlock()
	t.Logf("%d kills: %d webhooks sent, %d acknowledged, %d delivered more than once, %d never delivered",
		kills, sent.Load(), len(ackedCopy), dups, len(missing))
	if len(ackedCopy) < 100 {
		t.Errorf("only %d webhooks acknowledged: the load did not run", len(ackedCopy))
	}
	if len(missing) > 0 {
		t.Errorf("%d acknowledged events were never delivered, e.g. %v", len(missing), missing[:min(5, len(missing))])
	}
	if mixed > 0 {
		t.Errorf("%d events were delivered under different Webhook-Ids", mixed)
	}
}
