package storetest

import (
	"bytes"
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fender-dev/fender/internal/store"
)

func enqueue(t *testing.T, s store.Store, j store.NewJob) string {
	t.Helper()
	if j.Kind == "" {
		j.Kind = store.JobRequest
	}
	if j.Upstream == "" && j.Kind == store.JobRequest {
		j.Upstream = "up"
	}
	if j.Method == "" {
		j.Method = "POST"
	}
	if j.Path == "" {
		j.Path = "/v1/orders?x=1"
	}
	if j.CreatedAt.IsZero() {
		j.CreatedAt = t0
	}
	id, err := s.EnqueueJob(context.Background(), j)
	if err != nil {
		t.Fatalf("EnqueueJob: %v", err)
	}
	return id
}

func claimJobs(t *testing.T, s store.Store, kinds, upstreams []string, owner string, limit int, now time.Time) []store.Job {
	t.Helper()
	js, err := s.ClaimJobs(context.Background(), kinds, upstreams, owner, limit, time.Minute, now)
	if err != nil {
		t.Fatalf("ClaimJobs(%s): %v", owner, err)
	}
	return js
}

func finishJob(t *testing.T, s store.Store, id, owner string, out store.JobOutcome, now time.Time) {
	t.Helper()
	a := store.JobAttempt{StartedAt: now, Duration: 2 * time.Millisecond, Status: 200}
	if err := s.FinishJob(context.Background(), id, owner, a, out, now); err != nil {
		t.Fatalf("FinishJob(%s, %s): %v", id, owner, err)
	}
}

func getJob(t *testing.T, s store.Store, id string) (store.Job, []store.JobAttempt) {
	t.Helper()
	j, as, err := s.GetJob(context.Background(), id)
	if err != nil {
		t.Fatalf("GetJob(%s): %v", id, err)
	}
	return j, as
}

func jobID(j store.Job) string { return j.ID }

func jobIDs(js []store.Job) []string { return idsOf(js, jobID) }

func wantJobs(t *testing.T, what string, got []store.Job, want ...string) {
	t.Helper()
	wantIDsOf(t, what, got, jobID, want...)
}

func wantJobStatus(t *testing.T, s store.Store, id, status string) store.Job {
	t.Helper()
	j, _ := getJob(t, s, id)
	if j.Status != status {
		t.Fatalf("job %s: status %q, want %q", id, j.Status, status)
	}
	return j
}

