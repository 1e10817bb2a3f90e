package delivery_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fender-dev/fender/internal/config"
	"github.com/fender-dev/fender/internal/delivery"
	"github.com/fender-dev/fender/internal/store"
	"github.com/fender-dev/fender/internal/store/sqlite"
	"github.com/fender-dev/fender/internal/telemetry"
	"github.com/fender-dev/fender/resilience"
	"github.com/fender-dev/fender/webhook"
)

const (
	source = "gh"
	secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

func openSQLite(t testing.TB) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "fender.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// testConfig has one source delivering to url with a short schedule.
func testConfig(url string, mod func(*config.Deliver)) *config.Config {
	cfg := config.Default()
	src := config.DefaultSource()
	src.Path = "/gh"
	src.Deliver.URL = url
	src.Deliver.SigningSecret = secret
	src.Deliver.Timeout = 2 * time.Second
	src.Deliver.Schedule = []time.Duration{0, 10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond}
	if mod != nil {
		mod(&src.Deliver)
	}
	cfg.Sources = map[string]*config.Source{source: src}
	return cfg
}

func start(t testing.TB, cfg *config.Config, st store.Store, opts delivery.Options) *delivery.Service {
	t.Helper()
	if opts.PollInterval == 0 {
		opts.PollInterval = 10 * time.Millisecond
	}
	s, err := delivery.New(cfg, st, opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Start(context.Background())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Stop(ctx)
	})
	return s
}

