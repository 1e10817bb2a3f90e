package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fender-dev/fender/internal/admin"
	"github.com/fender-dev/fender/internal/store"
)

func serveJobsAPI(t *testing.T, st store.Store, token string) *httptest.Server {
	t.Helper()
	srv := admin.New(admin.Options{Token: token})
	admin.RegisterJobs(srv, st, func() time.Time { return clock })
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts
}

// enqueueJob stores a request job to upstream created i minutes after t0.
func enqueueJob(t *testing.T, st store.Store, upstream string, i int) string {
	t.Helper()
	id, err := st.EnqueueJob(context.Background(), store.NewJob{
		Kind: store.JobRequest, Upstream: upstream, Method: http.MethodPost, Path: "v1/charges?expand=customer",
		Header: map[string][]string{
			"Content-Type":    {"application/json"},
			"Authorization":   {"Bearer caller-own-secret"},
			"Idempotency-Key": {"order-42"},
		},
		Body:        []byte(`{"amount":42}`),
		CallbackURL: "http://127.0.0.1:3000/done", IdempotencyKey: "order-42",
		CreatedAt: t0.Add(time.Duration(i) * time.Minute),
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// finishJob records one attempt of id moving it to out.
func finishJob(t *testing.T, st store.Store, id string, a store.JobAttempt, out store.JobOutcome) {
	t.Helper()
	ctx := context.Background()
	const owner = "test-worker"
	jobs, err := st.ClaimJobs(ctx, nil, nil, owner, store.MaxLimit, time.Minute, clock)
	if err != nil {
		t.Fatal(err)
	}
	defer st.ReleaseJobs(ctx, owner)
	for _, j := range jobs {
		if j.ID == id {
			if err := st.FinishJob(ctx, id, owner, a, out, clock); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("job %s was not claimable", id)
}

// failJob ends id failed with a 400 response and a callback job.
func failJob(t *testing.T, st store.Store, id string) {
	t.Helper()
	resp := &store.StoredResponse{Status: 400, Header: map[string][]string{"Content-Type": {"application/json"}}, Body: []byte(`{"error":"too small"}`)}
	finishJob(t, st, id,
		store.JobAttempt{StartedAt: clock, Duration: 1500 * time.Microsecond, Status: 400, Category: "client_error", Error: "HTTP 400", ResponseExcerpt: `{"error":"too small"}`},
		store.JobOutcome{Status: store.JobFailed, Error: "HTTP 400", Response: resp,
			Callback: &store.NewJob{Kind: store.JobCallback, Upstream: "stripe", Method: "POST", Path: "http://127.0.0.1:3000/done",
				Body: []byte(`{}`), Header: map[string][]string{"Content-Type": {"application/json"}}}})
}

func killJob(t *testing.T, st store.Store, id string) {
	t.Helper()
	finishJob(t, st, id, store.JobAttempt{StartedAt: clock, Duration: time.Millisecond, Category: "connect", Error: "connection refused"},
		store.JobOutcome{Status: store.JobDead, Error: "connection refused"})
}

func TestJobsList(t *testing.T) {
	st := openStore(t)
	ts := serveJobsAPI(t, st, "")
	a, b, c := enqueueJob(t, st, "stripe", 0), enqueueJob(t, st, "twilio", 1), enqueueJob(t, st, "stripe", 2)
	failJob(t, st, a)
	killJob(t, st, b)

	var all admin.JobListJSON
	getJSON(t, ts.URL+"/api/jobs", http.StatusOK, &all)
	if len(all.Jobs) != 4 || all.Next != "" {
		t.Fatalf("list %+v, want 3 requests and 1 callback", all)
	}
	byID := map[string]admin.JobJSON{}
	for _, j := range all.Jobs {
		byID[j.ID] = j
	}
	if j := byID[a]; j.Status != store.JobFailed || j.ResponseStatus != 400 || j.Attempts != 1 || j.FinishedAt == nil ||
		j.NextAt != nil || j.Kind != store.JobRequest || j.Path != "v1/charges?expand=customer" || j.IdempotencyKey != "order-42" {
		t.Errorf("failed job %+v", j)
	}
	if j := byID[c]; j.Status != store.JobPending || j.NextAt == nil || j.ResponseStatus != 0 || j.CallbackURL == "" {
		t.Errorf("pending job %+v", j)
	}

	// Paging: newest first, 2 a page.
	var seen []string
	after := ""
	for range 3 {
		var page admin.JobListJSON
		getJSON(t, ts.URL+"/api/jobs?limit=2&after="+url.QueryEscape(after), http.StatusOK, &page)
		for _, j := range page.Jobs {
			seen = append(seen, j.ID)
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	if len(seen) != 4 {
		t.Fatalf("paged through %d jobs, want 4", len(seen))
	}

	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"upstream=stripe&kind=request", []string{c, a}},
		{"status=dead", []string{b}},
		{"kind=callback", nil}, // checked below: one, parent a
		{"upstream=twilio&status=pending", []string{}},
		{"since=" + url.QueryEscape(t0.Add(time.Minute).Format(time.RFC3339)) + "&until=" + url.QueryEscape(t0.Add(2*time.Minute).Format(time.RFC3339)), []string{b}},
	} {
		var page admin.JobListJSON
		getJSON(t, ts.URL+"/api/jobs?"+tc.query, http.StatusOK, &page)
		if tc.want == nil {
			if len(page.Jobs) != 1 || page.Jobs[0].Kind != store.JobCallback || page.Jobs[0].ParentID != a {
				t.Errorf("%s: %+v", tc.query, page.Jobs)
			}
			continue
		}
		var got []string
		for _, j := range page.Jobs {
			got = append(got, j.ID)
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: got %v, want %v", tc.query, got, tc.want)
		}
	}
}

func TestJobsListBadParams(t *testing.T) {
	st := openStore(t)
	ts := serveJobsAPI(t, st, "")
	for q, detail := range map[string]string{
		"kind=webhook":         "unknown kind",
		"status=delivered":     "unknown status",
		"limit=0":              "limit",
		"limit=abc":            "limit",
		"source=stripe":        "unknown parameter",
		"since=yesterday":      "RFC 3339",
		"status=dead&status=x": "more than once",
		"since=2030-01-02T00:00:00Z&until=2030-01-01T00:00:00Z": "after since",
	} {
		resp, b := do(t, http.MethodGet, ts.URL+"/api/jobs?"+q, "", "")
		wantProblem(t, resp, b, http.StatusBadRequest, detail)
	}
}

func TestJobsShow(t *testing.T) {
	st := openStore(t)
	ts := serveJobsAPI(t, st, "")
	id := enqueueJob(t, st, "stripe", 0)
	failJob(t, st, id)

	resp, b := do(t, http.MethodGet, ts.URL+"/api/jobs/"+id, "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	var j admin.JobDetailJSON
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatal(err)
	}
	if j.ID != id || j.Status != store.JobFailed || string(j.Body) != `{"amount":42}` || j.BodyBase64 != "" {
		t.Errorf("job %+v body %s", j.JobJSON, j.Body)
	}
	if got := j.Headers["Authorization"]; len(got) != 1 || got[0] != "***" {
		t.Errorf("Authorization shown as %v, want masked", got)
	}
	if strings.Contains(string(b), "caller-own-secret") {
		t.Error("the caller's credential is in the answer")
	}
	if got := j.Headers["Idempotency-Key"]; len(got) != 1 || got[0] != "order-42" {
		t.Errorf("headers %v", j.Headers)
	}
	if j.Response == nil || j.Response.Status != 400 || string(j.Response.Body) != `{"error":"too small"}` {
		t.Errorf("response %+v", j.Response)
	}
	if len(j.Attempts) != 1 {
		t.Fatalf("attempts %+v", j.Attempts)
	}
	if a := j.Attempts[0]; a.N != 1 || a.Status != 400 || a.Category != "client_error" || a.DurationMS != 1.5 || a.ResponseExcerpt == "" {
		t.Errorf("attempt %+v", a)
	}

	// A pending job: no response, no attempts, next_at set.
	p := enqueueJob(t, st, "stripe", 1)
	var pj admin.JobDetailJSON
	getJSON(t, ts.URL+"/api/jobs/"+p, http.StatusOK, &pj)
	if pj.Response != nil || len(pj.Attempts) != 0 || pj.NextAt == nil || pj.Attempts == nil {
		t.Errorf("pending job %+v", pj)
	}

	resp, b = do(t, http.MethodGet, ts.URL+"/api/jobs/nope", "", "")
	wantProblem(t, resp, b, http.StatusNotFound, `"nope"`)
}

func TestJobsReplay(t *testing.T) {
	st := openStore(t)
	ts := serveJobsAPI(t, st, "")
	a, b, c := enqueueJob(t, st, "stripe", 0), enqueueJob(t, st, "twilio", 1), enqueueJob(t, st, "stripe", 2)
	killJob(t, st, a)
	killJob(t, st, b)

	resp, body := do(t, http.MethodPost, ts.URL+"/api/jobs/"+a+"/replay", "", "")
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("replay: %d %s", resp.StatusCode, body)
	}
	j, attempts, _ := st.GetJob(context.Background(), a)
	if j.Status != store.JobPending || !j.NextAt.Equal(clock) || len(attempts) != 1 {
		t.Errorf("replayed job %+v (%d attempts), want pending at the clock with its attempt kept", j, len(attempts))
	}
	resp, body = do(t, http.MethodPost, ts.URL+"/api/jobs/nope/replay", "", "")
	wantProblem(t, resp, body, http.StatusNotFound, "nope")

	// Bulk: refused without a filter, bad values refused.
	for in, detail := range map[string]string{
		"":                       "empty body",
		"{}":                     "no filter",
		`{"status":"delivered"}`: "unknown status",
		`{"kind":"webhook"}`:     "unknown kind",
		`{"source":"stripe"}`:    "unknown field",
		`{"all":true} {}`:        "more than one",
		`{"since":"yesterday"}`:  "RFC 3339",
	} {
		resp, body := do(t, http.MethodPost, ts.URL+"/api/jobs/replay", "", in)
		wantProblem(t, resp, body, http.StatusBadRequest, detail)
	}
	var out struct{ Replayed int }
	resp, body = do(t, http.MethodPost, ts.URL+"/api/jobs/replay", "", `{"status":"dead","upstream":"twilio"}`)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &out) != nil || out.Replayed != 1 {
		t.Fatalf("bulk replay: %d %s", resp.StatusCode, body)
	}
	if j, _, _ := st.GetJob(context.Background(), b); j.Status != store.JobPending {
		t.Errorf("job %s after bulk replay", j.Status)
	}
	// Pending jobs are not counted; "all" is accepted.
	resp, body = do(t, http.MethodPost, ts.URL+"/api/jobs/replay", "", `{"all":true}`)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &out) != nil || out.Replayed != 0 {
		t.Fatalf("replay all: %d %s", resp.StatusCode, body)
	}
	if j, _, _ := st.GetJob(context.Background(), c); j.Status != store.JobPending {
		t.Errorf("untouched job %s", j.Status)
	}
}

func TestJobsToken(t *testing.T) {
	st := openStore(t)
	ts := serveJobsAPI(t, st, "s3cret")
	id := enqueueJob(t, st, "stripe", 0)
	testToken(t, ts.URL, "jobs", id)
}

func TestJobsStoreDown(t *testing.T) {
	st := openStore(t)
	ts := serveJobsAPI(t, st, "")
	id := enqueueJob(t, st, "stripe", 0)
	st.Close()
	testStoreDown(t, ts.URL, "jobs", id)
}