func testJobEnqueueAndGet(t *testing.T, s store.Store) {
	ctx := context.Background()
	nj := store.NewJob{Kind: store.JobRequest, Upstream: "stripe", Method: "POST", Path: "/v1/charges?expand=x",
		Header: map[string][]string{"Content-Type": {"application/json"}, "Accept": {"a", "b"}}, Body: []byte(`{"amount":1}`),
		CallbackURL: "https://app.example/cb", IdempotencyKey: "ik-1", CreatedAt: t0}
	id, err := s.EnqueueJob(ctx, nj)
	if err != nil || id == "" {
		t.Fatalf("EnqueueJob = %q, %v", id, err)
	}
	j, as := getJob(t, s, id)
	if len(as) != 0 || j.ID != id || j.Kind != store.JobRequest || j.Upstream != "stripe" || j.Method != "POST" ||
		j.Path != nj.Path || !bytes.Equal(j.Body, nj.Body) || j.CallbackURL != nj.CallbackURL || j.IdempotencyKey != "ik-1" ||
		j.ParentID != "" || j.Status != store.JobPending || j.Attempts != 0 || !j.NextAt.Equal(t0) || !j.CreatedAt.Equal(t0) ||
		j.FinishedAt != nil || j.LastError != "" || j.Response != nil {
		t.Errorf("GetJob = %+v, %v", j, as)
	}
	if len(j.Header) != 2 || strings.Join(j.Header["Accept"], ",") != "a,b" {
		t.Errorf("Header = %v", j.Header)
	}
	if _, _, err := s.GetJob(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetJob(unknown) err = %v, want ErrNotFound", err)
	}
	for _, bad := range []store.NewJob{
		{Kind: "bogus", Upstream: "u", Method: "GET", Path: "/"},
		{Kind: store.JobRequest, Method: "GET", Path: "/"},
		{Kind: store.JobCallback, Method: "POST"},
	} {
		if _, err := s.EnqueueJob(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("EnqueueJob(%+v) err = %v, want ErrInvalid", bad, err)
		}
	}
	if _, _, err := s.ListJobs(ctx, store.JobFilter{Status: "delivered"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("ListJobs(bad status) err = %v, want ErrInvalid", err)
	}
}

func testJobClaimAndFinish(t *testing.T, s store.Store) {
	ctx := context.Background()
	j1 := enqueue(t, s, store.NewJob{CreatedAt: t0})
	j3 := enqueue(t, s, store.NewJob{CreatedAt: t0.Add(2 * time.Second)})
	j2 := enqueue(t, s, store.NewJob{CreatedAt: t0.Add(time.Second), Upstream: "other"})
	now := t0.Add(10 * time.Second)

	wantJobs(t, "claim up", claimJobs(t, s, nil, []string{"up"}, "w1", 1, now), j1)
	wantJobs(t, "claim all", claimJobs(t, s, nil, nil, "w2", 5, now), j2, j3)
	wantJobs(t, "claim again", claimJobs(t, s, nil, nil, "w2", 5, now))

	// Succeeded with a response.
	resp := &store.StoredResponse{Status: 201, Header: map[string][]string{"Location": {"/orders/1"}}, Body: []byte("created")}
	a := store.JobAttempt{StartedAt: now, Duration: 1234 * time.Microsecond, Status: 201, ResponseExcerpt: strings.Repeat("x", 5000)}
	if err := s.FinishJob(ctx, j1, "w1", a, store.JobOutcome{Status: store.JobSucceeded, Response: resp}, now.Add(time.Second)); err != nil {
		t.Fatalf("FinishJob: %v", err)
	}
	j, as := getJob(t, s, j1)
	if j.Status != store.JobSucceeded || j.Attempts != 1 || j.FinishedAt == nil || !j.FinishedAt.Equal(now.Add(time.Second)) ||
		j.Response == nil || j.Response.Status != 201 || string(j.Response.Body) != "created" || j.Response.Header["Location"][0] != "/orders/1" {
		t.Errorf("succeeded job = %+v (response %+v)", j, j.Response)
	}
	if len(as) != 1 || as[0].N != 1 || as[0].JobID != j1 || as[0].Status != 201 || as[0].Duration != 1234*time.Microsecond ||
		!as[0].StartedAt.Equal(now) || len(as[0].ResponseExcerpt) != store.MaxExcerpt {
		t.Errorf("attempts = %+v", as)
	}
	if err := s.FinishJob(ctx, j1, "w1", a, store.JobOutcome{Status: store.JobSucceeded}, now); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("second FinishJob err = %v, want ErrLeaseLost", err)
	}

	// Retry, then failed (a final non-2xx response).
	retryAt := now.Add(5 * time.Second)
	fail := store.JobAttempt{StartedAt: now, Status: 503, Category: "server_error", Error: "503"}
	if err := s.FinishJob(ctx, j2, "w2", fail, store.JobOutcome{Status: store.JobPending, NextAt: retryAt, Error: "503"}, now); err != nil {
		t.Fatalf("FinishJob(retry): %v", err)
	}
	j = wantJobStatus(t, s, j2, store.JobPending)
	if j.Attempts != 1 || !j.NextAt.Equal(retryAt) || j.LastError != "503" || j.FinishedAt != nil || j.Response != nil {
		t.Errorf("retried job = %+v", j)
	}
	wantJobs(t, "claim before retry", claimJobs(t, s, nil, nil, "w2", 5, retryAt.Add(-time.Microsecond)))
	wantJobs(t, "claim at retry", claimJobs(t, s, nil, nil, "w2", 5, retryAt), j2)
	finishJob(t, s, j2, "w2", store.JobOutcome{Status: store.JobFailed, Error: "422",
		Response: &store.StoredResponse{Status: 422, Body: []byte("no")}}, retryAt)
	j, as = getJob(t, s, j2)
	if j.Status != store.JobFailed || j.Attempts != 2 || len(as) != 2 || as[1].N != 2 || j.Response.Status != 422 || j.FinishedAt == nil {
		t.Errorf("failed job = %+v, %d attempts", j, len(as))
	}

	// Dead; wrong owner; unknown.
	if err := s.FinishJob(ctx, j3, "w1", a, store.JobOutcome{Status: store.JobDead}, now); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("FinishJob by non-owner err = %v, want ErrLeaseLost", err)
	}
	finishJob(t, s, j3, "w2", store.JobOutcome{Status: store.JobDead, Error: "attempts exhausted"}, now)
	if j := wantJobStatus(t, s, j3, store.JobDead); j.LastError != "attempts exhausted" || j.Response != nil {
		t.Errorf("dead job = %+v", j)
	}
	wantJobs(t, "claim finished", claimJobs(t, s, nil, nil, "w", 5, now.Add(48*time.Hour)))
	if err := s.FinishJob(ctx, "missing", "w1", a, store.JobOutcome{Status: store.JobDead}, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FinishJob(unknown) err = %v, want ErrNotFound", err)
	}
	if err := s.FinishJob(ctx, j3, "w2", a, store.JobOutcome{Status: "delivered"}, now); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("FinishJob(bad status) err = %v, want ErrInvalid", err)
	}

	// Lease expiry.
	j4 := enqueue(t, s, store.NewJob{})
	if js, err := s.ClaimJobs(ctx, nil, nil, "a", 1, 30*time.Second, now); err != nil || len(js) != 1 {
		t.Fatalf("ClaimJobs(a) = %v, %v", jobIDs(js), err)
	}
	later := now.Add(31 * time.Second)
	wantJobs(t, "claim after expiry", claimJobs(t, s, nil, nil, "b", 1, later), j4)
	if err := s.FinishJob(ctx, j4, "a", a, store.JobOutcome{Status: store.JobSucceeded}, later); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("FinishJob by expired owner err = %v, want ErrLeaseLost", err)
	}
	if j, as := getJob(t, s, j4); j.Attempts != 0 || len(as) != 0 {
		t.Fatalf("lost finish recorded an attempt: %d / %d", j.Attempts, len(as))
	}
}

