package proxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fender-dev/fender/internal/config"
)

// chargeUpstream counts calls and remembers the keys it saw.
type chargeUpstream struct {
	calls atomic.Int32
	mu    sync.Mutex
	keys  []string
	delay time.Duration
	big   bool
}

func (c *chargeUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := c.calls.Add(1)
	c.mu.Lock()
	c.keys = append(c.keys, r.Header.Get("Idempotency-Key"))
	c.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	time.Sleep(c.delay)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Charge", fmt.Sprint(n))
	w.WriteHeader(201)
	if c.big {
		w.Write(bytes.Repeat([]byte("x"), 2<<20))
		return
	}
	fmt.Fprintf(w, `{"charge":%d,"echo":%q}`, n, body)
}

func post(t *testing.T, url, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestIdempotencyConcurrentRepeats(t *testing.T) {
	up := &chargeUpstream{delay: 200 * time.Millisecond}
	srv := httptest.NewServer(up)
	defer srv.Close()
	h := newStoreHarness(t, map[string]*config.Upstream{"pay": upstreamCfg(srv.URL)}, "")
	url := h.srv.URL + "/pay/v1/charges"
	key := map[string]string{"Idempotency-Key": "order-42"}
	var wg sync.WaitGroup
	var first, conflict, replayed atomic.Int32
	var other sync.Map
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := post(t, url, "amount=100", key)
			switch {
			case resp.StatusCode == 201 && resp.Header.Get(HeaderReplayed) == "true":
				replayed.Add(1)
			case resp.StatusCode == 201:
				first.Add(1)
			case resp.StatusCode == 409 && resp.Header.Get("Retry-After") == "1":
				conflict.Add(1)
			default:
				other.Store(resp.StatusCode, true)
			}
		}()
	}
	wg.Wait()
	t.Logf("50 concurrent: %d ran, %d got 409, %d replayed", first.Load(), conflict.Load(), replayed.Load())
	if up.calls.Load() != 1 || first.Load() != 1 || conflict.Load()+replayed.Load() != 49 {
		t.Errorf("upstream calls %d, first %d, 409 %d, replayed %d", up.calls.Load(), first.Load(), conflict.Load(), replayed.Load())
	}
	other.Range(func(k, _ any) bool { t.Errorf("unexpected status %v", k); return true })
	resp, body := post(t, url, "amount=100", key)
	if resp.StatusCode != 201 || resp.Header.Get(HeaderReplayed) != "true" || body != `{"charge":1,"echo":"amount=100"}` ||
		resp.Header.Get("X-Charge") != "1" || resp.Header.Get(HeaderUpstream) != "pay" {
		t.Errorf("repeat: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	if up.calls.Load() != 1 || up.keys[0] != "order-42" {
		t.Errorf("upstream calls %d keys %v: the key must be forwarded once", up.calls.Load(), up.keys)
	}
}

func TestIdempotencyMismatchAndLimits(t *testing.T) {
	up := &chargeUpstream{}
	srv := httptest.NewServer(up)
	defer srv.Close()
	h := newStoreHarness(t, map[string]*config.Upstream{"pay": upstreamCfg(srv.URL)}, "")
	url := h.srv.URL + "/pay/v1/charges"
	if resp, _ := post(t, url, "amount=100", map[string]string{"Idempotency-Key": "k1"}); resp.StatusCode != 201 {
		t.Fatalf("first: %d", resp.StatusCode)
	}
	resp, body := post(t, url, "amount=999", map[string]string{"Idempotency-Key": "k1"})
	if resp.StatusCode != 422 || resp.Header.Get(HeaderError) != string(CategoryIdempotencyMismatch) {
		t.Errorf("different body, same key: %d %s", resp.StatusCode, body)
	}
	resp, _ = post(t, url, "amount=100", map[string]string{"Idempotency-Key": strings.Repeat("k", 256)})
	if resp.StatusCode != 400 {
		t.Errorf("256-character key: %d, want 400", resp.StatusCode)
	}
	resp, _ = post(t, url, strings.Repeat("a", MaxStoredBody+1), map[string]string{"Idempotency-Key": "k2"})
	if resp.StatusCode != 413 {
		t.Errorf("oversized keyed body: %d, want 413", resp.StatusCode)
	}
	// Keys are per upstream path and request: the same key on another path is a different request.
	resp, _ = post(t, h.srv.URL+"/pay/v1/refunds", "amount=100", map[string]string{"Idempotency-Key": "k1"})
	if resp.StatusCode != 422 {
		t.Errorf("same key, other path: %d, want 422", resp.StatusCode)
	}
	if up.calls.Load() != 1 {
		t.Errorf("upstream called %d times, want 1", up.calls.Load())
	}
}

