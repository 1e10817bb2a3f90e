// Package e2e runs the real fender binary against simulated providers and
// applications.
package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fender-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "fender")
	build := exec.Command("go", "build", "-o", binary, "github.com/fender-dev/fender/cmd/fender")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build fender:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort returns a loopback address nobody listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// fender is a running fender process.
type fender struct {
	t      *testing.T
	cmd    *exec.Cmd
	config string
	admin  string
	mu     sync.Mutex
	logs   strings.Builder
	done   chan struct{}
	err    error
}

// start runs `fender serve -c config` and waits until /healthz answers.
func start(t *testing.T, config, admin string, env ...string) *fender {
	t.Helper()
	f := &fender{t: t, config: config, admin: admin, done: make(chan struct{})}
	f.cmd = exec.Command(binary, "serve", "-c", config)
	f.cmd.Env = append(os.Environ(), env...)
	stderr, _ := f.cmd.StderrPipe()
	f.cmd.Stdout = io.Discard
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			f.mu.Lock()
			f.logs.WriteString(sc.Text() + "\n")
			f.mu.Unlock()
		}
	}()
	go func() {
		f.err = f.cmd.Wait()
		close(f.done)
	}()
	t.Cleanup(func() {
		f.cmd.Process.Kill()
		<-f.done
		if t.Failed() {
			t.Logf("fender log:\n%s", f.Logs())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-f.done:
			t.Fatalf("fender exited early: %v\n%s", f.err, f.Logs())
		default:
		}
		resp, err := http.Get("http://" + admin + "/healthz")
		if err == nil {
			resp.Body.Close()
			return f
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("fender did not become healthy\n%s", f.Logs())
	return nil
}

func (f *fender) Logs() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logs.String()
}

func (f *fender) signal(s syscall.Signal) { f.cmd.Process.Signal(s) }

// waitLog waits until the log contains s.
func (f *fender) waitLog(s string, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if strings.Contains(f.Logs(), s) {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// wait waits for the process to exit and returns its exit code.
func (f *fender) wait(within time.Duration) int {
	select {
	case <-f.done:
	case <-time.After(within):
		f.t.Fatalf("fender did not exit within %v", within)
	}
	if f.err == nil {
		return 0
	}
	if ee, ok := f.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}