func testJobClaimKinds(t *testing.T, s store.Store) {
	r := enqueue(t, s, store.NewJob{Kind: store.JobRequest})
	c := enqueue(t, s, store.NewJob{Kind: store.JobCallback, Path: "https://app.example/cb", ParentID: r, CreatedAt: t0.Add(time.Second)})
	now := t0.Add(time.Hour)
	wantJobs(t, "claim callbacks", claimJobs(t, s, []string{store.JobCallback}, nil, "w", 10, now), c)
	wantJobs(t, "claim requests", claimJobs(t, s, []string{store.JobRequest, store.JobCallback}, nil, "w", 10, now), r)
}

func testJobClaimersNeverShare(t *testing.T, s store.Store) {
	const jobs, claimers = 200, 4
	for i := range jobs {
		enqueue(t, s, store.NewJob{CreatedAt: t0.Add(time.Duration(i) * time.Millisecond)})
	}
	now := t0.Add(time.Hour)
	n := claimConcurrently(t, claimers, "job", "ClaimJobs", "FinishJob",
		func(ctx context.Context, owner string) ([]string, error) {
			js, err := s.ClaimJobs(ctx, nil, nil, owner, 7, time.Minute, now)
			return jobIDs(js), err
		},
		func(ctx context.Context, id, owner string) error {
			return s.FinishJob(ctx, id, owner, store.JobAttempt{StartedAt: now}, store.JobOutcome{Status: store.JobSucceeded}, now)
		})
	if n != jobs {
		t.Fatalf("claimed %d distinct jobs, want %d", n, jobs)
	}
	d, err := s.JobQueueDepth(context.Background())
	if err != nil || d[store.JobRequest][store.JobSucceeded] != jobs || d[store.JobRequest][store.JobPending] != 0 {
		t.Fatalf("JobQueueDepth = %v, %v", d, err)
	}
}

