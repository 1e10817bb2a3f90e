package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fender-dev/fender/internal/store"
	"github.com/fender-dev/fender/internal/store/sqlite"
)

// breakWrites makes every file descriptor this process holds on the
// database and its WAL read-only, in place (dup3 of a read-only descriptor
// of the same file over it): the next write fails with EBADF like a failed
// disk. The returned function puts the original descriptors back.
func breakWrites(t *testing.T, dbPath string) (restore func()) {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	type saved struct{ fd, orig int }
	var broken []saved
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil || (target != dbPath && target != dbPath+"-wal") {
			continue
		}
		orig, err := syscall.Dup(fd)
		if err != nil {
			t.Fatal(err)
		}
		ro, err := syscall.Open(target, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Dup3(ro, fd, syscall.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		syscall.Close(ro)
		broken = append(broken, saved{fd, orig})
	}
	if len(broken) == 0 {
		t.Fatalf("no descriptor open on %s", dbPath)
	}
	return func() {
		for _, b := range broken {
			if err := syscall.Dup3(b.orig, b.fd, syscall.O_CLOEXEC); err != nil {
				t.Fatal(err)
			}
			syscall.Close(b.orig)
		}
	}
}

// TestIngestFailsWhenDiskFails: a write error is never acknowledged, for
// any caller of the failing batch, and nothing of it is kept; once the disk
// works again so does Ingest.
func TestIngestFailsWhenDiskFails(t *testing.T) {
	ctx := context.Background()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "fender.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := func(id string) store.NewEvent {
		return store.NewEvent{Source: "s", EventID: id, Body: []byte("{}"), ReceivedAt: at}
	}
	if _, err := s.Ingest(ctx, ev("before")); err != nil {
		t.Fatal(err)
	}

	restore := breakWrites(t, path)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			res, err := s.Ingest(ctx, ev("during-"+strconv.Itoa(i)))
			if err == nil {
				t.Errorf("Ingest acknowledged %s while the disk fails", res.ID)
			} else if i == 0 {
				t.Logf("Ingest while the disk fails: %v", err)
			}
		})
	}
	wg.Wait()
	restore()

	res, err := s.Ingest(ctx, ev("after"))
	if err != nil {
		t.Fatalf("Ingest after the disk recovered: %v", err)
	}
	if res.Duplicate {
		t.Fatal("fresh event reported duplicate")
	}
	// None of the failed batch was kept: ingesting it again is not a duplicate.
	res, err = s.Ingest(ctx, ev("during-0"))
	if err != nil || res.Duplicate {
		t.Fatalf("re-ingest of a failed event = %+v, %v; want stored fresh", res, err)
	}
	es, _, err := s.ListEvents(ctx, store.Filter{})
	if err != nil || len(es) != 3 {
		t.Fatalf("ListEvents = %d events, %v; want 3", len(es), err)
	}
	if err := s.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Close: %v", err)
	}
}