func TestIdempotencyKeyFromBody(t *testing.T) {
	up := &chargeUpstream{}
	srv := httptest.NewServer(up)
	defer srv.Close()
	h := newStoreHarness(t, map[string]*config.Upstream{"pay": upstreamCfg(srv.URL, func(u *config.Upstream) {
		u.Idempotency.KeyFrom = "body:order.id"
	})}, "")
	url := h.srv.URL + "/pay/v1/charges"
	intent := `{"order":{"id":7001},"amount":100}`
	r1, b1 := post(t, url, intent, nil)
	r2, b2 := post(t, url, intent, nil) // a new request for the same business intent
	if r1.StatusCode != 201 || r2.Header.Get(HeaderReplayed) != "true" || b1 != b2 {
		t.Errorf("resent intent: %d %q / %v %q", r1.StatusCode, b1, r2.Header, b2)
	}
	if up.calls.Load() != 1 || up.keys[0] != "7001" {
		t.Errorf("calls %d keys %v: the derived key must reach the upstream", up.calls.Load(), up.keys)
	}
	// Without the field, no idempotency.
	post(t, url, `{"amount":1}`, nil)
	post(t, url, `{"amount":1}`, nil)
	if up.calls.Load() != 3 {
		t.Errorf("calls %d, want 3", up.calls.Load())
	}
}

func TestIdempotencyReleasedWhenNoUpstreamAnswer(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	h := newStoreHarness(t, map[string]*config.Upstream{"pay": upstreamCfg("http://" + addr)}, "")
	url := h.srv.URL + "/pay/v1/charges"
	key := map[string]string{"Idempotency-Key": "k-down"}
	if resp, _ := post(t, url, "a=1", key); resp.StatusCode != 502 {
		t.Fatalf("upstream down: %d, want 502", resp.StatusCode)
	}
	// The repeat runs again (not 409, not a replayed 502).
	up := &chargeUpstream{}
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skip("port taken meanwhile")
	}
	srv := &http.Server{Handler: up}
	go srv.Serve(ln2)
	defer srv.Close()
	resp, _ := post(t, url, "a=1", key)
	if resp.StatusCode != 201 || resp.Header.Get(HeaderReplayed) != "" || up.calls.Load() != 1 {
		t.Errorf("repeat after a connect failure: %d replayed=%q calls %d", resp.StatusCode, resp.Header.Get(HeaderReplayed), up.calls.Load())
	}
}

func TestIdempotencyLargeResponseNotStored(t *testing.T) {
	up := &chargeUpstream{big: true}
	srv := httptest.NewServer(up)
	defer srv.Close()
	h := newStoreHarness(t, map[string]*config.Upstream{"pay": upstreamCfg(srv.URL)}, "")
	url := h.srv.URL + "/pay/v1/export"
	key := map[string]string{"Idempotency-Key": "k-big"}
	resp, body := post(t, url, "x", key)
	if resp.StatusCode != 201 || len(body) != 2<<20 {
		t.Fatalf("first: %d, %d bytes; the large body must pass through", resp.StatusCode, len(body))
	}
	resp, body = post(t, url, "x", key)
	if resp.StatusCode != 409 || resp.Header.Get(HeaderError) != string(CategoryIdempotencyUnavailable) {
		t.Errorf("repeat of an unstored response: %d %s", resp.StatusCode, body)
	}
	if up.calls.Load() != 1 {
		t.Errorf("upstream called %d times", up.calls.Load())
	}
}

