package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func proxyConfig(proxyAddr, adminAddr string, upstreams string) string {
	return fmt.Sprintf(`listen: { proxy: %s, webhooks: "", admin: %s }
storage: { dsn: %s }
log: { level: info, format: json }
shutdown_timeout: 5s
upstreams:
%s`, proxyAddr, adminAddr, "${FENDER_TEST_DB}", upstreams)
}

func TestProxyReloadDrain(t *testing.T) {
	var flaky atomic.Int32
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/flaky":
			if flaky.Add(1) <= 2 {
				w.WriteHeader(503)
				return
			}
		case "/slow":
			time.Sleep(700 * time.Millisecond)
		}
		fmt.Fprintf(w, "a:%s auth=%s", r.URL.Path, r.Header.Get("Authorization"))
	}))
	defer a.Close()
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "b:%s", r.URL.Path) }))
	defer b.Close()

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "fender.yaml")
	proxyAddr, adminAddr := freePort(t), freePort(t)
	upstream := func(url string) string {
		return fmt.Sprintf(`  api:
    url: %s
    allow_private_network: true
    headers: { Authorization: "Bearer ${API_KEY}" }
    retry: { backoff: { base: 1ms, max: 5ms } }
`, url)
	}
	writeFile(t, cfgPath, proxyConfig(proxyAddr, adminAddr, upstream(a.URL)))
	f := start(t, cfgPath, adminAddr, "API_KEY=sk_test_e2e_secret", "FENDER_TEST_DB="+filepath.Join(dir, "f.db"))

	code, hdr, body := get(t, "http://"+proxyAddr+"/api/flaky")
	if code != 200 || hdr.Get("Fender-Attempts") != "3" || body != "a:/flaky auth=Bearer sk_test_e2e_secret" {
		t.Fatalf("flaky: %d %v %q", code, hdr, body)
	}
	code, hdr, _ = get(t, "http://"+proxyAddr+"/unknown/x")
	if code != 404 || hdr.Get("Fender-Error") != "unknown_upstream" {
		t.Errorf("unknown upstream: %d %v", code, hdr)
	}
	_, _, metrics := get(t, "http://"+adminAddr+"/metrics")
	if !strings.Contains(metrics, `fender_upstream_requests_total{category="ok",upstream="api"} 1`) {
		t.Errorf("metrics lack the proxied request:\n%s", grep(metrics, "fender_upstream_requests_total"))
	}
	if strings.Contains(f.Logs(), "sk_test_e2e_secret") {
		t.Error("the injected secret reached the log")
	}

	// SIGHUP with a broken config: refused, the old one keeps serving.
	writeFile(t, cfgPath, proxyConfig(proxyAddr, adminAddr, upstream(b.URL)+"    retry: { max_attempts: 0 }\n    bogus_key: 1\n"))
	f.signal(syscall.SIGHUP)
	if !f.waitLog("config refused", 5*time.Second) {
		t.Fatal("broken config on SIGHUP was not refused in the log")
	}
	if _, _, body := get(t, "http://"+proxyAddr+"/api/x"); !strings.HasPrefix(body, "a:") {
		t.Errorf("after a refused reload: %q, want the old upstream", body)
	}

	// SIGHUP with a good config: the upstream moves to b.
	writeFile(t, cfgPath, proxyConfig(proxyAddr, adminAddr, upstream(b.URL)))
	f.signal(syscall.SIGHUP)
	if !f.waitLog("config reloaded", 5*time.Second) {
		t.Fatal("no reload logged")
	}
	if _, _, body := get(t, "http://"+proxyAddr+"/api/x"); body != "b:/x" {
		t.Errorf("after reload: %q, want b:/x", body)
	}

	// SIGTERM while a request is in flight: it finishes, then exit 0.
	writeFile(t, cfgPath, proxyConfig(proxyAddr, adminAddr, upstream(a.URL)))
	f.signal(syscall.SIGHUP)
	f.waitLog(`"upstreams":1`, 5*time.Second)
	time.Sleep(100 * time.Millisecond)
	result := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + proxyAddr + "/api/slow")
		if err != nil {
			result <- err.Error()
			return
		}
		defer resp.Body.Close()
		result <- fmt.Sprint(resp.StatusCode)
	}()
	time.Sleep(200 * time.Millisecond)
	f.signal(syscall.SIGTERM)
	if got := <-result; got != "200" {
		t.Errorf("in-flight request during drain: %s, want 200", got)
	}
	if code := f.wait(10 * time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	// New connections are refused once it stopped.
	if _, err := http.Get("http://" + proxyAddr + "/api/x"); err == nil {
		t.Error("proxy still accepts after shutdown")
	}
}

func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	writeFile(t, good, proxyConfig("127.0.0.1:18080", "127.0.0.1:19090", `  api:
    url: https://api.example.com
    headers: { Authorization: "Bearer sk_live_verysecret" }
`))
	cmd := exec.Command(binary, "check", "-c", good)
	cmd.Env = append(cmd.Environ(), "FENDER_TEST_DB="+filepath.Join(dir, "f.db"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("check good: %v", err)
	}
	if strings.Contains(string(out), "sk_live_verysecret") || !strings.Contains(string(out), "max_attempts: 3") {
		t.Errorf("effective config:\n%s", out)
	}
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, "upstreams:\n  api:\n    url: ftp://x\n    retry: { max_attempts: -1 }\n    nope: 1\n")
	cmd = exec.Command(binary, "check", "-c", bad)
	outb, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 {
		t.Fatalf("check bad: %v, want exit 2\n%s", err, outb)
	}
	for _, want := range []string{"bad.yaml:3", "upstreams.api.url", "max_attempts", "nope"} {
		if !strings.Contains(string(outb), want) {
			t.Errorf("check output lacks %q:\n%s", want, outb)
		}
	}
	if err := exec.Command(binary, "bogus").Run(); err == nil || err.(*exec.ExitError).ExitCode() != 2 {
		t.Errorf("unknown command: %v, want exit 2", err)
	}
	out, _ = exec.Command(binary, "version").Output()
	if !strings.HasPrefix(string(out), "fender ") || !strings.Contains(string(out), "go1.") {
		t.Errorf("version: %q", out)
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
