package telemetry

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
	n  int // write calls
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestBufferedWriterBatchesAndFlushes(t *testing.T) {
	var out lockedBuf
	w := NewBufferedWriter(&out, time.Hour)
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.Write([]byte(strings.Repeat("x", 10) + "\n"))
			_ = i
		}()
	}
	wg.Wait()
	if out.String() != "" {
		t.Fatal("wrote before a flush was due")
	}
	w.Close()
	w.Close()
	if got := strings.Count(out.String(), "\n"); got != 100 {
		t.Errorf("%d lines after Close, want 100", got)
	}
	if out.n != 1 {
		t.Errorf("%d write calls, want 1", out.n)
	}
}

func TestBufferedWriterFlushesOnInterval(t *testing.T) {
	var out lockedBuf
	w := NewBufferedWriter(&out, 10*time.Millisecond)
	defer w.Close()
	w.Write([]byte("line\n"))
	deadline := time.Now().Add(2 * time.Second)
	for out.String() == "" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if out.String() != "line\n" {
		t.Errorf("got %q after the interval", out.String())
	}
}
