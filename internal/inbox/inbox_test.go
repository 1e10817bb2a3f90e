package inbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	stripewebhook "github.com/stripe/stripe-go/v82/webhook"

	"github.com/fender-dev/fender/internal/config"
	"github.com/fender-dev/fender/internal/store"
	"github.com/fender-dev/fender/internal/store/sqlite"
	"github.com/fender-dev/fender/internal/telemetry"
	"github.com/fender-dev/fender/webhook"
)

const (
	stripeSecret = "whsec_stripe_test_secret"
	stdSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	ghSecret     = "github-secret"
	hmacSecret   = "hmac-secret"
)

func openStore(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "fender.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func src(path, scheme, secret, eventID, resourceKey string) *config.Source {
	s := config.DefaultSource()
	s.Path = path
	s.Verify.Scheme = scheme
	s.Verify.Secret = secret
	s.EventID = eventID
	s.ResourceKey = resourceKey
	s.MaxBody = 1024
	s.Deliver.URL = "http://127.0.0.1:1/app"
	return s
}

func testConfig() *config.Config {
	cfg := config.Default()
	hm := src("/wh/hmac", "hmac", hmacSecret, "body:data.seq", "body:data.items.1.sku")
	hm.Verify.Header = "X-Signature"
	cfg.Sources = map[string]*config.Source{
		"stripe":   src("/wh/stripe", "stripe", stripeSecret, "body:id", "body:data.object.id"),
		"standard": src("/wh/std", "standard", stdSecret, "header:webhook-id", "header:X-Resource"),
		"github":   src("/wh/gh", "github", ghSecret, "", ""),
		"hmac":     hm,
	}
	return cfg
}