func testJobDeferAndRelease(t *testing.T, s store.Store) {
	ctx := context.Background()
	j1 := enqueue(t, s, store.NewJob{})
	j2 := enqueue(t, s, store.NewJob{CreatedAt: t0.Add(time.Second)})
	now := t0.Add(time.Minute)
	wantJobs(t, "claim", claimJobs(t, s, nil, nil, "a", 2, now), j1, j2)

	// Defer: back later, no attempt recorded, the reason shown.
	until := now.Add(10 * time.Minute)
	if err := s.DeferJob(ctx, j1, "a", until, "circuit_open", now); err != nil {
		t.Fatalf("DeferJob: %v", err)
	}
	j, as := getJob(t, s, j1)
	if j.Status != store.JobPending || j.Attempts != 0 || len(as) != 0 || !j.NextAt.Equal(until) || j.LastError != "circuit_open" {
		t.Errorf("deferred job = %+v, %d attempts", j, len(as))
	}
	if err := s.DeferJob(ctx, j1, "a", until, "", now); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("DeferJob without lease err = %v, want ErrLeaseLost", err)
	}
	if err := s.DeferJob(ctx, "missing", "a", until, "", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeferJob(unknown) err = %v, want ErrNotFound", err)
	}
	wantJobs(t, "claim while deferred and leased", claimJobs(t, s, nil, nil, "b", 5, now.Add(30*time.Second)))

	// Release.
	if err := s.ReleaseJobs(ctx, "a"); err != nil {
		t.Fatalf("ReleaseJobs: %v", err)
	}
	wantJobs(t, "claim after release", claimJobs(t, s, nil, nil, "b", 5, now), j2)
	if err := s.FinishJob(ctx, j2, "a", store.JobAttempt{}, store.JobOutcome{Status: store.JobSucceeded}, now); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("FinishJob by released owner err = %v, want ErrLeaseLost", err)
	}
	finishJob(t, s, j2, "b", store.JobOutcome{Status: store.JobSucceeded}, now)
	wantJobs(t, "claim when deferral ends", claimJobs(t, s, nil, nil, "b", 5, until), j1)
	if err := s.ReleaseJobs(ctx, "nobody"); err != nil {
		t.Fatal(err)
	}
}

func testJobCallback(t *testing.T, s store.Store) {
	ctx := context.Background()
	id := enqueue(t, s, store.NewJob{CallbackURL: "https://app.example/cb"})
	claimJobs(t, s, nil, nil, "w", 1, t0)
	cb := &store.NewJob{Kind: store.JobCallback, Method: "POST", Path: "https://app.example/cb",
		Header: map[string][]string{"Content-Type": {"application/json"}}, Body: []byte(`{"status":"succeeded"}`)}
	now := t0.Add(time.Second)
	finishJob(t, s, id, "w", store.JobOutcome{Status: store.JobSucceeded, Response: &store.StoredResponse{Status: 200}, Callback: cb}, now)

	got := claimJobs(t, s, []string{store.JobCallback}, nil, "cbw", 5, now)
	if len(got) != 1 {
		t.Fatalf("claimed %d callbacks, want 1", len(got))
	}
	c := got[0]
	if c.Kind != store.JobCallback || c.ParentID != id || c.Path != cb.Path || string(c.Body) != string(cb.Body) ||
		!c.CreatedAt.Equal(now) || c.Header["Content-Type"][0] != "application/json" || c.Upstream != "" {
		t.Errorf("callback job = %+v", c)
	}

	// A lost lease inserts no callback.
	id2 := enqueue(t, s, store.NewJob{})
	claimJobs(t, s, []string{store.JobRequest}, nil, "w", 1, now)
	err := s.FinishJob(ctx, id2, "other", store.JobAttempt{}, store.JobOutcome{Status: store.JobSucceeded, Callback: cb}, now)
	if !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("FinishJob by non-owner err = %v", err)
	}
	// An invalid callback fails the finish as a whole.
	err = s.FinishJob(ctx, id2, "w", store.JobAttempt{}, store.JobOutcome{Status: store.JobSucceeded, Callback: &store.NewJob{Kind: store.JobRequest}}, now)
	if !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("FinishJob(bad callback) err = %v, want ErrInvalid", err)
	}
	wantJobStatus(t, s, id2, store.JobPending)
	d, err := s.JobQueueDepth(ctx)
	if err != nil || d[store.JobCallback][store.JobPending] != 1 || d[store.JobRequest][store.JobSucceeded] != 1 || d[store.JobRequest][store.JobPending] != 1 {
		t.Fatalf("JobQueueDepth = %v, %v", d, err)
	}
}

