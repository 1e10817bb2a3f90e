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

	"github.com/fender-dev/fender/webhook"
)

const callbackSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// TestAsyncJobSurvivesRestartAndOutage: a Prefer: respond-async call is
// accepted while the upstream is down, fender is killed and restarted, the
// upstream comes back, the job succeeds and the callback arrives once,
// signed.
func TestAsyncJobSurvivesRestartAndOutage(t *testing.T) {
	// The upstream's address is reserved now and served only later.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	upAddr := ln.Addr().String()
	ln.Close()

	var mu sync.Mutex
	var callbacks []string
	var badSig atomic.Int32
	verifier, _ := webhook.NewVerifier(webhook.Config{Scheme: "standard", Secrets: []string{callbackSecret}})
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := verifier.Verify(r.Header, body, time.Now()); err != nil {
			badSig.Add(1)
		}
		mu.Lock()
		callbacks = append(callbacks, string(body))
		mu.Unlock()
	}))
	defer cb.Close()

	dir := t.TempDir()
	proxyAddr, adminAddr := freePort(t), freePort(t)
	cfg := filepath.Join(dir, "fender.yaml")
	writeFile(t, cfg, proxyConfig(proxyAddr, adminAddr, fmt.Sprintf(`  payouts:
    url: http://%s
    allow_private_network: true
    timeout: { attempt: 500ms, total: 1s }
    retry: { max_attempts: 1 }
    async:
      schedule: [0s, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms]
      signing_secret: %s
`, upAddr, callbackSecret)))
	env := "FENDER_TEST_DB=" + filepath.Join(dir, "f.db")
	f := start(t, cfg, adminAddr, env)

	req, _ := http.NewRequest("POST", "http://"+proxyAddr+"/payouts/v1/payouts", strings.NewReader(`{"amount":500}`))
	req.Header.Set("Prefer", "respond-async")
	req.Header.Set("Idempotency-Key", "payout-77")
	req.Header.Set("Fender-Callback", cb.URL+"/done")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 202 || loc == "" {
		t.Fatalf("async: %d %v", resp.StatusCode, resp.Header)
	}
	time.Sleep(700 * time.Millisecond) // a couple of failed attempts
	f.cmd.Process.Kill()
	f.wait(5 * time.Second)

	var calls atomic.Int32
	upLn, err := net.Listen("tcp", upAddr)
	if err != nil {
		t.Skipf("upstream port taken meanwhile: %v", err)
	}
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"po_1","got":%s,"key":%q}`, b, r.Header.Get("Idempotency-Key"))
	})}
	go up.Serve(upLn)
	defer up.Close()

	start(t, cfg, adminAddr, env)
	var view struct {
		Status   string `json:"status"`
		Attempts int    `json:"attempts"`
		Response struct {
			Status int             `json:"status"`
			Body   json.RawMessage `json:"body"`
		} `json:"response"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		_, _, body := get(t, "http://"+proxyAddr+loc)
		json.Unmarshal([]byte(body), &view)
		mu.Lock()
		n := len(callbacks)
		mu.Unlock()
		if view.Status == "succeeded" && n > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a duplicate callback would land now
	mu.Lock()
	defer mu.Unlock()
	t.Logf("job %s after %d attempts; upstream called %d times; %d callback(s)", view.Status, view.Attempts, calls.Load(), len(callbacks))
	if view.Status != "succeeded" || view.Response.Status != 200 || !strings.Contains(string(view.Response.Body), `"key":"payout-77"`) {
		t.Fatalf("job view %+v %s", view, view.Response.Body)
	}
	if calls.Load() != 1 {
		t.Errorf("upstream called %d times, want 1", calls.Load())
	}
	if len(callbacks) != 1 || badSig.Load() != 0 || !strings.Contains(callbacks[0], `"succeeded"`) {
		t.Errorf("callbacks %d (bad signatures %d): %v", len(callbacks), badSig.Load(), callbacks)
	}
}
