package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82"
)

// fakeStripe dedupes on Idempotency-Key like Stripe does. The first
// request of each key is processed and then its connection is reset before
// any answer: the classic "did my charge go through?" failure.
type fakeStripe struct {
	mu       sync.Mutex
	created  int
	byKey    map[string]string
	keys     []string
	requests atomic.Int32
}

func (f *fakeStripe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	key := r.Header.Get("Idempotency-Key")
	r.ParseForm()
	f.mu.Lock()
	f.keys = append(f.keys, key)
	body, seen := f.byKey[key]
	if !seen {
		f.created++
		body = fmt.Sprintf(`{"id":"cus_%d","object":"customer","email":%q}`, f.created, r.PostForm.Get("email"))
		f.byKey[key] = body
	}
	f.mu.Unlock()
	if !seen {
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Idempotent-Replayed", "true")
	io.WriteString(w, body)
}

// upstreamHeader names the upstream in Fender-Upstream, so the SDK keeps
// its own paths (stripe-go insists they start with /v1).
type upstreamHeader struct{ name string }

func (u upstreamHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Fender-Upstream", u.name)
	return http.DefaultTransport.RoundTrip(r)
}

func stripeClient(proxyURL string) *stripe.Client {
	backend := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL:               stripe.String(proxyURL),
		HTTPClient:        &http.Client{Transport: upstreamHeader{"stripe"}, Timeout: 30 * time.Second},
		MaxNetworkRetries: stripe.Int64(2),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
	})
	return stripe.NewClient("sk_test_e2e", stripe.WithBackends(&stripe.Backends{API: backend, Connect: backend, Uploads: backend, MeterEvents: backend}))
}

// TestStripeGoThroughFender: stripe-go's automatic Idempotency-Key on POST
// flows through fender, so both fender's retries and stripe-go's own are
// safe: one customer is created.
func TestStripeGoThroughFender(t *testing.T) {
	for _, tc := range []struct {
		name, retry string
	}{
		{"fender retries", ""},
		{"stripe-go retries", "    retry: { max_attempts: 1 }\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeStripe{byKey: map[string]string{}}
			up := httptest.NewServer(fake)
			defer up.Close()
			dir := t.TempDir()
			proxyAddr, adminAddr := freePort(t), freePort(t)
			cfg := filepath.Join(dir, "fender.yaml")
			writeFile(t, cfg, proxyConfig(proxyAddr, adminAddr, fmt.Sprintf(`  stripe:
    url: %s
    allow_private_network: true
    headers: { Authorization: "Bearer sk_live_injected" }
%s`, up.URL, tc.retry)))
			start(t, cfg, adminAddr, "FENDER_TEST_DB="+filepath.Join(dir, "f.db"))

			sc := stripeClient("http://" + proxyAddr)
			cus, err := sc.V1Customers.Create(t.Context(), &stripe.CustomerCreateParams{Email: stripe.String("ada@example.com")})
			if err != nil {
				t.Fatalf("create customer through fender: %v", err)
			}
			fake.mu.Lock()
			defer fake.mu.Unlock()
			t.Logf("%s: customer %s, %d requests reached the provider, keys %v", tc.name, cus.ID, fake.requests.Load(), fake.keys)
			if fake.created != 1 || cus.ID != "cus_1" {
				t.Errorf("%d customers created, got %q: retries were not safe", fake.created, cus.ID)
			}
			if len(fake.keys) < 2 || fake.keys[0] == "" {
				t.Fatalf("keys seen %v", fake.keys)
			}
			for _, k := range fake.keys {
				if k != fake.keys[0] {
					t.Errorf("the provider saw different keys %v", fake.keys)
				}
			}
		})
	}
}

// TestKillDuringKeyedPOST: fender is killed while a keyed POST is in flight
// upstream. After restart the key stays locked until the lock expires
// (total deadline + margin); then the repeat reaches the upstream once more
// with the same key.
func TestKillDuringKeyedPOST(t *testing.T) {
	var mu sync.Mutex
	var keys []string
	hold := make(chan struct{})
	var calls atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		mu.Unlock()
		if calls.Add(1) == 1 {
			select {
			case <-hold:
			case <-r.Context().Done():
			}
			return
		}
		w.WriteHeader(201)
		io.WriteString(w, `{"id":"pay_1"}`)
	}))
	defer up.Close()
	defer close(hold)
	dir := t.TempDir()
	proxyAddr, adminAddr := freePort(t), freePort(t)
	cfg := filepath.Join(dir, "fender.yaml")
	writeFile(t, cfg, proxyConfig(proxyAddr, adminAddr, fmt.Sprintf(`  pay:
    url: %s
    allow_private_network: true
    timeout: { attempt: 1s, total: 1s }
`, up.URL)))
	env := "FENDER_TEST_DB=" + filepath.Join(dir, "f.db")
	f := start(t, cfg, adminAddr, env)
	send := func() (*http.Response, string) {
		req, _ := http.NewRequest("POST", "http://"+proxyAddr+"/pay/v1/payments", strings.NewReader(`{"amount":10}`))
		req.Header.Set("Idempotency-Key", "pay-once")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	go send()
	for deadline := time.Now().Add(10 * time.Second); calls.Load() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the keyed POST never reached the upstream")
		}
	}
	killedAt := time.Now()
	f.cmd.Process.Kill()
	f.wait(5 * time.Second)
	start(t, cfg, adminAddr, env)
	resp, body := send()
	if resp == nil || resp.StatusCode != 409 {
		t.Fatalf("repeat while the crashed request's lock holds: %v %s, want 409", resp, body)
	}
	var resp2 *http.Response
	for time.Since(killedAt) < 15*time.Second {
		time.Sleep(250 * time.Millisecond)
		if resp2, body = send(); resp2 != nil && resp2.StatusCode != 409 {
			break
		}
	}
	if resp2 == nil || resp2.StatusCode != 201 {
		t.Fatalf("repeat after the lock expired: %v %s", resp2, body)
	}
	t.Logf("lock expired %.1fs after the kill", time.Since(killedAt).Seconds())
	mu.Lock()
	defer mu.Unlock()
	if len(keys) != 2 || keys[0] != "pay-once" || keys[1] != "pay-once" {
		t.Errorf("upstream saw keys %v, want the same key twice", keys)
	}
	// And now it is recorded: a third send replays.
	resp3, body3 := send()
	if resp3.StatusCode != 201 || resp3.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("third send: %d %v %s", resp3.StatusCode, resp3.Header, body3)
	}
	var v map[string]any
	if json.Unmarshal([]byte(body3), &v) != nil || v["id"] != "pay_1" {
		t.Errorf("replayed body %s", body3)
	}
}
