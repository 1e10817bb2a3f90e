package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fender-dev/fender/internal/config"
	"github.com/fender-dev/fender/internal/delivery"
	"github.com/fender-dev/fender/internal/proxy"
	"github.com/fender-dev/fender/internal/store"
	"github.com/fender-dev/fender/internal/store/sqlite"
	"github.com/fender-dev/fender/internal/telemetry"
	"github.com/fender-dev/fender/webhook"
)

// apiKey is injected by the proxy; it must reach the upstream and never a
// log line.
const apiKey = "Bearer sk_live_do_not_log"

// jobUpstreamCfg is an upstream at url with a short async schedule, fast
// retries inside an attempt, no adaptive throttle, a callback signing
// secret and loopback allowed.
func jobUpstreamCfg(url string, mod func(*config.Upstream)) *config.Upstream {
	u := config.DefaultUpstream()
	u.URL = url
	u.AllowPrivateNetwork = true
	u.Headers = map[string]string{"Authorization": apiKey}
	u.Timeout.Attempt, u.Timeout.Total = time.Second, 3*time.Second
	u.Retry.Backoff.Base, u.Retry.Backoff.Max = time.Millisecond, 5*time.Millisecond
	u.Async.Schedule = []time.Duration{0, 20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond}
	u.Async.SigningSecret = secret
	// The adaptive throttle would reject some attempts at random after
	// failures (throttled is retried on the schedule, like a timeout);
	// tests that count attempts need it off.
	u.Throttle.K = 0
	if mod != nil {
		mod(u)
	}
	return u
}

// jobsHarness is a Jobs worker over a real SQLite store and a real proxy.
type jobsHarness struct {
	st      *sqlite.Store
	path    string
	px      *proxy.Proxy
	jobs    *delivery.Jobs
	metrics *telemetry.Metrics
	logs    *syncBuffer
}

func newJobsHarness(t *testing.T, ups map[string]*config.Upstream, dbPath string, opts delivery.JobOptions) *jobsHarness {
	t.Helper()
	if dbPath == "" {
		dbPath = filepath.Join(t.TempDir(), "fender.db")
	}
	st, err := sqlite.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := config.Default()
	cfg.Upstreams = ups
	h := &jobsHarness{st: st, path: dbPath, metrics: telemetry.NewMetrics(), logs: &syncBuffer{}}
	log := slog.New(slog.NewJSONHandler(h.logs, nil))
	if h.px, err = proxy.New(cfg, proxy.Options{Logger: log, Metrics: h.metrics, Jobs: st}); err != nil {
		t.Fatal(err)
	}
	opts.Logger, opts.Metrics = log, h.metrics
	if opts.PollInterval == 0 {
		opts.PollInterval = 10 * time.Millisecond
	}
	if h.jobs, err = delivery.NewJobs(cfg, st, h.px, opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h.jobs.Stop(ctx)
	})
	return h
}

func (h *jobsHarness) start() { h.jobs.Start(context.Background()) }

// enqueue stores a POST job to upstream as the proxy would.
func (h *jobsHarness) enqueue(t *testing.T, upstream, callback string, mod func(*store.NewJob)) string {
	t.Helper()
	j := store.NewJob{
		Kind: store.JobRequest, Upstream: upstream, Method: http.MethodPost, Path: "v1/charges?expand=customer",
		Header:      map[string][]string{"Content-Type": {"application/json"}, "Idempotency-Key": {"order-42"}},
		Body:        []byte(`{"amount":42}`),
		CallbackURL: callback, IdempotencyKey: "order-42",
	}
	if mod != nil {
		mod(&j)
	}
	id, err := h.st.EnqueueJob(context.Background(), j)
	if err != nil {
		t.Fatal(err)
	}
	h.jobs.Notify()
	return id
}