func TestAsyncAccepted(t *testing.T) {
	up := &chargeUpstream{}
	srv := httptest.NewServer(up)
	defer srv.Close()
	h := newStoreHarness(t, map[string]*config.Upstream{"pay": upstreamCfg(srv.URL, func(u *config.Upstream) {
		u.Headers = map[string]string{"Authorization": "Bearer sk_secret_not_stored"}
	})}, "")
	hdr := map[string]string{"Prefer": "respond-async, wait=10", "Idempotency-Key": "job-1", "Fender-Callback": "http://127.0.0.1:1/cb"}
	resp, body := post(t, h.srv.URL+"/pay/v1/payouts?x=1", `{"amount":5}`, hdr)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 202 || !strings.HasPrefix(loc, "/_fender/jobs/") || resp.Header.Get("Preference-Applied") != "respond-async" {
		t.Fatalf("async: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	resp2, _ := post(t, h.srv.URL+"/pay/v1/payouts?x=1", `{"amount":5}`, hdr)
	if resp2.StatusCode != 202 || resp2.Header.Get("Location") != loc || resp2.Header.Get(HeaderReplayed) != "true" {
		t.Errorf("repeat with the key: %d %v, want the same job", resp2.StatusCode, resp2.Header)
	}
	if up.calls.Load() != 0 {
		t.Errorf("an async request reached the upstream at once")
	}
	r, err := http.Get(h.srv.URL + loc)
	if err != nil {
		t.Fatal(err)
	}
	var v JobView
	json.NewDecoder(r.Body).Decode(&v)
	r.Body.Close()
	if v.Status != "pending" || v.Method != "POST" || v.Path != "/v1/payouts?x=1" || v.Callback != "http://127.0.0.1:1/cb" {
		t.Errorf("job view %+v", v)
	}
	j, _, err := h.st.GetJob(t.Context(), v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if string(j.Body) != `{"amount":5}` || j.Header["Authorization"] != nil || j.Header["Prefer"] != nil {
		t.Errorf("stored job body %q headers %v: injected secrets and Prefer must not be stored", j.Body, j.Header)
	}
	if r, _ := http.Get(h.srv.URL + "/_fender/jobs/nope"); r.StatusCode != 404 {
		t.Errorf("unknown job: %d", r.StatusCode)
	}
	resp, _ = post(t, h.srv.URL+"/pay/x", "{}", map[string]string{"Prefer": "respond-async", "Fender-Callback": "ftp://x"})
	if resp.StatusCode != 400 {
		t.Errorf("bad callback: %d", resp.StatusCode)
	}
}

func TestIdempotencyKeyRequired(t *testing.T) {
	up := &chargeUpstream{}
	srv := httptest.NewServer(up)
	defer srv.Close()
	h := newStoreHarness(t, map[string]*config.Upstream{"pay": upstreamCfg(srv.URL, func(u *config.Upstream) {
		u.Idempotency.Required = true
	})}, "")
	resp, body := post(t, h.srv.URL+"/pay/v1/charges", "amount=1", nil)
	if resp.StatusCode != 400 || !strings.Contains(body, "requires an idempotency key") {
		t.Errorf("keyless POST on a key-required upstream: %d %s", resp.StatusCode, body)
	}
	if resp, _ := post(t, h.srv.URL+"/pay/v1/charges", "amount=1", map[string]string{"Idempotency-Key": "k"}); resp.StatusCode != 201 {
		t.Errorf("keyed POST: %d", resp.StatusCode)
	}
	if resp, _ := h.do(t, "GET", "/pay/v1/charges", nil, nil); resp.StatusCode != 201 {
		t.Errorf("GET needs no key: %d", resp.StatusCode)
	}
	if up.calls.Load() != 2 {
		t.Errorf("upstream called %d times, want 2", up.calls.Load())
	}
}

// TestStoreDownRefusesKeyedAndAsync: when the store cannot be reached, a
// keyed or async request is refused with 503 store_unavailable and never
// reaches the upstream; plain requests still go through.
func TestStoreDownRefusesKeyedAndAsync(t *testing.T) {
	up := &chargeUpstream{}
	srv := httptest.NewServer(up)
	defer srv.Close()
	h := newStoreHarness(t, map[string]*config.Upstream{"pay": upstreamCfg(srv.URL)}, "")
	h.st.Close()
	url := h.srv.URL + "/pay/v1/charges"
	for name, hdr := range map[string]map[string]string{
		"keyed": {"Idempotency-Key": "k-down"},
		"async": {"Prefer": "respond-async"},
	} {
		resp, body := post(t, url, "a=1", hdr)
		if resp.StatusCode != 503 || resp.Header.Get(HeaderError) != string(CategoryStoreUnavailable) || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s with the store down: %d %v %s", name, resp.StatusCode, resp.Header, body)
		}
	}
	if up.calls.Load() != 0 {
		t.Errorf("the upstream was called %d times while the store was down", up.calls.Load())
	}
	if resp, _ := post(t, url, "a=1", nil); resp.StatusCode != 201 {
		t.Errorf("a plain POST with the store down: %d, want it to pass", resp.StatusCode)
	}
}