// finishedJob enqueues a job and finishes one attempt with status at
// created; a pending job is rescheduled to farFuture.
func finishedJob(t *testing.T, s store.Store, kind, upstream, status string, created time.Time) string {
	t.Helper()
	nj := store.NewJob{Kind: kind, Upstream: upstream, CreatedAt: created}
	if kind == store.JobCallback {
		nj.Path = "https://app.example/cb"
	}
	id := enqueue(t, s, nj)
	got, err := s.ClaimJobs(context.Background(), []string{kind}, []string{upstream}, "setup", 1, time.Minute, created)
	if err != nil || len(got) != 1 || got[0].ID != id {
		t.Fatalf("setup claim got %v, %v; want %s", jobIDs(got), err, id)
	}
	finishJob(t, s, id, "setup", store.JobOutcome{Status: status, NextAt: farFuture, Error: "x"}, created)
	return id
}

func testJobReplay(t *testing.T, s store.Store) {
	ctx := context.Background()
	id := finishedJob(t, s, store.JobRequest, "up", store.JobDead, t0)
	later := t0.Add(time.Hour)
	if err := s.ReplayJob(ctx, id, later); err != nil {
		t.Fatalf("ReplayJob: %v", err)
	}
	if j := wantJobStatus(t, s, id, store.JobPending); !j.NextAt.Equal(later) || j.Attempts != 1 || j.FinishedAt != nil {
		t.Errorf("replayed job = %+v", j)
	}
	wantJobs(t, "claim replayed", claimJobs(t, s, nil, nil, "w", 5, later), id)
	finishJob(t, s, id, "w", store.JobOutcome{Status: store.JobSucceeded}, later)
	if err := s.ReplayJob(ctx, id, later); err != nil {
		t.Fatalf("ReplayJob(succeeded): %v", err)
	}
	wantJobStatus(t, s, id, store.JobPending)
	if err := s.ReplayJob(ctx, id, later.Add(time.Hour)); err != nil {
		t.Fatalf("ReplayJob(pending): %v", err)
	}
	if j, _ := getJob(t, s, id); !j.NextAt.Equal(later) {
		t.Errorf("ReplayJob(pending) moved NextAt to %v", j.NextAt)
	}
	if err := s.ReplayJob(ctx, "missing", later); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ReplayJob(unknown) err = %v, want ErrNotFound", err)
	}

	// By filter.
	aDead := finishedJob(t, s, store.JobRequest, "a", store.JobDead, t0)
	aFailed := finishedJob(t, s, store.JobRequest, "a", store.JobFailed, t0.Add(time.Hour))
	aPend := finishedJob(t, s, store.JobRequest, "a", store.JobPending, t0)
	bDead := finishedJob(t, s, store.JobRequest, "b", store.JobDead, t0)
	cbDead := finishedJob(t, s, store.JobCallback, "", store.JobDead, t0)
	now := t0.Add(2 * time.Hour)
	n, err := s.ReplayJobsMatching(ctx, store.JobFilter{Upstream: "a", Until: t0.Add(time.Minute)}, now)
	if err != nil || n != 1 {
		t.Fatalf("ReplayJobsMatching(a, until) = %d, %v; want 1", n, err)
	}
	wantJobStatus(t, s, aDead, store.JobPending)
	wantJobStatus(t, s, aFailed, store.JobFailed)
	n, err = s.ReplayJobsMatching(ctx, store.JobFilter{Kind: store.JobCallback, Status: store.JobDead}, now)
	if err != nil || n != 1 {
		t.Fatalf("ReplayJobsMatching(callback, dead) = %d, %v; want 1", n, err)
	}
	wantJobStatus(t, s, cbDead, store.JobPending)
	wantJobStatus(t, s, bDead, store.JobDead)
	n, err = s.ReplayJobsMatching(ctx, store.JobFilter{}, now)
	if err != nil || n != 2 {
		t.Fatalf("ReplayJobsMatching(all) = %d, %v; want 2", n, err)
	}
	if j := wantJobStatus(t, s, aPend, store.JobPending); !j.NextAt.Equal(farFuture) {
		t.Errorf("pending job NextAt moved to %v", j.NextAt)
	}
	if _, err := s.ReplayJobsMatching(ctx, store.JobFilter{Kind: "bogus"}, now); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("ReplayJobsMatching(bad kind) err = %v, want ErrInvalid", err)
	}
}