func ingest(t testing.TB, st store.Store, s *delivery.Service, n int, mod func(*store.NewEvent)) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		e := store.NewEvent{
			Source: source, EventID: fmt.Sprintf("evt_%d", i), ContentType: "application/json",
			Body: []byte(fmt.Sprintf(`{"n":%d}`, i)), ReceivedAt: time.Now(),
		}
		if mod != nil {
			mod(&e)
		}
		res, err := st.Ingest(context.Background(), e)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = res.ID
		if s != nil {
			s.Notify(source)
		}
	}
	return ids
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitStatus(t testing.TB, st store.Store, id, status string) (store.Event, []store.Attempt) {
	t.Helper()
	var ev store.Event
	var as []store.Attempt
	eventually(t, 10*time.Second, "event "+id+" "+status, func() bool {
		var err error
		ev, as, err = st.GetEvent(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return ev.Status == status
	})
	return ev, as
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) lines(t *testing.T, msg string) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.b.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func TestRetryThenDelivered(t *testing.T) {
	var calls atomic.Int32
	var attemptsSeen sync.Map
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		attemptsSeen.Store(n, r.Header.Get("Fender-Attempt"))
		if n < 3 {
			http.Error(w, "boom "+strconv.Itoa(int(n)), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer app.Close()
	st := openSQLite(t)
	var logs syncBuffer
	lg, _ := telemetry.NewLogger(&logs, "info", "json")
	m := telemetry.NewMetrics()
	s := start(t, testConfig(app.URL, nil), st, delivery.Options{Logger: lg, Metrics: m})
	id := ingest(t, st, s, 1, nil)[0]

	ev, as := waitStatus(t, st, id, store.StatusDelivered)
	if ev.Attempts != 3 || len(as) != 3 {
		t.Fatalf("attempts = %d (%d recorded), want 3", ev.Attempts, len(as))
	}
	for i, want := range []struct {
		status   int
		category string
	}{{500, "server_error"}, {500, "server_error"}, {204, ""}} {
		a := as[i]
		if a.N != i+1 || a.Status != want.status || a.Category != want.category {
			t.Errorf("attempt %d = %+v, want status %d category %q", i+1, a, want.status, want.category)
		}
		if a.Duration <= 0 || a.StartedAt.IsZero() {
			t.Errorf("attempt %d: no timing: %+v", i+1, a)
		}
	}
	if !strings.Contains(as[0].ResponseExcerpt, "boom 1") || !strings.Contains(as[0].Error, "500") {
		t.Errorf("attempt 1 excerpt %q, error %q", as[0].ResponseExcerpt, as[0].Error)
	}
	for n, want := range []string{"1", "2", "3"} {
		if got, _ := attemptsSeen.Load(int32(n + 1)); got != want {
			t.Errorf("request %d: Fender-Attempt %v, want %s", n+1, got, want)
		}
	}

	// One log line per attempt.
	var lines []map[string]any
	eventually(t, 2*time.Second, "3 log lines", func() bool { lines = logs.lines(t, "delivery"); return len(lines) == 3 })
	for i, l := range lines {
		for _, k := range []string{"request_id", "source", "id", "event_id", "attempt", "status", "category", "duration_ms", "result"} {
			if _, ok := l[k]; !ok {
				t.Errorf("log line %d lacks %s: %v", i, k, l)
			}
		}
		wantResult := "retry"
		if i == 2 {
			wantResult = "delivered"
		}
		if l["result"] != wantResult || l["id"] != id || l["event_id"] != "evt_0" || l["attempt"] != float64(i+1) {
			t.Errorf("log line %d = %v", i, l)
		}
		if _, ok := l["next_at"]; ok != (wantResult == "retry") {
			t.Errorf("log line %d: next_at presence %v", i, ok)
		}
	}
	if lines[0]["request_id"] == lines[1]["request_id"] {
		t.Error("request_id repeated across attempts")
	}

	// Metrics.
	text := scrape(t, m)
	for _, want := range []string{
		`fender_deliveries_total{result="retry",source="gh"} 2`,
		`fender_deliveries_total{result="delivered",source="gh"} 1`,
		`fender_delivery_duration_seconds_count{source="gh"} 3`,
		`fender_queue_depth{kind="webhook",state="delivered"} 1`,
		`fender_queue_depth{kind="webhook",state="pending"} 0`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func scrape(t *testing.T, m *telemetry.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("metrics: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

func TestRejectedIsDead(t *testing.T) {
	for _, code := range []int{400, 404, 410, 422, 301} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			var calls atomic.Int32
			app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				if code == 301 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(code)
				io.WriteString(w, "nope")
			}))
			defer app.Close()
			st := openSQLite(t)
			s := start(t, testConfig(app.URL, nil), st, delivery.Options{})
			id := ingest(t, st, s, 1, nil)[0]
			ev, as := waitStatus(t, st, id, store.StatusDead)
			if ev.Attempts != 1 || len(as) != 1 || as[0].Status != code || as[0].Category != "client_error" {
				t.Fatalf("event %+v attempts %+v", ev, as)
			}
			if ev.LastError == "" || as[0].ResponseExcerpt != "nope" {
				t.Errorf("last error %q, excerpt %q", ev.LastError, as[0].ResponseExcerpt)
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("app called %d times, want 1", n)
			}
		})
	}
}

func TestRateLimitedRetryAfter(t *testing.T) {
	var calls atomic.Int32
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
	}))
	defer app.Close()
	st := openSQLite(t)
	// Retry-After 1s is capped at the next step (50ms) ⇒ retried within ~60ms.
	cfg := testConfig(app.URL, func(d *config.Deliver) {
		d.Schedule = []time.Duration{0, 20 * time.Millisecond, 50 * time.Millisecond}
	})
	s := start(t, cfg, st, delivery.Options{})
	begin := time.Now()
	id := ingest(t, st, s, 1, nil)[0]
	_, as := waitStatus(t, st, id, store.StatusDelivered)
	if len(as) != 2 || as[0].Status != 429 || as[0].Category != "rate_limited" || as[1].Status != 200 {
		t.Fatalf("attempts %+v", as)
	}
	gap := as[1].StartedAt.Sub(as[0].StartedAt)
	if gap < 40*time.Millisecond || time.Since(begin) > 900*time.Millisecond {
		t.Errorf("second attempt %v after the first: Retry-After should stretch 20ms toward 50ms, never to 1s", gap)
	}
}

func TestExhaustedThenReplay(t *testing.T) {
	var up atomic.Bool
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer app.Close()
	st := openSQLite(t)
	s := start(t, testConfig(app.URL, nil), st, delivery.Options{})
	id := ingest(t, st, s, 1, nil)[0]
	ev, as := waitStatus(t, st, id, store.StatusDead)
	if ev.Attempts != 4 || len(as) != 4 {
		t.Fatalf("dead after %d attempts, want 4 (the schedule's length)", ev.Attempts)
	}
	up.Store(true)
	if err := st.Replay(context.Background(), id, time.Now()); err != nil {
		t.Fatal(err)
	}
	s.Notify(source)
	ev, as = waitStatus(t, st, id, store.StatusDelivered)
	if len(as) != 5 || as[4].Status != 200 {
		t.Fatalf("after replay: %+v", as)
	}
}