type harness struct {
	in      *Inbox
	st      store.Store
	srv     *httptest.Server
	metrics *telemetry.Metrics
	logs    *syncBuffer
	ingests atomic.Int64
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(s.b.Bytes()), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func newHarness(t *testing.T, cfg *config.Config, st store.Store) *harness {
	t.Helper()
	if st == nil {
		st = openStore(t)
	}
	h := &harness{st: st, metrics: telemetry.NewMetrics(), logs: &syncBuffer{}}
	in, err := New(cfg, st, Options{
		Logger:   slog.New(slog.NewJSONHandler(h.logs, nil)),
		Metrics:  h.metrics,
		OnIngest: func(string) { h.ingests.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	h.in = in
	h.srv = httptest.NewServer(in)
	t.Cleanup(h.srv.Close)
	return h
}

func (h *harness) post(t *testing.T, path string, hdr http.Header, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	return h.do(t, req)
}

func (h *harness) do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func (h *harness) count(source, result string) float64 {
	return testutil.ToFloat64(h.metrics.WebhooksReceived.WithLabelValues(source, result))
}

func (h *harness) events(t *testing.T) []store.Event {
	t.Helper()
	evs, _, err := h.st.ListEvents(context.Background(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func decodeAck(t *testing.T, resp *http.Response, b []byte) Ack {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, body %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var a Ack
	if err := json.Unmarshal(b, &a); err != nil || a.ID == "" {
		t.Fatalf("ack %s: %v", b, err)
	}
	return a
}

func decodeProblem(t *testing.T, resp *http.Response, b []byte, status int) Problem {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d; body %s", resp.StatusCode, status, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var p Problem
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("problem %s: %v", b, err)
	}
	if p.Status != status || p.Type == "" || p.Title == "" {
		t.Fatalf("problem %+v", p)
	}
	return p
}

// stripeHeader signs body the way stripe-go's test helper does.
func stripeHeader(secret string, body []byte, at time.Time) http.Header {
	p := stripewebhook.GenerateTestSignedPayload(&stripewebhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: at})
	h := http.Header{}
	h.Set("Stripe-Signature", p.Header)
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
	h.Set("Authorization", "Bearer do-not-keep")
	return h
}

func getEvent(t *testing.T, st store.Store, id string) store.Event {
	t.Helper()
	ev, _, err := st.GetEvent(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestAcceptStripe(t *testing.T) {
	h := newHarness(t, testConfig(), nil)
	body := []byte(`{"id":"evt_1","type":"charge.succeeded","data":{"object":{"id":"ch_42","amount":100}}}`)
	resp, b := h.post(t, "/wh/stripe", stripeHeader(stripeSecret, body, time.Now()), body)
	a := decodeAck(t, resp, b)
	if a.Duplicate || resp.Header.Get(HeaderDuplicate) != "" {
		t.Fatalf("first delivery marked duplicate: %s", b)
	}
	if resp.Header.Get(HeaderRequestID) == "" {
		t.Error("no X-Request-Id on the answer")
	}
	ev := getEvent(t, h.st, a.ID)
	if ev.Source != "stripe" || ev.EventID != "evt_1" || ev.ResourceKey != "ch_42" ||
		!bytes.Equal(ev.Body, body) || ev.ContentType != "application/json; charset=utf-8" || ev.Status != store.StatusPending {
		t.Fatalf("stored %+v", ev)
	}
	if ev.Headers["User-Agent"] == "" {
		t.Errorf("User-Agent not kept: %v", ev.Headers)
	}
	for k := range ev.Headers {
		if k == "Authorization" || k == "Stripe-Signature" || k == "Content-Type" {
			t.Errorf("kept header %s", k)
		}
	}
	if got := h.count("stripe", ResultAccepted); got != 1 {
		t.Errorf("accepted = %v", got)
	}
	if got := h.ingests.Load(); got != 1 {
		t.Errorf("OnIngest called %d times", got)
	}
}

func TestAcceptStandard(t *testing.T) {
	h := newHarness(t, testConfig(), nil)
	peer, err := standardwebhooks.NewWebhook(stdSecret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":"user.created","data":{"id":1}}`)
	now := time.Now()
	sig, err := peer.Sign("msg_2Lk1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	hdr := http.Header{}
	hdr.Set("Webhook-Id", "msg_2Lk1")
	hdr.Set("Webhook-Timestamp", strconv.FormatInt(now.Unix(), 10))
	hdr.Set("Webhook-Signature", sig)
	hdr.Set("X-Resource", "user_1")
	hdr.Set("Content-Type", "application/json")
	resp, b := h.post(t, "/wh/std", hdr, body)
	a := decodeAck(t, resp, b)
	ev := getEvent(t, h.st, a.ID)
	if ev.EventID != "msg_2Lk1" || ev.ResourceKey != "user_1" || !bytes.Equal(ev.Body, body) || ev.ContentType != "application/json" {
		t.Fatalf("stored %+v", ev)
	}
	if ev.Headers["Webhook-Id"] != "msg_2Lk1" || ev.Headers["Webhook-Timestamp"] == "" || ev.Headers["X-Resource"] != "user_1" {
		t.Errorf("headers kept: %v", ev.Headers)
	}
	if _, ok := ev.Headers["Webhook-Signature"]; ok {
		t.Errorf("signature kept: %v", ev.Headers)
	}

	// The same message again is a duplicate with the same id.
	resp, b = h.post(t, "/wh/std", hdr, body)
	d := decodeAck(t, resp, b)
	if !d.Duplicate || d.ID != a.ID || resp.Header.Get(HeaderDuplicate) != "true" {
		t.Fatalf("redelivery: %s, %v", b, resp.Header)
	}
	if h.count("standard", ResultDuplicate) != 1 || h.ingests.Load() != 1 {
		t.Errorf("duplicate counted %v, OnIngest %d", h.count("standard", ResultDuplicate), h.ingests.Load())
	}
}

func TestMethodNotAllowed(t *testing.T) {
	h := newHarness(t, testConfig(), nil)
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/wh/stripe", nil)
	resp, b := h.do(t, req)
	decodeProblem(t, resp, b, http.StatusMethodNotAllowed)
	if resp.Header.Get("Allow") != "POST" {
		t.Errorf("Allow = %q", resp.Header.Get("Allow"))
	}
	if h.count("stripe", ResultMethodNotAllowed) != 1 {
		t.Error("method_not_allowed not counted")
	}
}

func TestUnknownPath(t *testing.T) {
	h := newHarness(t, testConfig(), nil)
	for _, p := range []string{"/wh/nope", "/wh/stripe/", "/", "/admin/events", "/wh/STRIPE"} {
		resp, b := h.post(t, p, nil, []byte("{}"))
		pr := decodeProblem(t, resp, b, http.StatusNotFound)
		if pr.Type != ProblemType("unknown_source") {
			t.Errorf("%s: %+v", p, pr)
		}
	}
	if n := len(h.events(t)); n != 0 {
		t.Fatalf("%d events stored", n)
	}
}

func TestTooLarge(t *testing.T) {
	h := newHarness(t, testConfig(), nil) // max_body 1024
	big := []byte(`{"id":"evt_big","pad":"` + strings.Repeat("x", 2000) + `"}`)
	hdr := stripeHeader(stripeSecret, big, time.Now())

	t.Run("content-length", func(t *testing.T) {
		resp, b := h.post(t, "/wh/stripe", hdr, big)
		decodeProblem(t, resp, b, http.StatusRequestEntityTooLarge)
	})
	t.Run("chunked", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			for i := 0; i < len(big); i += 100 {
				pw.Write(big[i:min(i+100, len(big))])
			}
			pw.Close()
		}()
		req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/wh/stripe", pr)
		req.Header = hdr.Clone()
		if req.ContentLength != 0 && req.ContentLength != -1 {
			t.Fatalf("ContentLength %d", req.ContentLength)
		}
		resp, b := h.do(t, req)
		decodeProblem(t, resp, b, http.StatusRequestEntityTooLarge)
	})
	t.Run("exactly max_body", func(t *testing.T) {
		body := []byte(`{"id":"evt_fit","pad":"` + strings.Repeat("x", 1024-len(`{"id":"evt_fit","pad":""}`)) + `"}`)
		if len(body) != 1024 {
			t.Fatalf("len %d", len(body))
		}
		resp, b := h.post(t, "/wh/stripe", stripeHeader(stripeSecret, body, time.Now()), body)
		decodeAck(t, resp, b)
	})
	if got := h.count("stripe", ResultTooLarge); got != 2 {
		t.Errorf("too_large = %v", got)
	}
	if n := len(h.events(t)); n != 1 {
		t.Fatalf("%d events stored, want the one that fits", n)
	}
}

func TestRejected(t *testing.T) {
	h := newHarness(t, testConfig(), nil)
	body := []byte(`{"id":"evt_bad","data":{"object":{"id":"ch_1"}}}`)
	now := time.Now()
	cases := []struct {
		name   string
		hdr    http.Header
		body   []byte
		reason string
	}{
		{"tampered body", stripeHeader(stripeSecret, body, now), []byte(`{"id":"evt_bad","data":{"object":{"id":"ch_2"}}}`), "mismatch"},
		{"wrong secret", stripeHeader("whsec_other", body, now), body, "mismatch"},
		{"stale timestamp", stripeHeader(stripeSecret, body, now.Add(-10*time.Minute)), body, "stale_timestamp"},
		{"future timestamp", stripeHeader(stripeSecret, body, now.Add(10*time.Minute)), body, "future_timestamp"},
		{"no signature", http.Header{"Content-Type": {"application/json"}}, body, "missing_signature"},
		{"malformed", http.Header{"Stripe-Signature": {"garbage"}}, body, "malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := h.count("stripe", ResultRejectedPrefix+c.reason)
			resp, b := h.post(t, "/wh/stripe", c.hdr, c.body)
			p := decodeProblem(t, resp, b, http.StatusUnauthorized)
			if p.Detail != c.reason || p.Type != ProblemType(ResultRejectedPrefix+c.reason) {
				t.Errorf("problem %+v", p)
			}
			if strings.Contains(string(b), "whsec_") {
				t.Errorf("secret in answer: %s", b)
			}
			if got := h.count("stripe", ResultRejectedPrefix+c.reason); got != before+1 {
				t.Errorf("rejected_%s = %v, want %v", c.reason, got, before+1)
			}
		})
	}
	if n := len(h.events(t)); n != 0 {
		t.Fatalf("%d events stored after rejections", n)
	}
	var warned int
	for _, l := range h.logs.lines(t) {
		if l["level"] == "WARN" && l["status"] == float64(401) && l["reason"] != nil && l["source"] == "stripe" {
			warned++
		}
		if strings.Contains(fmt.Sprint(l), "whsec_") {
			t.Errorf("secret in log: %v", l)
		}
	}
	if warned != len(cases) {
		t.Errorf("%d warn lines with a reason, want %d", warned, len(cases))
	}
	if h.ingests.Load() != 0 {
		t.Error("OnIngest called for a rejected webhook")
	}
}

func TestEventIDExtraction(t *testing.T) {
	h := newHarness(t, testConfig(), nil)
	sign := func(scheme, secret, header string, body []byte) http.Header {
		hdr := http.Header{}
		c := webhook.Config{Scheme: scheme, Secrets: []string{secret}, Header: header}
		if err := webhook.Sign(c, hdr, body, time.Now()); err != nil {
			t.Fatal(err)
		}
		return hdr
	}
	cases := []struct {
		name, path string
		hdr        http.Header
		body       []byte
		eventID    string
		key        string
	}{
		{"body path", "/wh/stripe", stripeHeader(stripeSecret, []byte(`{"data":{"object":{"id":"cus_9"}},"id":"evt_a"}`), time.Now()),
			[]byte(`{"data":{"object":{"id":"cus_9"}},"id":"evt_a"}`), "evt_a", "cus_9"},
		{"escaped string", "/wh/stripe", stripeHeader(stripeSecret, []byte(`{"id":"evt_\u00e9\"q"}`), time.Now()),
			[]byte(`{"id":"evt_\u00e9\"q"}`), "evt_é\"q", ""},
		{"nested numeric, literal text", "/wh/hmac", sign("hmac", hmacSecret, "X-Signature", []byte(`{"data":{"seq":12345678901234567890,"items":[{"sku":"a"},{"sku":"b"}]}}`)),
			[]byte(`{"data":{"seq":12345678901234567890,"items":[{"sku":"a"},{"sku":"b"}]}}`), "12345678901234567890", "b"},
		{"float literal", "/wh/hmac", sign("hmac", hmacSecret, "X-Signature", []byte(`{"data":{"seq":1.50e+3}}`)),
			[]byte(`{"data":{"seq":1.50e+3}}`), "1.50e+3", ""},
		{"no event_id configured: sha256", "/wh/gh", sign("github", ghSecret, "", []byte(`{"action":"opened"}`)),
			[]byte(`{"action":"opened"}`), "", ""},
		{"path absent: sha256", "/wh/stripe", stripeHeader(stripeSecret, []byte(`{"object":"event"}`), time.Now()),
			[]byte(`{"object":"event"}`), "", ""},
		{"not JSON: sha256", "/wh/stripe", stripeHeader(stripeSecret, []byte(`id=evt_form`), time.Now()),
			[]byte(`id=evt_form`), "", ""},
		{"id is an object: sha256", "/wh/stripe", stripeHeader(stripeSecret, []byte(`{"id":{"x":1}}`), time.Now()),
			[]byte(`{"id":{"x":1}}`), "", ""},
		{"NUL in id: sha256", "/wh/stripe", stripeHeader(stripeSecret, []byte(`{"id":"a\u0000b"}`), time.Now()),
			[]byte(`{"id":"a\u0000b"}`), "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, b := h.post(t, c.path, c.hdr, c.body)
			ev := getEvent(t, h.st, decodeAck(t, resp, b).ID)
			want := c.eventID
			if want == "" {
				want = bodyHash(c.body)
				if len(want) != 64 {
					t.Fatal(want)
				}
			}
			if ev.EventID != want || ev.ResourceKey != c.key {
				t.Errorf("event id %q, resource key %q; want %q, %q", ev.EventID, ev.ResourceKey, want, c.key)
			}
		})
	}
}

func TestDuplicateStorm(t *testing.T) {
	h := newHarness(t, testConfig(), nil)
	body := []byte(`{"id":"evt_storm","data":{"object":{"id":"ch_s"}}}`)
	hdr := stripeHeader(stripeSecret, body, time.Now())
	const n = 100
	type result struct {
		ack Ack
		dup string
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/wh/stripe", bytes.NewReader(body))
			req.Header = hdr.Clone()
			resp, err := h.srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 {
				t.Errorf("status %d: %s", resp.StatusCode, b)
				return
			}
			json.Unmarshal(b, &results[i].ack)
			results[i].dup = resp.Header.Get(HeaderDuplicate)
		}()
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}
	var fresh, dups int
	id := ""
	for _, r := range results {
		if id == "" {
			id = r.ack.ID
		}
		if r.ack.ID != id || id == "" {
			t.Fatalf("ids differ: %q vs %q", r.ack.ID, id)
		}
		if r.ack.Duplicate {
			if r.dup != "true" {
				t.Errorf("duplicate without Fender-Duplicate")
			}
			dups++
		} else {
			if r.dup != "" {
				t.Errorf("fresh with Fender-Duplicate %q", r.dup)
			}
			fresh++
		}
	}
	if fresh != 1 || dups != n-1 {
		t.Fatalf("fresh %d, duplicates %d", fresh, dups)
	}
	if evs := h.events(t); len(evs) != 1 || evs[0].ID != id {
		t.Fatalf("stored %d events", len(evs))
	}
	if h.ingests.Load() != 1 || h.count("stripe", ResultAccepted) != 1 || h.count("stripe", ResultDuplicate) != n-1 {
		t.Errorf("OnIngest %d, accepted %v, duplicate %v", h.ingests.Load(), h.count("stripe", ResultAccepted), h.count("stripe", ResultDuplicate))
	}
}

func TestStoreFailure(t *testing.T) {
	st := openStore(t)
	h := newHarness(t, testConfig(), st)
	body := []byte(`{"id":"evt_down"}`)
	hdr := stripeHeader(stripeSecret, body, time.Now())

	st.Close()
	resp, b := h.post(t, "/wh/stripe", hdr, body)
	decodeProblem(t, resp, b, http.StatusServiceUnavailable)
	if resp.Header.Get("Retry-After") != "5" {
		t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	if h.count("stripe", ResultStoreError) != 1 || h.ingests.Load() != 0 {
		t.Error("store_error not counted, or OnIngest called")
	}
	var logged bool
	for _, l := range h.logs.lines(t) {
		if l["status"] == float64(503) && l["level"] == "ERROR" && l["error"] != nil {
			logged = true
		}
	}
	if !logged {
		t.Error("no error log line for the store failure")
	}

	// The provider retries against a working store: accepted.
	h2 := newHarness(t, testConfig(), nil)
	resp, b = h2.post(t, "/wh/stripe", hdr, body)
	a := decodeAck(t, resp, b)
	if getEvent(t, h2.st, a.ID).EventID != "evt_down" {
		t.Error("retry not stored")
	}
}

func TestReloadSecret(t *testing.T) {
	h := newHarness(t, testConfig(), nil)
	body1 := []byte(`{"id":"evt_r1"}`)
	resp, b := h.post(t, "/wh/stripe", stripeHeader(stripeSecret, body1, time.Now()), body1)
	decodeAck(t, resp, b)

	cfg := testConfig()
	cfg.Sources["stripe"].Verify.Secret = "whsec_rotated"
	if err := h.in.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	body2 := []byte(`{"id":"evt_r2"}`)
	resp, b = h.post(t, "/wh/stripe", stripeHeader(stripeSecret, body2, time.Now()), body2)
	decodeProblem(t, resp, b, http.StatusUnauthorized)
	resp, b = h.post(t, "/wh/stripe", stripeHeader("whsec_rotated", body2, time.Now()), body2)
	decodeAck(t, resp, b)

	// A bad config is refused and the current one keeps serving.
	bad := testConfig()
	bad.Sources["stripe"].Verify.Scheme = "nope"
	if err := h.in.Reload(bad); err == nil {
		t.Fatal("Reload accepted an unknown scheme")
	}
	body3 := []byte(`{"id":"evt_r3"}`)
	resp, b = h.post(t, "/wh/stripe", stripeHeader("whsec_rotated", body3, time.Now()), body3)
	decodeAck(t, resp, b)

	// A source removed by a reload is no longer served.
	gone := testConfig()
	delete(gone.Sources, "stripe")
	if err := h.in.Reload(gone); err != nil {
		t.Fatal(err)
	}
	resp, b = h.post(t, "/wh/stripe", stripeHeader(stripeSecret, body3, time.Now()), body3)
	decodeProblem(t, resp, b, http.StatusNotFound)
}

func TestNewRejectsBadConfig(t *testing.T) {
	st := openStore(t)
	for name, mut := range map[string]func(*config.Config){
		"no secret":        func(c *config.Config) { c.Sources["stripe"].Verify.Secret = "" },
		"none without opt": func(c *config.Config) { c.Sources["stripe"].Verify = config.Verify{Scheme: "none"} },
		"bad event_id":     func(c *config.Config) { c.Sources["stripe"].EventID = "query:id" },
		"bad resource_key": func(c *config.Config) { c.Sources["stripe"].ResourceKey = "body:" },
		"duplicate path":   func(c *config.Config) { c.Sources["github"].Path = "/wh/stripe" },
	} {
		cfg := testConfig()
		mut(cfg)
		if _, err := New(cfg, st, Options{}); err == nil {
			t.Errorf("%s: New accepted it", name)
		} else if strings.Contains(err.Error(), stripeSecret) {
			t.Errorf("%s: secret in error %v", name, err)
		}
	}
}

func TestLogLine(t *testing.T) {
	h := newHarness(t, testConfig(), nil)
	body := []byte(`{"id":"evt_log"}`)
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/wh/stripe", bytes.NewReader(body))
	req.Header = stripeHeader(stripeSecret, body, time.Now())
	req.Header.Set("X-Request-Id", "req-123")
	req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	resp, b := h.do(t, req)
	a := decodeAck(t, resp, b)
	if resp.Header.Get("X-Request-Id") != "req-123" {
		t.Errorf("X-Request-Id %q", resp.Header.Get("X-Request-Id"))
	}
	lines := h.logs.lines(t)
	if len(lines) != 1 {
		t.Fatalf("%d log lines", len(lines))
	}
	l := lines[0]
	want := map[string]any{
		"msg": "webhook", "level": "INFO", "request_id": "req-123", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
		"source": "stripe", "method": "POST", "path": "/wh/stripe", "status": float64(200),
		"event_id": "evt_log", "id": a.ID, "duplicate": false,
	}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("%s = %v, want %v", k, l[k], v)
		}
	}
	if _, ok := l["duration_ms"].(float64); !ok {
		t.Errorf("duration_ms %v", l["duration_ms"])
	}
	if strings.Contains(fmt.Sprint(l), "Bearer") {
		t.Error("Authorization in the log")
	}
}

func TestTraceID(t *testing.T) {
	for tp, want := range map[string]string{
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01":       "4bf92f3577b34da6a3ce929d0e0e4736",
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra": "4bf92f3577b34da6a3ce929d0e0e4736",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra": "",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01":       "",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01":       "",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01":       "",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01":       "",
		"00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01":       "",
		"garbage": "",
	} {
		if got := traceID(tp); got != want {
			t.Errorf("traceID(%q) = %q, want %q", tp, got, want)
		}
	}
}
