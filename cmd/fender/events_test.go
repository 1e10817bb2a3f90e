package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fender-dev/fender/internal/admin"
	"github.com/fender-dev/fender/internal/store"
	"github.com/fender-dev/fender/internal/store/sqlite"
)

var evT0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// adminFixture is an admin API over a real SQLite store.
type adminFixture struct {
	st  store.Store
	url string
}

func newAdminFixture(t *testing.T, token string) *adminFixture {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "fender.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := admin.New(admin.Options{Token: token})
	admin.RegisterEvents(srv, st, func() time.Time { return evT0.Add(time.Hour) })
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &adminFixture{st: st, url: ts.URL}
}

// add stores an event received i minutes after evT0.
func (f *adminFixture) add(t *testing.T, source string, i int) string {
	t.Helper()
	res, err := f.st.Ingest(context.Background(), store.NewEvent{
		Source: source, EventID: "evt_" + source + "_" + string(rune('a'+i)), ContentType: "application/json",
		Body: []byte(`{"type":"charge.failed","amount":42}`), ReceivedAt: evT0.Add(time.Duration(i) * time.Minute),
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.ID
}

// attempt records a delivery attempt of id moving it to status.
func (f *adminFixture) attempt(t *testing.T, id string, a store.Attempt, status string) {
	t.Helper()
	ctx := context.Background()
	now := evT0.Add(time.Hour)
	es, err := f.st.Claim(ctx, nil, "test", store.MaxLimit, time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	defer f.st.Release(ctx, "test")
	for _, e := range es {
		if e.ID == id {
			if err := f.st.Finish(ctx, id, "test", a, store.Outcome{Status: status, NextAt: now, Error: a.Error}, now); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("event %s not claimable", id)
}

func (f *adminFixture) kill(t *testing.T, id string) {
	f.attempt(t, id, store.Attempt{StartedAt: evT0, Duration: time.Millisecond, Status: 422, Category: "client_error", Error: "HTTP 422: unprocessable\nentity"}, store.StatusDead)
}

func (f *adminFixture) status(t *testing.T, id string) string {
	t.Helper()
	e, _, err := f.st.GetEvent(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return e.Status
}

// runEvents runs `fender events`.
var runEvents = runner(eventsCmd)

func TestEventsList(t *testing.T) {
	f := newAdminFixture(t, "")
	a, b, c := f.add(t, "stripe", 0), f.add(t, "github", 1), f.add(t, "stripe", 2)
	f.kill(t, a)

	out, _, err := runEvents(t, nil, "list", "--admin", f.url)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID ") {
		t.Fatalf("table:\n%s", out)
	}
	for i, id := range []string{c, b, a} { // newest first
		if !strings.HasPrefix(lines[i+1], id) {
			t.Fatalf("row %d is not %s:\n%s", i+1, id, out)
		}
	}
	if !strings.Contains(lines[3], "dead") || !strings.Contains(lines[3], "HTTP 422: unprocessable entity") {
		t.Fatalf("dead row %q lacks its status or (one-line) error", lines[3])
	}

	// Filters, and the URL from the environment.
	env := map[string]string{"FENDER_ADMIN_URL": f.url}
	out, _, err = runEvents(t, env, "list", "--status", "dead")
	if err != nil || !strings.Contains(out, a) || strings.Contains(out, b) || strings.Contains(out, c) {
		t.Fatalf("--status dead: %v\n%s", err, out)
	}
	out, _, err = runEvents(t, env, "list", "--source", "stripe", "--since", "2030-01-02T03:05:05Z")
	if err != nil || !strings.Contains(out, c) || strings.Contains(out, a) || strings.Contains(out, b) {
		t.Fatalf("--source --since: %v\n%s", err, out)
	}
	out, _, err = runEvents(t, env, "list", "--source", "nope")
	if err != nil || strings.TrimSpace(out) != "no events" {
		t.Fatalf("no match: %v %q", err, out)
	}

	// One page, with the hint to go on; then every page.
	out, errOut, err := runEvents(t, env, "list", "--limit", "2")
	if err != nil || strings.Contains(out, a) || !strings.Contains(errOut, "--after "+b) {
		t.Fatalf("--limit 2: %v\n%s\n%s", err, out, errOut)
	}
	out, _, err = runEvents(t, env, "list", "--limit", "1", "--all-pages", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var list admin.EventListJSON
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if len(list.Events) != 3 || list.Next != "" || list.Events[2].ID != a || list.Events[2].Attempts != 1 {
		t.Fatalf("--all-pages --json: %+v", list)
	}
}

func TestEventsShow(t *testing.T) {
	f := newAdminFixture(t, "")
	id := f.add(t, "stripe", 0)
	f.attempt(t, id, store.Attempt{StartedAt: evT0.Add(time.Minute), Duration: 1500 * time.Microsecond, Status: 503,
		Category: "server_error", Error: "HTTP 503", ResponseExcerpt: "try later"}, store.StatusPending)
	f.attempt(t, id, store.Attempt{StartedAt: evT0.Add(2 * time.Minute), Duration: 30 * time.Second,
		Category: "timeout", Error: "context deadline exceeded"}, store.StatusDead)
	env := map[string]string{"FENDER_ADMIN_URL": f.url}

	out, _, err := runEvents(t, env, "show", id)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{id, "evt_stripe_a", "dead", `"amount": 42`, "attempts:"} {
		if !strings.Contains(out, want) {
			t.Fatalf("show lacks %q:\n%s", want, out)
		}
	}
	var a1, a2 string
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.Contains(l, "server_error"):
			a1 = l
		case strings.Contains(l, "timeout"):
			a2 = l
		}
	}
	if !strings.Contains(a1, "503") || !strings.Contains(a1, "1.5ms") || !strings.Contains(a1, "try later") ||
		!strings.Contains(a2, "30s") || !strings.Contains(a2, "context deadline exceeded") || a1 == a2 {
		t.Fatalf("attempt lines %q and %q:\n%s", a1, a2, out)
	}

	out, _, err = runEvents(t, env, "show", id, "--json") // flags after the id
	if err != nil {
		t.Fatal(err)
	}
	var e admin.EventDetailJSON
	if err := json.Unmarshal([]byte(out), &e); err != nil || len(e.Attempts) != 2 || e.Attempts[1].Category != "timeout" {
		t.Fatalf("show --json: %v\n%s", err, out)
	}

	_, errOut, err := runEvents(t, env, "show", store.NewID())
	if err == nil || exitCode(err) != exitRuntime || !errors.Is(err, errReported) || !strings.Contains(errOut, "Event not found") {
		t.Fatalf("unknown id: err %v (exit %d), stderr %q", err, exitCode(err), errOut)
	}
}

func TestEventsReplay(t *testing.T) {
	f := newAdminFixture(t, "")
	a, b, c, d := f.add(t, "stripe", 0), f.add(t, "stripe", 1), f.add(t, "github", 2), f.add(t, "github", 3)
	for _, id := range []string{a, b, c, d} {
		f.kill(t, id)
	}
	env := map[string]string{"FENDER_ADMIN_URL": f.url}

	out, _, err := runEvents(t, env, "replay", a, b)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "replayed "+a+" (pending)") || !strings.Contains(out, "replayed "+b+" (pending)") {
		t.Fatalf("replay output:\n%s", out)
	}
	if f.status(t, a) != "pending" || f.status(t, b) != "pending" || f.status(t, c) != "dead" {
		t.Fatal("replay by id moved the wrong events")
	}

	// An unknown id is reported; the others are still replayed.
	unknown := store.NewID()
	out, errOut, err := runEvents(t, env, "replay", unknown, c)
	if err == nil || exitCode(err) != exitRuntime || !strings.Contains(errOut, unknown) || !strings.Contains(errOut, "1 of 2") ||
		!strings.Contains(out, "replayed "+c) || f.status(t, c) != "pending" {
		t.Fatalf("replay with an unknown id: %v\n%s\n%s", err, out, errOut)
	}

	out, _, err = runEvents(t, env, "replay", "--source", "github", "--status", "dead")
	if err != nil || !strings.Contains(out, "replayed 1 event ") || !strings.Contains(out, "source=github status=dead") {
		t.Fatalf("bulk replay: %v\n%s", err, out)
	}
	if f.status(t, d) != "pending" {
		t.Fatal("bulk replay did not move the dead github event")
	}
	out, _, err = runEvents(t, env, "replay", "--all")
	if err != nil || !strings.Contains(out, "replayed 0 events (all events)") {
		t.Fatalf("replay --all: %v\n%s", err, out)
	}
}

func TestEventsToken(t *testing.T) {
	f := newAdminFixture(t, "s3cret")
	f.add(t, "stripe", 0)
	testToken(t, runEvents, f.url)
}

func TestEventsUnreachable(t *testing.T) {
	testUnreachable(t, runEvents)
}

func TestEventsUsage(t *testing.T) {
	testUsage(t, "events", runEvents, [][]string{
		{},
		{"frob"},
		{"show"},
		{"show", "a", "b"},
		{"replay"},
		{"replay", "x", "--source", "stripe"},
		{"list", "extra"},
		{"list", "--bogus"},
		{"list", "--status", "lost"},
		{"list", "--since", "yesterday"},
		{"list", "--limit", "-1"},
		{"replay", "--status", "dead", "--until", "soon"},
		{"list", "--admin", "127.0.0.1:9090"},
		{"list", "--admin", "ftp://host"},
	}, "fender events list", "-all-pages")
}

func TestParseTimeFlag(t *testing.T) {
	now := evT0
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"2030-01-01T00:00:00Z", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"2030-01-01T02:00:00+02:00", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"24h", evT0.Add(-24 * time.Hour)},
		{"90m", evT0.Add(-90 * time.Minute)},
	} {
		got, err := parseTimeFlag(tc.in, now)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("parseTimeFlag(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "yesterday", "-1h", "2030-01-01"} {
		if _, err := parseTimeFlag(in, now); err == nil {
			t.Errorf("parseTimeFlag(%q): no error", in)
		}
	}
}