func TestRequestHeaders(t *testing.T) {
	type seen struct {
		h    http.Header
		body []byte
	}
	got := make(chan seen, 1)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost {
			t.Errorf("method %s", r.Method)
		}
		got <- seen{r.Header.Clone(), b}
	}))
	defer app.Close()
	st := openSQLite(t)
	s := start(t, testConfig(app.URL, nil), st, delivery.Options{})
	body := []byte("a=1&b=%20two\n")
	id := ingest(t, st, s, 1, func(e *store.NewEvent) {
		e.Body, e.ContentType, e.ResourceKey, e.EventID = body, "application/x-www-form-urlencoded", "cus_42", "evt_hdr"
	})[0]
	var sn seen
	select {
	case sn = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery")
	}
	v, err := webhook.NewVerifier(webhook.Config{Scheme: "standard", Secrets: []string{secret}})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(sn.h, sn.body, time.Now()); err != nil {
		t.Errorf("signature does not verify: %v (headers %v)", err, sn.h)
	}
	if !bytes.Equal(sn.body, body) {
		t.Errorf("body %q, want %q", sn.body, body)
	}
	for k, want := range map[string]string{
		"Content-Type":        "application/x-www-form-urlencoded",
		"Webhook-Id":          id,
		"Fender-Source":       source,
		"Fender-Event-Id":     "evt_hdr",
		"Fender-Attempt":      "1",
		"Fender-Resource-Key": "cus_42",
		"User-Agent":          "fender",
	} {
		if g := sn.h.Get(k); g != want {
			t.Errorf("%s = %q, want %q", k, g, want)
		}
	}
	ts, err := strconv.ParseInt(sn.h.Get("Webhook-Timestamp"), 10, 64)
	if err != nil || time.Since(time.Unix(ts, 0)).Abs() > 5*time.Second {
		t.Errorf("Webhook-Timestamp %q", sn.h.Get("Webhook-Timestamp"))
	}
	waitStatus(t, st, id, store.StatusDelivered)
	// A tampered body fails verification (the verifier is really checking).
	if err := v.Verify(sn.h, append(sn.body, 'x'), time.Now()); err == nil {
		t.Error("tampered body verified")
	}
}

func TestNoSigningSecretNoSignature(t *testing.T) {
	got := make(chan http.Header, 1)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Clone() }))
	defer app.Close()
	st := openSQLite(t)
	s := start(t, testConfig(app.URL, func(d *config.Deliver) { d.SigningSecret = "" }), st, delivery.Options{})
	ingest(t, st, s, 1, nil)
	select {
	case h := <-got:
		if h.Get("Webhook-Signature") != "" || h.Get("Webhook-Id") == "" {
			t.Errorf("headers %v", h)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery")
	}
}

func TestTimeoutRetried(t *testing.T) {
	var calls atomic.Int32
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // so the server notices the client hanging up
		if calls.Add(1) == 1 {
			<-r.Context().Done() // hang until fender gives up
			return
		}
	}))
	defer app.Close()
	st := openSQLite(t)
	s := start(t, testConfig(app.URL, func(d *config.Deliver) { d.Timeout = 100 * time.Millisecond }), st, delivery.Options{})
	id := ingest(t, st, s, 1, nil)[0]
	_, as := waitStatus(t, st, id, store.StatusDelivered)
	if len(as) != 2 || as[0].Category != "timeout" || as[0].Status != 0 || as[1].Status != 200 {
		t.Fatalf("attempts %+v", as)
	}
	if as[0].Duration < 100*time.Millisecond || as[0].Duration > time.Second {
		t.Errorf("timed-out attempt took %v", as[0].Duration)
	}
}

// countingClient dials through a real TCP dialer and counts the dials.
func countingClient(dials *atomic.Int32) *http.Client {
	d := &net.Dialer{Timeout: time.Second}
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return d.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost: 16,
	}}
}