func testJobListPagination(t *testing.T, s store.Store) {
	ctx := context.Background()
	type jb struct {
		id, upstream, status string
		at                   time.Time
	}
	var all []jb
	for i := range 17 {
		up := []string{"a", "b"}[i%2]
		status := store.JobPending
		if i%3 == 0 {
			status = store.JobFailed
		}
		at := t0.Add(time.Duration(i) * time.Minute)
		all = append(all, jb{finishedJob(t, s, store.JobRequest, up, status, at), up, status, at})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].id > all[j].id })
	for _, f := range []store.JobFilter{
		{},
		{Upstream: "a"},
		{Status: store.JobFailed, Kind: store.JobRequest},
		{Since: t0.Add(5 * time.Minute), Until: t0.Add(12 * time.Minute)},
		{Kind: store.JobCallback},
	} {
		var want []string
		for _, e := range all {
			if (f.Upstream == "" || e.upstream == f.Upstream) && (f.Status == "" || e.status == f.Status) &&
				f.Kind != store.JobCallback &&
				(f.Since.IsZero() || !e.at.Before(f.Since)) && (f.Until.IsZero() || e.at.Before(f.Until)) {
				want = append(want, e.id)
			}
		}
		for _, limit := range []int{1, 4, 100} {
			f := f
			f.Limit = limit
			got := pageAll(t, "ListJobs", "jobs", limit, func() any { return f },
				func(after string) ([]store.Job, string, error) {
					f.After = after
					return s.ListJobs(ctx, f)
				}, jobID, func(j store.Job) []byte { return j.Body })
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("filter %+v limit %d:\n got %v\nwant %v", f, limit, got, want)
			}
		}
	}
}

func testJobPurge(t *testing.T, s store.Store) {
	ctx := context.Background()
	cut := t0.Add(24 * time.Hour)
	old := []string{
		finishedJob(t, s, store.JobRequest, "a", store.JobSucceeded, t0),
		finishedJob(t, s, store.JobRequest, "a", store.JobFailed, t0.Add(time.Hour)),
		finishedJob(t, s, store.JobCallback, "", store.JobDead, cut.Add(-time.Microsecond)),
	}
	keep := []string{
		finishedJob(t, s, store.JobRequest, "a", store.JobPending, t0),
		finishedJob(t, s, store.JobRequest, "a", store.JobSucceeded, cut),
	}
	// Idempotency: one record expired before the cut, one after.
	for _, k := range []struct {
		key     string
		expires time.Time
	}{{"old", cut.Add(-time.Second)}, {"new", cut.Add(time.Second)}} {
		begin(t, s, k.key, "fp", t0)
		if err := s.CompleteIdempotent(ctx, "up", k.key, nil, "", k.expires); err != nil {
			t.Fatal(err)
		}
	}
	evOld := finished(t, s, "src", store.StatusDead, t0)

	n, err := s.Purge(ctx, cut)
	if want := len(old) + 1 + 1; err != nil || n != want {
		t.Fatalf("Purge = %d, %v; want %d (jobs, idempotency record, event)", n, err, want)
	}
	for _, id := range old {
		if _, _, err := s.GetJob(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("purged job %s: err %v, want ErrNotFound", id, err)
		}
	}
	for _, id := range keep {
		if _, as := getJob(t, s, id); len(as) != 1 {
			t.Errorf("kept job %s lost its attempts: %v", id, as)
		}
	}
	if _, _, err := s.GetEvent(ctx, evOld); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("purged event: %v", err)
	}
	if n, err := s.Purge(ctx, cut); err != nil || n != 0 {
		t.Fatalf("second Purge = %d, %v; want 0", n, err)
	}
	// The purged key is gone: Begin at t0 acquires it; the kept one is done.
	if _, ok := begin(t, s, "old", "fp", t0); !ok {
		t.Error("purged idempotency record still held")
	}
	if rec, ok := begin(t, s, "new", "fp", t0); ok || rec.State != store.IdemDone {
		t.Errorf("kept idempotency record = %+v, %v", rec, ok)
	}
}