func waitJob(t *testing.T, st store.JobStore, id, status string) (store.Job, []store.JobAttempt) {
	t.Helper()
	var j store.Job
	var as []store.JobAttempt
	eventually(t, 10*time.Second, "job "+id+" "+status, func() bool {
		var err error
		j, as, err = st.GetJob(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return j.Status == status
	})
	return j, as
}

// callbackOf returns the callback job of parent, waiting for it to exist.
func callbackOf(t *testing.T, st store.JobStore, parent string) store.Job {
	t.Helper()
	var cb store.Job
	eventually(t, 10*time.Second, "callback job of "+parent, func() bool {
		jobs, _, err := st.ListJobs(context.Background(), store.JobFilter{Kind: store.JobCallback})
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			if j.ParentID == parent {
				cb = j
				return true
			}
		}
		return false
	})
	return cb
}

// callbackSink records callback posts and answers with status().
type callbackSink struct {
	srv    *httptest.Server
	mu     sync.Mutex
	posts  []callbackPost
	status func(n int) int
}

type callbackPost struct {
	header http.Header
	body   []byte
}

func newCallbackSink(t *testing.T, status func(n int) int) *callbackSink {
	s := &callbackSink{status: status}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.posts = append(s.posts, callbackPost{r.Header.Clone(), b})
		n := len(s.posts)
		s.mu.Unlock()
		code := http.StatusOK
		if s.status != nil {
			code = s.status(n)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *callbackSink) all() []callbackPost {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]callbackPost(nil), s.posts...)
}