func TestBreakerStopsHammering(t *testing.T) {
	// A port nobody listens on: connection refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	st := openSQLite(t)
	cfg := testConfig("http://"+addr, func(d *config.Deliver) {
		d.Concurrency = 4
		d.Schedule = make([]time.Duration, 30) // 0 then 29 × 10ms
		for i := 1; i < len(d.Schedule); i++ {
			d.Schedule[i] = 10 * time.Millisecond
		}
	})
	var dials atomic.Int32
	s := start(t, cfg, st, delivery.Options{
		Client:  countingClient(&dials),
		Breaker: resilience.Breaker{FailureRate: 0.5, MinRequests: 4, Window: time.Minute, OpenFor: 100 * time.Millisecond, HalfOpenProbes: 1},
	})
	const n = 100
	ids := ingest(t, st, s, n, nil)
	time.Sleep(700 * time.Millisecond) // the outage
	// Without a breaker: 100 events × up to 30 attempts in 700ms. With it:
	// the first batch (4), then one probe per ~100ms.
	t.Logf("%d connection attempts during the outage", dials.Load())
	if d := dials.Load(); d > 20 {
		t.Errorf("%d connection attempts during the outage, want few", d)
	}
	depth, err := st.QueueDepth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if depth[source][store.StatusPending] != n || depth[source][store.StatusDead] != 0 {
		t.Fatalf("during outage: %v, want all %d pending", depth, n)
	}

	// The app comes back on the same address.
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen again on %s: %v", addr, err)
	}
	var hits atomic.Int32
	app := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })}
	go app.Serve(ln)
	defer app.Close()
	eventually(t, 15*time.Second, "all delivered", func() bool {
		d, err := st.QueueDepth(context.Background())
		return err == nil && d[source][store.StatusDelivered] == n
	})
	if h := hits.Load(); h != n {
		t.Errorf("app saw %d requests, want %d", h, n)
	}
	ev, _, _ := st.GetEvent(context.Background(), ids[n-1])
	if ev.Attempts > 10 {
		t.Errorf("last event needed %d attempts", ev.Attempts)
	}
}

// exactlyOnce runs two Services (two owners) on one store and checks that
// every event reaches the app exactly once.
func exactlyOnce(t *testing.T, st store.Store) {
	var mu sync.Mutex
	seen := map[string]int{}
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Header.Get("Webhook-Id")]++
		mu.Unlock()
	}))
	defer app.Close()
	cfg := testConfig(app.URL, nil)
	a := start(t, cfg, st, delivery.Options{Owner: "instance-a"})
	b := start(t, cfg, st, delivery.Options{Owner: "instance-b"})
	const n = 200
	ids := make([]string, 0, n)
	for i := range n {
		res, err := st.Ingest(context.Background(), store.NewEvent{Source: source, EventID: fmt.Sprintf("e%d", i), Body: []byte("{}"), ReceivedAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.ID)
		if i%2 == 0 {
			a.Notify(source)
		} else {
			b.Notify(source)
		}
	}
	eventually(t, 30*time.Second, "all delivered", func() bool {
		d, err := st.QueueDepth(context.Background())
		return err == nil && d[source][store.StatusDelivered] == n
	})
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != n {
		t.Errorf("app saw %d distinct ids, want %d", len(seen), n)
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("event %s delivered %d times", id, seen[id])
		}
	}
	for _, id := range ids[:5] {
		if _, as, _ := st.GetEvent(context.Background(), id); len(as) != 1 {
			t.Errorf("event %s has %d attempts", id, len(as))
		}
	}
}

func TestTwoInstancesExactlyOnceSQLite(t *testing.T) { exactlyOnce(t, openSQLite(t)) }

func TestTwoInstancesExactlyOncePostgres(t *testing.T) { exactlyOnce(t, openPostgres(t)) }

func TestStopWithDeliveryInFlight(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan string, 2)
	var first atomic.Value // Webhook-Id of the request that completes
	var healthy atomic.Bool
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if healthy.Load() {
			return
		}
		id := r.Header.Get("Webhook-Id")
		if first.CompareAndSwap(nil, id) {
			arrived <- id
			<-release // slow, but finishes
			return
		}
		arrived <- id
		io.ReadAll(r.Body)   // so the server notices the client hanging up
		<-r.Context().Done() // stuck: Stop must give up on it
	}))
	defer app.Close()
	defer close(arrived)
	st := openSQLite(t)
	cfg := testConfig(app.URL, func(d *config.Deliver) { d.Concurrency = 2 })
	a, err := delivery.New(cfg, st, delivery.Options{Owner: "a", Lease: time.Hour, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	a.Start(context.Background())
	ids := ingest(t, st, a, 2, nil)
	<-arrived
	<-arrived

	stopped := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	go func() { stopped <- a.Stop(ctx) }()
	close(release)
	var stopErr error
	select {
	case stopErr = <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not return")
	}
	if stopErr == nil {
		t.Error("Stop returned nil although a delivery had to be cancelled")
	}
	if err := a.Stop(context.Background()); err == nil || err.Error() != stopErr.Error() {
		t.Errorf("second Stop = %v, want the first result %v", err, stopErr)
	}

	done := first.Load().(string)
	var stuck string
	for _, id := range ids {
		if id != done {
			stuck = id
		}
	}
	ev, as, err := st.GetEvent(context.Background(), done)
	if err != nil || ev.Status != store.StatusDelivered || len(as) != 1 {
		t.Fatalf("in-flight delivery did not complete: %+v %+v %v", ev, as, err)
	}
	ev, as, _ = st.GetEvent(context.Background(), stuck)
	if ev.Status != store.StatusPending || len(as) != 0 {
		t.Fatalf("cancelled delivery: %+v, %d attempts; want pending with none recorded", ev, len(as))
	}

	// The lease (1h) was released: another instance delivers at once.
	healthy.Store(true)
	b := start(t, cfg, st, delivery.Options{Owner: "b"})
	b.Notify(source)
	begin := time.Now()
	waitStatus(t, st, stuck, store.StatusDelivered)
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("took %v to pick up the released event", d)
	}
}

