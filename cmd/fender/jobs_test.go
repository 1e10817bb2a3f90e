package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fender-dev/fender/internal/admin"
	"github.com/fender-dev/fender/internal/store"
	"github.com/fender-dev/fender/internal/store/sqlite"
)

// jobsFixture is the jobs admin API over a real SQLite store.
type jobsFixture struct {
	st  store.Store
	url string
	now time.Time
}

func newJobsFixture(t *testing.T, token string) *jobsFixture {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "fender.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &jobsFixture{st: st, now: evT0.Add(time.Hour)}
	srv := admin.New(admin.Options{Token: token})
	admin.RegisterJobs(srv, st, func() time.Time { return f.now })
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	f.url = ts.URL
	return f
}

// add stores a request job to upstream created i minutes after evT0.
func (f *jobsFixture) add(t *testing.T, upstream string, i int) string {
	t.Helper()
	id, err := f.st.EnqueueJob(context.Background(), store.NewJob{
		Kind: store.JobRequest, Upstream: upstream, Method: http.MethodPost, Path: "v1/charges?expand=customer",
		Header:      map[string][]string{"Content-Type": {"application/json"}, "Authorization": {"Bearer caller-secret"}},
		Body:        []byte(`{"amount":42}`),
		CallbackURL: "http://127.0.0.1:3000/done", IdempotencyKey: "order-42",
		CreatedAt: evT0.Add(time.Duration(i) * time.Minute),
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// finish records one attempt of id moving it to out.
func (f *jobsFixture) finish(t *testing.T, id string, a store.JobAttempt, out store.JobOutcome) {
	t.Helper()
	ctx := context.Background()
	jobs, err := f.st.ClaimJobs(ctx, nil, nil, "test", store.MaxLimit, time.Minute, f.now)
	if err != nil {
		t.Fatal(err)
	}
	defer f.st.ReleaseJobs(ctx, "test")
	for _, j := range jobs {
		if j.ID == id {
			if out.NextAt.IsZero() {
				out.NextAt = f.now
			}
			if err := f.st.FinishJob(ctx, id, "test", a, out, f.now); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("job %s not claimable", id)
}

func (f *jobsFixture) kill(t *testing.T, id string) {
	f.finish(t, id, store.JobAttempt{StartedAt: evT0, Duration: time.Millisecond, Category: "connect", Error: "dial tcp: connection\nrefused"},
		store.JobOutcome{Status: store.JobDead, Error: "dial tcp: connection\nrefused"})
}

func (f *jobsFixture) status(t *testing.T, id string) string {
	t.Helper()
	j, _, err := f.st.GetJob(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return j.Status
}

// runJobs runs `fender jobs`.
var runJobs = runner(jobsCmd)

func TestJobsList(t *testing.T) {
	f := newJobsFixture(t, "")
	a, b, c := f.add(t, "stripe", 0), f.add(t, "twilio", 1), f.add(t, "stripe", 2)
	f.kill(t, a)

	out, _, err := runJobs(t, nil, "list", "--admin", f.url)
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
	if !strings.Contains(lines[3], "dead") || !strings.Contains(lines[3], "dial tcp: connection refused") ||
		!strings.Contains(lines[3], "POST /v1/charges?expand=customer") {
		t.Fatalf("dead row %q lacks its status, request or (one-line) error", lines[3])
	}

	env := map[string]string{"FENDER_ADMIN_URL": f.url}
	out, _, err = runJobs(t, env, "list", "--status", "dead")
	if err != nil || !strings.Contains(out, a) || strings.Contains(out, b) || strings.Contains(out, c) {
		t.Fatalf("--status dead: %v\n%s", err, out)
	}
	out, _, err = runJobs(t, env, "list", "--upstream", "stripe", "--kind", "request", "--since", "2030-01-02T03:05:05Z")
	if err != nil || !strings.Contains(out, c) || strings.Contains(out, a) || strings.Contains(out, b) {
		t.Fatalf("--upstream --kind --since: %v\n%s", err, out)
	}
	out, _, err = runJobs(t, env, "list", "--kind", "callback")
	if err != nil || strings.TrimSpace(out) != "no jobs" {
		t.Fatalf("no match: %v %q", err, out)
	}

	out, errOut, err := runJobs(t, env, "list", "--limit", "2")
	if err != nil || strings.Contains(out, a) || !strings.Contains(errOut, "--after "+b) {
		t.Fatalf("--limit 2: %v\n%s\n%s", err, out, errOut)
	}
	out, _, err = runJobs(t, env, "list", "--limit", "1", "--all-pages", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var list admin.JobListJSON
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if len(list.Jobs) != 3 || list.Next != "" || list.Jobs[2].ID != a || list.Jobs[2].Attempts != 1 {
		t.Fatalf("--all-pages --json: %+v", list)
	}
}

func TestJobsShow(t *testing.T) {
	f := newJobsFixture(t, "")
	id := f.add(t, "stripe", 0)
	f.finish(t, id, store.JobAttempt{StartedAt: evT0.Add(time.Minute), Duration: 1500 * time.Microsecond, Status: 503,
		Category: "server_error", Error: "HTTP 503", ResponseExcerpt: "try later"},
		store.JobOutcome{Status: store.JobPending, Error: "HTTP 503"})
	f.finish(t, id, store.JobAttempt{StartedAt: evT0.Add(2 * time.Minute), Duration: 20 * time.Millisecond, Status: 400,
		Category: "client_error", Error: "HTTP 400"},
		store.JobOutcome{Status: store.JobFailed, Error: "HTTP 400", Response: &store.StoredResponse{
			Status: 400, Header: map[string][]string{"Content-Type": {"application/json"}}, Body: []byte(`{"error":"amount too small"}`)}})
	env := map[string]string{"FENDER_ADMIN_URL": f.url}

	out, _, err := runJobs(t, env, "show", id)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{id, "failed", "POST /v1/charges?expand=customer", "order-42", "http://127.0.0.1:3000/done",
		`"amount": 42`, "response: 400", `"error": "amount too small"`, "attempts:", "Authorization: ***"} {
		if !strings.Contains(out, want) {
			t.Fatalf("show lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "caller-secret") {
		t.Fatalf("show printed the caller's credential:\n%s", out)
	}
	var a1, a2 string
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.Contains(l, "server_error"):
			a1 = l
		case strings.Contains(l, "client_error"):
			a2 = l
		}
	}
	if !strings.Contains(a1, "503") || !strings.Contains(a1, "1.5ms") || !strings.Contains(a1, "try later") || !strings.Contains(a2, "20ms") {
		t.Fatalf("attempt lines %q and %q:\n%s", a1, a2, out)
	}

	out, _, err = runJobs(t, env, "show", id, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var j admin.JobDetailJSON
	if err := json.Unmarshal([]byte(out), &j); err != nil || len(j.Attempts) != 2 || j.Response == nil || j.Response.Status != 400 {
		t.Fatalf("show --json: %v\n%s", err, out)
	}

	// A pending job without attempts.
	p := f.add(t, "stripe", 1)
	out, _, err = runJobs(t, env, "show", p)
	if err != nil || !strings.Contains(out, "no response stored") || !strings.Contains(out, "no attempts yet") {
		t.Fatalf("pending job: %v\n%s", err, out)
	}

	_, errOut, err := runJobs(t, env, "show", store.NewID())
	if err == nil || exitCode(err) != exitRuntime || !errors.Is(err, errReported) || !strings.Contains(errOut, "Job not found") {
		t.Fatalf("unknown id: err %v (exit %d), stderr %q", err, exitCode(err), errOut)
	}
}

func TestJobsReplay(t *testing.T) {
	f := newJobsFixture(t, "")
	a, b, c, d := f.add(t, "stripe", 0), f.add(t, "stripe", 1), f.add(t, "twilio", 2), f.add(t, "twilio", 3)
	for _, id := range []string{a, b, c, d} {
		f.kill(t, id)
	}
	env := map[string]string{"FENDER_ADMIN_URL": f.url}

	out, _, err := runJobs(t, env, "replay", a, b)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "replayed "+a+" (pending)") || !strings.Contains(out, "replayed "+b+" (pending)") {
		t.Fatalf("replay output:\n%s", out)
	}
	if f.status(t, a) != store.JobPending || f.status(t, b) != store.JobPending || f.status(t, c) != store.JobDead {
		t.Fatal("replay by id moved the wrong jobs")
	}

	unknown := store.NewID()
	out, errOut, err := runJobs(t, env, "replay", unknown, c)
	if err == nil || exitCode(err) != exitRuntime || !strings.Contains(errOut, unknown) || !strings.Contains(errOut, "1 of 2") ||
		!strings.Contains(out, "replayed "+c) || f.status(t, c) != store.JobPending {
		t.Fatalf("replay with an unknown id: %v\n%s\n%s", err, out, errOut)
	}

	out, _, err = runJobs(t, env, "replay", "--upstream", "twilio", "--status", "dead")
	if err != nil || !strings.Contains(out, "replayed 1 job ") || !strings.Contains(out, "upstream=twilio status=dead") {
		t.Fatalf("bulk replay: %v\n%s", err, out)
	}
	if f.status(t, d) != store.JobPending {
		t.Fatal("bulk replay did not move the dead twilio job")
	}
	out, _, err = runJobs(t, env, "replay", "--all")
	if err != nil || !strings.Contains(out, "replayed 0 jobs (all jobs)") {
		t.Fatalf("replay --all: %v\n%s", err, out)
	}
}

func TestJobsToken(t *testing.T) {
	f := newJobsFixture(t, "s3cret")
	f.add(t, "stripe", 0)
	testToken(t, runJobs, f.url)
}

func TestJobsUsage(t *testing.T) {
	testUsage(t, "jobs", runJobs, [][]string{
		{},
		{"frob"},
		{"show"},
		{"show", "a", "b"},
		{"replay"},
		{"replay", "x", "--upstream", "stripe"},
		{"list", "extra"},
		{"list", "--source", "stripe"},
		{"list", "--status", "delivered"},
		{"list", "--kind", "webhook"},
		{"list", "--since", "yesterday"},
		{"list", "--limit", "-1"},
		{"replay", "--status", "dead", "--until", "soon"},
		{"list", "--admin", "127.0.0.1:9090"},
	}, "fender jobs list", "-upstream")
	testUnreachable(t, runJobs)
}