// verifyCallback checks a callback's Standard Webhooks signature and
// returns its JobView.
func verifyCallback(t *testing.T, p callbackPost, cbID, parent string) proxy.JobView {
	t.Helper()
	v, err := webhook.NewVerifier(webhook.Config{Scheme: "standard", Secrets: []string{secret}})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(p.header, p.body, time.Now()); err != nil {
		t.Fatalf("callback signature: %v (headers %v)", err, p.header)
	}
	if got := p.header.Get("Webhook-Id"); got != cbID {
		t.Errorf("Webhook-Id %q, want the callback job id %q", got, cbID)
	}
	if got := p.header.Get("Fender-Job-Id"); got != parent {
		t.Errorf("Fender-Job-Id %q, want %q", got, parent)
	}
	if ct := p.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("callback Content-Type %q", ct)
	}
	var view proxy.JobView
	if err := json.Unmarshal(p.body, &view); err != nil {
		t.Fatalf("callback body %s: %v", p.body, err)
	}
	return view
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestJobUpstreamDownThenUp(t *testing.T) {
	addr := freeAddr(t)
	var calls atomic.Int32
	var gotAuth, gotKey, gotPath atomic.Value
	sink := newCallbackSink(t, nil)
	h := newJobsHarness(t, map[string]*config.Upstream{
		"api": jobUpstreamCfg("http://"+addr, func(u *config.Upstream) {
			u.Async.Schedule = []time.Duration{0, 30 * time.Millisecond, 30 * time.Millisecond, 30 * time.Millisecond,
				30 * time.Millisecond, 30 * time.Millisecond, 30 * time.Millisecond, 30 * time.Millisecond, 30 * time.Millisecond}
		}),
	}, "", delivery.JobOptions{})
	h.start()
	id := h.enqueue(t, "api", sink.srv.URL+"/done", nil)

	// Connection refused for two attempts (each with its own retries)...
	eventually(t, 10*time.Second, "two failed attempts", func() bool {
		j, _, _ := h.st.GetJob(context.Background(), id)
		return j.Attempts >= 2
	})
	// ...then 503 once, then up.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		gotAuth.Store(r.Header.Get("Authorization"))
		gotKey.Store(r.Header.Get("Idempotency-Key"))
		gotPath.Store(r.URL.RequestURI())
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":"ch_1"}`)
	}))
	up.Listener.Close()
	up.Listener = ln
	up.Start()
	defer up.Close()

	j, attempts := waitJob(t, h.st, id, store.JobSucceeded)
	if j.Response == nil || j.Response.Status != http.StatusCreated || string(j.Response.Body) != `{"id":"ch_1"}` {
		t.Fatalf("response %+v", j.Response)
	}
	if j.LastError != "" || j.FinishedAt == nil {
		t.Errorf("succeeded job: last_error %q finished_at %v", j.LastError, j.FinishedAt)
	}
	for i, a := range attempts[:len(attempts)-1] {
		if a.Category != "connect" && a.Category != "server_error" {
			t.Errorf("attempt %d: category %q, want connect or server_error", i+1, a.Category)
		}
	}
	if last := attempts[len(attempts)-1]; last.Status != http.StatusCreated || last.Category != "" {
		t.Errorf("last attempt %+v", last)
	}
	if gotAuth.Load() != apiKey || gotKey.Load() != "order-42" || gotPath.Load() != "/v1/charges?expand=customer" {
		t.Errorf("upstream saw Authorization %v, Idempotency-Key %v, path %v", gotAuth.Load(), gotKey.Load(), gotPath.Load())
	}

	cb := callbackOf(t, h.st, id)
	waitJob(t, h.st, cb.ID, store.JobSucceeded)
	time.Sleep(100 * time.Millisecond) // a second post would show up by now
	posts := sink.all()
	if len(posts) != 1 {
		t.Fatalf("%d callback posts, want exactly 1", len(posts))
	}
	view := verifyCallback(t, posts[0], cb.ID, id)
	if view.ID != id || view.Status != store.JobSucceeded || view.Attempts != len(attempts) || len(view.History) != len(attempts) {
		t.Errorf("callback view %+v, want job %s succeeded after %d attempts", view, id, len(attempts))
	}
	if view.Response == nil || view.Response.Status != http.StatusCreated || string(view.Response.Body) != `{"id":"ch_1"}` {
		t.Errorf("callback response %+v", view.Response)
	}
	if view.FinishedAt == nil || view.NextAt != nil {
		t.Errorf("callback view finished_at %v next_at %v", view.FinishedAt, view.NextAt)
	}

	// Logs: one "job" line per attempt, the injected secret in none.
	if strings.Contains(h.logs.String(), "sk_live") {
		t.Error("the injected Authorization header reached the logs")
	}
	lines := h.logs.lines(t, "job")
	var reqLines int
	for _, l := range lines {
		if l["kind"] == store.JobRequest {
			reqLines++
			if l["upstream"] != "api" || l["path"] != "/v1/charges" || l["id"] != id {
				t.Errorf("log line %v", l)
			}
		}
	}
	if reqLines != len(attempts) {
		t.Errorf("%d request log lines, want %d", reqLines, len(attempts))
	}
	m := scrape(t, h.metrics)
	for _, want := range []string{
		`fender_jobs_total{result="succeeded",upstream="api"} 1`,
		fmt.Sprintf(`fender_jobs_total{result="retry",upstream="api"} %d`, len(attempts)-1),
		`fender_jobs_total{result="callback_succeeded",upstream="api"} 1`,
		`fender_queue_depth{kind="job",state="succeeded"} 1`,
		`fender_queue_depth{kind="callback",state="succeeded"} 1`,
		`fender_queue_depth{kind="job",state="pending"} 0`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// String returns everything logged so far.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestJobFinalResponseFails(t *testing.T) {
	var calls atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"amount too small"}`)
	}))
	defer up.Close()
	sink := newCallbackSink(t, nil)
	h := newJobsHarness(t, map[string]*config.Upstream{"api": jobUpstreamCfg(up.URL, nil)}, "", delivery.JobOptions{})
	h.start()
	id := h.enqueue(t, "api", sink.srv.URL, nil)

	j, attempts := waitJob(t, h.st, id, store.JobFailed)
	if j.Response == nil || j.Response.Status != 400 || string(j.Response.Body) != `{"error":"amount too small"}` {
		t.Fatalf("response %+v", j.Response)
	}
	if len(attempts) != 1 || calls.Load() != 1 || attempts[0].Category != "client_error" || !strings.Contains(j.LastError, "400") {
		t.Fatalf("attempts %+v, %d calls, last error %q; want one client_error", attempts, calls.Load(), j.LastError)
	}
	cb := callbackOf(t, h.st, id)
	waitJob(t, h.st, cb.ID, store.JobSucceeded)
	posts := sink.all()
	if len(posts) != 1 {
		t.Fatalf("%d callback posts", len(posts))
	}
	view := verifyCallback(t, posts[0], cb.ID, id)
	if view.Status != store.JobFailed || view.Response == nil || view.Response.Status != 400 ||
		string(view.Response.Body) != `{"error":"amount too small"}` {
		t.Errorf("callback view %+v", view)
	}
}

func TestJobServerErrorNotInRetryOnFails(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError) // 500 is not in the default retry.on
	}))
	defer up.Close()
	h := newJobsHarness(t, map[string]*config.Upstream{"api": jobUpstreamCfg(up.URL, nil)}, "", delivery.JobOptions{})
	h.start()
	id := h.enqueue(t, "api", "", nil)
	j, attempts := waitJob(t, h.st, id, store.JobFailed)
	if len(attempts) != 1 || j.Response == nil || j.Response.Status != 500 {
		t.Fatalf("job %+v attempts %+v", j, attempts)
	}
}

func TestJobExhaustedThenReplay(t *testing.T) {
	var healthy atomic.Bool
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	sink := newCallbackSink(t, nil)
	h := newJobsHarness(t, map[string]*config.Upstream{"api": jobUpstreamCfg(up.URL, nil)}, "", delivery.JobOptions{})
	h.start()
	id := h.enqueue(t, "api", sink.srv.URL, nil)

	j, attempts := waitJob(t, h.st, id, store.JobDead)
	if len(attempts) != 4 || j.Response == nil || j.Response.Status != 502 || !strings.Contains(j.LastError, "502") {
		t.Fatalf("dead job %+v after %d attempts; want 4 and the last 502", j, len(attempts))
	}
	cb := callbackOf(t, h.st, id)
	waitJob(t, h.st, cb.ID, store.JobSucceeded)
	if view := verifyCallback(t, sink.all()[0], cb.ID, id); view.Status != store.JobDead || view.Attempts != 4 {
		t.Errorf("callback view of the dead job: %+v", view)
	}

	healthy.Store(true)
	if err := h.st.ReplayJob(context.Background(), id, time.Now()); err != nil {
		t.Fatal(err)
	}
	h.jobs.Notify()
	j, attempts = waitJob(t, h.st, id, store.JobSucceeded)
	if len(attempts) != 5 || j.Response.Status != 200 || string(j.Response.Body) != "ok" {
		t.Fatalf("replayed job %+v, %d attempts", j, len(attempts))
	}
	// The replay ended the job again: a second callback.
	eventually(t, 10*time.Second, "second callback", func() bool { return len(sink.all()) == 2 })
	var last proxy.JobView
	json.Unmarshal(sink.all()[1].body, &last)
	if last.Status != store.JobSucceeded || last.Attempts != 5 {
		t.Errorf("second callback %+v", last)
	}
}

func TestJobCircuitOpenDefers(t *testing.T) {
	var healthy atomic.Bool
	var calls atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	h := newJobsHarness(t, map[string]*config.Upstream{"api": jobUpstreamCfg(up.URL, func(u *config.Upstream) {
		u.Retry.MaxAttempts = 1
		u.Breaker.MinRequests, u.Breaker.FailureRate, u.Breaker.OpenFor = 2, 0.5, 1500*time.Millisecond
	})}, "", delivery.JobOptions{})
	// Trip the breaker with two live calls.
	for range 2 {
		h.px.Execute(context.Background(), "api", http.MethodGet, "/", nil, nil)
	}
	if _, _, _, err := h.px.Execute(context.Background(), "api", http.MethodGet, "/", nil, nil); err == nil || !strings.Contains(err.Error(), "circuit_open") {
		t.Fatalf("breaker not open: %v", err)
	}
	before := calls.Load()
	h.start()
	id := h.enqueue(t, "api", "", nil)
	eventually(t, 5*time.Second, "job deferred", func() bool {
		j, _, _ := h.st.GetJob(context.Background(), id)
		return strings.Contains(j.LastError, "circuit_open")
	})
	j, attempts, _ := h.st.GetJob(context.Background(), id)
	if j.Status != store.JobPending || j.Attempts != 0 || len(attempts) != 0 {
		t.Fatalf("deferred job %+v with %d attempts; want pending, no attempt", j, len(attempts))
	}
	if !j.NextAt.After(time.Now().Add(500 * time.Millisecond)) {
		t.Errorf("deferred until %v, want about when the breaker half-opens", j.NextAt)
	}
	if calls.Load() != before {
		t.Errorf("the upstream was called while the breaker was open")
	}
	healthy.Store(true)
	j, attempts = waitJob(t, h.st, id, store.JobSucceeded)
	if len(attempts) != 1 || j.LastError != "" {
		t.Fatalf("job %+v, %d attempts; want one attempt once the breaker let it through", j, len(attempts))
	}
	if m := scrape(t, h.metrics); !strings.Contains(m, `fender_jobs_total{result="deferred",upstream="api"}`) {
		t.Error("no deferred count")
	}
}

func TestJobRateLimitPauseDefers(t *testing.T) {
	var calls atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	h := newJobsHarness(t, map[string]*config.Upstream{"api": jobUpstreamCfg(up.URL, func(u *config.Upstream) {
		u.Retry.MaxAttempts = 1
	})}, "", delivery.JobOptions{})
	h.start()
	a := h.enqueue(t, "api", "", nil)
	eventually(t, 5*time.Second, "first attempt", func() bool { return calls.Load() == 1 })
	waitAttempts := func(id string, n int) {
		eventually(t, 5*time.Second, "attempt recorded", func() bool {
			j, _, _ := h.st.GetJob(context.Background(), id)
			return j.Attempts == n
		})
	}
	waitAttempts(a, 1)
	b := h.enqueue(t, "api", "", nil)
	// The 429 paused the upstream for 2s: both jobs wait, no attempt burned.
	time.Sleep(300 * time.Millisecond)
	for _, id := range []string{a, b} {
		j, _, _ := h.st.GetJob(context.Background(), id)
		if j.Status != store.JobPending {
			t.Fatalf("job %s %s during the pause", id, j.Status)
		}
	}
	// Whichever job was claimed during the pause was deferred, not
	// attempted; then the upstream is not claimed until the pause ends.
	ja, _, _ := h.st.GetJob(context.Background(), a)
	jb, _, _ := h.st.GetJob(context.Background(), b)
	if ja.Attempts != 1 || jb.Attempts != 0 {
		t.Errorf("during the pause: attempts %d and %d, want 1 and 0", ja.Attempts, jb.Attempts)
	}
	if !strings.Contains(ja.LastError+jb.LastError, "rate_limited") {
		t.Errorf("no job deferred for the pause: last errors %q, %q", ja.LastError, jb.LastError)
	}
	if calls.Load() != 1 {
		t.Errorf("%d upstream calls during the pause", calls.Load())
	}
	ja, as := waitJob(t, h.st, a, store.JobSucceeded)
	jb, bs := waitJob(t, h.st, b, store.JobSucceeded)
	if len(as) != 2 || as[0].Status != 429 || len(bs) != 1 {
		t.Errorf("attempts a %+v b %+v; want a: 429 then 200, b: one", as, bs)
	}
	if ja.Response.Status != 200 || jb.Response.Status != 200 {
		t.Error("responses not stored")
	}
}

func TestJobsSurviveRestart(t *testing.T) {
	var healthy atomic.Bool
	arrived := make(chan struct{}, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			arrived <- struct{}{}
			io.ReadAll(r.Body)   // so the server notices the client hanging up
			<-r.Context().Done() // stuck until Stop gives up
			return
		}
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	ups := map[string]*config.Upstream{"api": jobUpstreamCfg(up.URL, func(u *config.Upstream) {
		u.Timeout.Attempt, u.Timeout.Total = 10*time.Second, 10*time.Second
	})}
	a := newJobsHarness(t, ups, "", delivery.JobOptions{Owner: "a", Lease: time.Hour})
	a.start()
	inFlight := a.enqueue(t, "api", "", nil)
	<-arrived
	// Enqueued while the first runs; not claimed yet if we stop at once.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := a.jobs.Stop(ctx); err == nil {
		t.Error("Stop returned nil although a job had to be cancelled")
	}
	if err := a.jobs.Stop(context.Background()); err == nil {
		t.Error("second Stop did not return the first result")
	}
	later, err := a.st.EnqueueJob(context.Background(), store.NewJob{Kind: store.JobRequest, Upstream: "api", Method: "GET", Path: "v1/x"})
	if err != nil {
		t.Fatal(err)
	}
	j, attempts, _ := a.st.GetJob(context.Background(), inFlight)
	if j.Status != store.JobPending || len(attempts) != 0 {
		t.Fatalf("cancelled job %+v with %d attempts; want pending, none recorded", j, len(attempts))
	}
	a.st.Close()

	// A new process on the same database, with a new owner: the lease (1h)
	// was released, so both run at once.
	healthy.Store(true)
	b := newJobsHarness(t, ups, a.path, delivery.JobOptions{Owner: "b", Lease: time.Hour})
	b.start()
	for _, id := range []string{inFlight, later} {
		_, attempts := waitJob(t, b.st, id, store.JobSucceeded)
		if len(attempts) != 1 {
			t.Errorf("job %s: %d attempts, want 1", id, len(attempts))
		}
	}
}

func TestCallbackRetriedThenDelivered(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	sink := newCallbackSink(t, func(n int) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	h := newJobsHarness(t, map[string]*config.Upstream{"api": jobUpstreamCfg(up.URL, nil)}, "", delivery.JobOptions{})
	h.start()
	id := h.enqueue(t, "api", sink.srv.URL, nil)
	waitJob(t, h.st, id, store.JobSucceeded)
	cb := callbackOf(t, h.st, id)
	_, attempts := waitJob(t, h.st, cb.ID, store.JobSucceeded)
	if len(attempts) != 3 || attempts[0].Status != 503 || attempts[2].Status != 204 {
		t.Fatalf("callback attempts %+v", attempts)
	}
	posts := sink.all()
	if len(posts) != 3 {
		t.Fatalf("%d posts", len(posts))
	}
	for i, p := range posts {
		verifyCallback(t, p, cb.ID, id) // same Webhook-Id every time
		if got := p.header.Get("Fender-Attempt"); got != fmt.Sprint(i+1) {
			t.Errorf("post %d: Fender-Attempt %q", i+1, got)
		}
	}
}

func TestCallbackExhaustedIsDead(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	sink := newCallbackSink(t, func(int) int { return http.StatusNotFound })
	h := newJobsHarness(t, map[string]*config.Upstream{"api": jobUpstreamCfg(up.URL, func(u *config.Upstream) {
		u.Async.SigningSecret = "" // unsigned callbacks
	})}, "", delivery.JobOptions{})
	h.start()
	id := h.enqueue(t, "api", sink.srv.URL, nil)
	cb := callbackOf(t, h.st, id)
	c, attempts := waitJob(t, h.st, cb.ID, store.JobDead)
	if len(attempts) != 4 || !strings.Contains(c.LastError, "404") {
		t.Fatalf("dead callback %+v, %d attempts", c, len(attempts))
	}
	if j, _, _ := h.st.GetJob(context.Background(), id); j.Status != store.JobSucceeded {
		t.Errorf("parent job %s, want succeeded whatever its callback does", j.Status)
	}
	for _, p := range sink.all() {
		if p.header.Get("Webhook-Signature") != "" {
			t.Error("signed a callback without async.signing_secret")
		}
		if p.header.Get("Webhook-Id") != cb.ID || p.header.Get("Webhook-Timestamp") == "" {
			t.Errorf("callback headers %v", p.header)
		}
	}
	if m := scrape(t, h.metrics); !strings.Contains(m, `fender_jobs_total{result="callback_dead",upstream="api"} 1`) {
		t.Error("callback_dead not counted")
	}
}

func TestNonCriticalWaitsForCritical(t *testing.T) {
	var mu sync.Mutex
	var order []string
	handler := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		})
	}
	crit := httptest.NewServer(handler("crit"))
	defer crit.Close()
	nc := httptest.NewServer(handler("nc"))
	defer nc.Close()
	h := newJobsHarness(t, map[string]*config.Upstream{
		"crit": jobUpstreamCfg(crit.URL, nil),
		"nc":   jobUpstreamCfg(nc.URL, func(u *config.Upstream) { u.Critical = false }),
	}, "", delivery.JobOptions{Concurrency: 2})
	var ids []string
	// The non-critical jobs are older: without priority they would go first.
	for range 3 {
		ids = append(ids, h.enqueue(t, "nc", "", nil))
	}
	for range 6 {
		ids = append(ids, h.enqueue(t, "crit", "", nil))
	}
	h.start()
	for _, id := range ids {
		waitJob(t, h.st, id, store.JobSucceeded)
	}
	mu.Lock()
	defer mu.Unlock()
	want := "crit crit crit crit crit crit nc nc nc"
	if got := strings.Join(order, " "); got != want {
		t.Errorf("upstream call order %q, want %q", got, want)
	}
}

func TestJobUnknownUpstreamIsDead(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	sink := newCallbackSink(t, nil)
	h := newJobsHarness(t, map[string]*config.Upstream{
		"api": jobUpstreamCfg(up.URL, nil),
		"old": jobUpstreamCfg(up.URL, nil),
	}, "", delivery.JobOptions{})
	// A job left by a previous configuration, found by the start-up scan.
	gone := h.enqueue(t, "gone", "", nil)
	// A job of an upstream the reload removes, due after the reload.
	old := h.enqueue(t, "old", sink.srv.URL, func(j *store.NewJob) { j.CreatedAt = time.Now().Add(time.Second) })
	h.start()
	j, attempts := waitJob(t, h.st, gone, store.JobDead)
	if len(attempts) != 1 || attempts[0].Category != delivery.CategoryUnknownUpstream || !strings.Contains(j.LastError, `"gone" is no longer configured`) {
		t.Fatalf("job %+v attempts %+v", j, attempts)
	}

	cfg := config.Default()
	cfg.Upstreams = map[string]*config.Upstream{"api": jobUpstreamCfg(up.URL, nil)}
	if err := h.jobs.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	j, _ = waitJob(t, h.st, old, store.JobDead)
	if !strings.Contains(j.LastError, "no longer configured") {
		t.Errorf("removed upstream's job: %q", j.LastError)
	}
	// Its callback cannot be signed any more: dead too, never posted.
	cb := callbackOf(t, h.st, old)
	waitJob(t, h.st, cb.ID, store.JobDead)
	if n := len(sink.all()); n != 0 {
		t.Errorf("%d callbacks posted without their signing secret", n)
	}
}

func TestJobsStopTwiceAndBadSecret(t *testing.T) {
	h := newJobsHarness(t, map[string]*config.Upstream{"api": jobUpstreamCfg("http://127.0.0.1:1", nil)}, "", delivery.JobOptions{})
	if err := h.jobs.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := h.jobs.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.jobs.Start(context.Background()) // no-op after Stop
	h.jobs.Notify()
	cfg := config.Default()
	cfg.Upstreams = map[string]*config.Upstream{"api": jobUpstreamCfg("http://127.0.0.1:1", nil)}
	if err := h.jobs.Reload(cfg); err == nil {
		t.Error("Reload after Stop succeeded")
	}
	cfg.Upstreams["api"].Async.SigningSecret = "not-a-secret!"
	if _, err := delivery.NewJobs(cfg, h.st, h.px, delivery.JobOptions{}); err == nil || !strings.Contains(err.Error(), "signing_secret") {
		t.Errorf("NewJobs with a bad signing secret: %v", err)
	}
}