func TestStopIdleTwiceAndBeforeStart(t *testing.T) {
	st := openSQLite(t)
	s, err := delivery.New(testConfig("http://127.0.0.1:1", nil), st, delivery.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Start(context.Background()) // no-op after Stop
	s.Notify(source)
	if err := s.Reload(testConfig("http://127.0.0.1:2", nil)); err == nil {
		t.Error("Reload after Stop succeeded")
	}
}

func TestReload(t *testing.T) {
	var mu sync.Mutex
	hits := map[string]int{}
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path+" "+r.Header.Get("Fender-Source")]++
		mu.Unlock()
	}))
	defer app.Close()
	st := openSQLite(t)
	s := start(t, testConfig(app.URL+"/v1", nil), st, delivery.Options{})
	id := ingest(t, st, s, 1, nil)[0]
	waitStatus(t, st, id, store.StatusDelivered)

	// Change the URL of gh and add a source.
	cfg := testConfig(app.URL+"/v2", nil)
	other := config.DefaultSource()
	other.Path = "/other"
	other.Deliver.URL = app.URL + "/other"
	cfg.Sources["other"] = other
	if err := s.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	res, err := st.Ingest(context.Background(), store.NewEvent{Source: "other", EventID: "o1", Body: []byte("{}")})
	if err != nil {
		t.Fatal(err)
	}
	s.Notify("other")
	id2 := ingest(t, st, s, 2, nil)[1]
	waitStatus(t, st, res.ID, store.StatusDelivered)
	waitStatus(t, st, id2, store.StatusDelivered)
	mu.Lock()
	if hits["/v1 gh"] != 1 || hits["/v2 gh"] != 1 || hits["/other other"] != 1 {
		t.Errorf("hits %v", hits)
	}
	mu.Unlock()

	// A broken config changes nothing.
	bad := testConfig("ftp://x", nil)
	if err := s.Reload(bad); err == nil {
		t.Error("Reload accepted ftp URL")
	}

	// Remove gh: its new events stay pending.
	delete(cfg.Sources, source)
	if err := s.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	res, err = st.Ingest(context.Background(), store.NewEvent{Source: source, EventID: "late", Body: []byte("{}")})
	if err != nil {
		t.Fatal(err)
	}
	s.Notify(source)
	time.Sleep(100 * time.Millisecond)
	if ev, _, _ := st.GetEvent(context.Background(), res.ID); ev.Status != store.StatusPending {
		t.Errorf("removed source's event is %s", ev.Status)
	}
}

func TestRetentionPurge(t *testing.T) {
	st := openSQLite(t)
	old := time.Now().Add(-48 * time.Hour)
	res, err := st.Ingest(context.Background(), store.NewEvent{Source: source, EventID: "old", Body: []byte("{}"), ReceivedAt: old})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := st.Claim(context.Background(), nil, "setup", 1, time.Minute, time.Now())
	if err != nil || len(evs) != 1 {
		t.Fatal(evs, err)
	}
	if err := st.Finish(context.Background(), res.ID, "setup", store.Attempt{Status: 200}, store.Outcome{Status: store.StatusDelivered}, time.Now()); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig("http://127.0.0.1:1", nil)
	cfg.Storage.Retention = 24 * time.Hour
	start(t, cfg, st, delivery.Options{})
	eventually(t, 5*time.Second, "purge", func() bool {
		_, _, err := st.GetEvent(context.Background(), res.ID)
		return err != nil
	})
}

func TestNewRejectsBadSettings(t *testing.T) {
	st := openSQLite(t)
	for name, mod := range map[string]func(*config.Deliver){
		"url":    func(d *config.Deliver) { d.URL = "not a url" },
		"secret": func(d *config.Deliver) { d.SigningSecret = "whpk_AAAA" },
	} {
		if _, err := delivery.New(testConfig("http://127.0.0.1:1", mod), st, delivery.Options{}); err == nil {
			t.Errorf("%s: New accepted a broken setting", name)
		}
	}
}
