package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fender-dev/fender/internal/admin"
	"github.com/fender-dev/fender/internal/store"
	"github.com/fender-dev/fender/internal/store/sqlite"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// clock is when the tests "run": after every seeded event is due.
var clock = t0.Add(24 * time.Hour)

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "fender.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func serveAPI(t *testing.T, st store.Store, token string) *httptest.Server {
	t.Helper()
	srv := admin.New(admin.Options{Token: token})
	admin.RegisterEvents(srv, st, func() time.Time { return clock })
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts
}

func ingest(t *testing.T, st store.Store, e store.NewEvent) string {
	t.Helper()
	if e.EventID == "" {
		e.EventID = store.NewID()
	}
	res, err := st.Ingest(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	return res.ID
}

// attempt records one delivery attempt of id through Claim and Finish,
// moving the event to status.
func attempt(t *testing.T, st store.Store, id string, a store.Attempt, status string) {
	t.Helper()
	ctx := context.Background()
	const owner = "test-worker"
	es, err := st.Claim(ctx, nil, owner, store.MaxLimit, time.Minute, clock)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Release(ctx, owner)
	for _, e := range es {
		if e.ID == id {
			if err := st.Finish(ctx, id, owner, a, store.Outcome{Status: status, NextAt: clock, Error: a.Error}, clock); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("event %s was not claimable", id)
}

func kill(t *testing.T, st store.Store, id string) {
	t.Helper()
	attempt(t, st, id, store.Attempt{StartedAt: clock, Duration: time.Millisecond, Status: 400, Category: "client_error", Error: "HTTP 400"}, store.StatusDead)
}

func do(t *testing.T, method, url, token, body string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func getJSON(t *testing.T, url string, want int, v any) {
	t.Helper()
	resp, b := do(t, http.MethodGet, url, "", "")
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %d %s, want %d", url, resp.StatusCode, b, want)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, b)
	}
}

type problem struct {
	Type, Title, Detail string
	Status              int
}

func wantProblem(t *testing.T, resp *http.Response, b []byte, status int, detailHas string) problem {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d (%s), want %d", resp.StatusCode, b, status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	var p problem
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if p.Status != status || p.Title == "" || !strings.Contains(p.Detail, detailHas) {
		t.Fatalf("problem %+v, want status %d and detail containing %q", p, status, detailHas)
	}
	return p
}

// seed stores n events of each source, one a minute from t0, alternating
// sources, and returns their ids in arrival order.
func seed(t *testing.T, st store.Store, n int, sources ...string) []string {
	t.Helper()
	var ids []string
	for i := range n {
		for j, src := range sources {
			ids = append(ids, ingest(t, st, store.NewEvent{
				Source: src, EventID: fmt.Sprintf("evt_%s_%d", src, i), ContentType: "application/json",
				Body: []byte(`{"n":1}`), ReceivedAt: t0.Add(time.Duration(i*len(sources)+j) * time.Minute),
			}))
		}
	}
	return ids
}

func TestListPaging(t *testing.T) {
	st := openStore(t)
	ts := serveAPI(t, st, "")
	ids := seed(t, st, 12, "stripe", "github") // 24 events

	seen := map[string]bool{}
	var order []string
	after, pages := "", 0
	for {
		var page admin.EventListJSON
		getJSON(t, ts.URL+"/api/events?limit=5&after="+url.QueryEscape(after), http.StatusOK, &page)
		pages++
		if len(page.Events) > 5 {
			t.Fatalf("page of %d events, limit 5", len(page.Events))
		}
		for _, e := range page.Events {
			if seen[e.ID] {
				t.Fatalf("event %s listed twice", e.ID)
			}
			seen[e.ID] = true
			order = append(order, e.ID)
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	if pages != 5 || len(order) != len(ids) {
		t.Fatalf("%d events in %d pages, want %d in 5", len(order), pages, len(ids))
	}
	for i, id := range order { // newest first
		if want := ids[len(ids)-1-i]; id != want {
			t.Fatalf("event %d is %s, want %s", i, id, want)
		}
	}
}

func TestListFilters(t *testing.T) {
	st := openStore(t)
	ts := serveAPI(t, st, "")
	ids := seed(t, st, 5, "stripe", "github") // stripe at even minutes, github at odd
	kill(t, st, ids[0])                       // stripe, t0
	kill(t, st, ids[3])                       // github, t0+3m

	count := func(query string) []admin.EventJSON {
		t.Helper()
		var page admin.EventListJSON
		getJSON(t, ts.URL+"/api/events?"+query, http.StatusOK, &page)
		return page.Events
	}
	for _, tc := range []struct {
		query string
		want  int
	}{
		{"", 10},
		{"source=stripe", 5},
		{"source=nope", 0},
		{"status=dead", 2},
		{"source=github&status=dead", 1},
		{"status=pending", 8},
		{"since=" + url.QueryEscape(t0.Add(4*time.Minute).Format(time.RFC3339)), 6},
		{"until=" + url.QueryEscape(t0.Add(4*time.Minute).Format(time.RFC3339)), 4},
		{"since=2030-01-02T03:05:05Z&until=2030-01-02T03:07:05Z&source=github", 1}, // [t0+1m, t0+3m): github at t0+1m only
		{"source=&status=&after=&limit=", 10},
	} {
		if got := count(tc.query); len(got) != tc.want {
			t.Errorf("?%s: %d events, want %d", tc.query, len(got), tc.want)
		}
	}

	dead := count("status=dead&source=github")[0]
	if dead.ID != ids[3] || dead.Source != "github" || dead.EventID != "evt_github_1" || dead.Status != "dead" ||
		dead.Attempts != 1 || dead.LastError != "HTTP 400" || !dead.ReceivedAt.Equal(t0.Add(3*time.Minute)) ||
		dead.ContentType != "application/json" {
		t.Fatalf("dead event %+v", dead)
	}
	// The list carries no bodies.
	_, b := do(t, http.MethodGet, ts.URL+"/api/events?limit=1", "", "")
	if bytes.Contains(b, []byte(`"body"`)) {
		t.Fatalf("list has a body: %s", b)
	}
}

func TestListBadParams(t *testing.T) {
	ts := serveAPI(t, openStore(t), "")
	for _, tc := range []struct{ query, param string }{
		{"status=lost", "status"},
		{"since=yesterday", "since"},
		{"until=2030-01-02", "until"},
		{"since=2030-01-02T00:00:00Z&until=2030-01-01T00:00:00Z", "until"},
		{"limit=0", "limit"},
		{"limit=ten", "limit"},
		{"limit=100000", "limit"},
		{"stauts=dead", "stauts"},
		{"source=a&source=b", "source"},
	} {
		resp, b := do(t, http.MethodGet, ts.URL+"/api/events?"+tc.query, "", "")
		wantProblem(t, resp, b, http.StatusBadRequest, tc.param+":")
	}
}

func TestShowAttempts(t *testing.T) {
	st := openStore(t)
	ts := serveAPI(t, st, "")
	id := ingest(t, st, store.NewEvent{
		Source: "stripe", EventID: "evt_1", ResourceKey: "ch_1", ContentType: "application/json; charset=utf-8",
		Headers: map[string]string{"User-Agent": "Stripe/1.0"}, Body: []byte(`{"id":"evt_1","amount":42}`), ReceivedAt: t0,
	})
	attempt(t, st, id, store.Attempt{StartedAt: clock, Duration: 1500 * time.Microsecond, Status: 503,
		Category: "server_error", Error: "HTTP 503", ResponseExcerpt: "try later"}, store.StatusPending)
	attempt(t, st, id, store.Attempt{StartedAt: clock.Add(time.Second), Duration: 30 * time.Second,
		Category: "timeout", Error: "context deadline exceeded"}, store.StatusDead)

	var e admin.EventDetailJSON
	getJSON(t, ts.URL+"/api/events/"+id, http.StatusOK, &e)
	if e.ID != id || e.Status != "dead" || e.ResourceKey != "ch_1" || e.Headers["User-Agent"] != "Stripe/1.0" ||
		e.LastError != "context deadline exceeded" || e.BodyBase64 != "" {
		t.Fatalf("event %+v", e)
	}
	var body map[string]any
	if err := json.Unmarshal(e.Body, &body); err != nil || body["amount"] != 42.0 {
		t.Fatalf("body %s is not the JSON object: %v", e.Body, err)
	}
	if len(e.Attempts) != 2 {
		t.Fatalf("attempts %+v", e.Attempts)
	}
	a1, a2 := e.Attempts[0], e.Attempts[1]
	if a1.N != 1 || a1.Status != 503 || a1.Category != "server_error" || a1.Error != "HTTP 503" ||
		a1.ResponseExcerpt != "try later" || a1.DurationMS != 1.5 || !a1.StartedAt.Equal(clock) {
		t.Fatalf("attempt 1 %+v", a1)
	}
	if a2.N != 2 || a2.Status != 0 || a2.Category != "timeout" || a2.DurationMS != 30000 {
		t.Fatalf("attempt 2 %+v", a2)
	}
}

func TestShowBodies(t *testing.T) {
	st := openStore(t)
	ts := serveAPI(t, st, "")
	for _, tc := range []struct {
		contentType string
		body        []byte
		wantBody    string // the JSON of the body field
		wantBase64  string
	}{
		{"application/json", []byte(`{"a": [1, 2]}`), `{"a":[1,2]}`, ""},
		{"application/vnd.api+json", []byte(`[true]`), `[true]`, ""},
		{"application/json", []byte(`{"a":`), `"{\"a\":"`, ""},
		{"application/x-www-form-urlencoded", []byte(`a=1&b=2`), `"a=1\u0026b=2"`, ""},
		{"application/octet-stream", []byte{'o', 'k', 0xff}, "\"ok\uFFFD\"", "b2v/"},
		{"", nil, `""`, ""},
	} {
		id := ingest(t, st, store.NewEvent{Source: "s", ContentType: tc.contentType, Body: tc.body, ReceivedAt: t0})
		var e struct {
			Body       json.RawMessage `json:"body"`
			BodyBase64 *string         `json:"body_base64"`
		}
		getJSON(t, ts.URL+"/api/events/"+id, http.StatusOK, &e)
		if string(e.Body) != tc.wantBody {
			t.Errorf("%s %q: body %s, want %s", tc.contentType, tc.body, e.Body, tc.wantBody)
		}
		if got := ""; e.BodyBase64 != nil {
			got = *e.BodyBase64
			if got != tc.wantBase64 {
				t.Errorf("%s %q: body_base64 %q, want %q", tc.contentType, tc.body, got, tc.wantBase64)
			}
		} else if tc.wantBase64 != "" {
			t.Errorf("%s %q: no body_base64", tc.contentType, tc.body)
		}
	}
}

func TestShowUnknown(t *testing.T) {
	ts := serveAPI(t, openStore(t), "")
	resp, b := do(t, http.MethodGet, ts.URL+"/api/events/"+store.NewID(), "", "")
	wantProblem(t, resp, b, http.StatusNotFound, "no event")
}

func TestReplayOne(t *testing.T) {
	st := openStore(t)
	ts := serveAPI(t, st, "")
	ids := seed(t, st, 2, "stripe")
	kill(t, st, ids[0])

	resp, b := do(t, http.MethodPost, ts.URL+"/api/events/"+ids[0]+"/replay", "", "")
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("replay: %d %s", resp.StatusCode, b)
	}
	var out struct{ ID, Status string }
	if err := json.Unmarshal(b, &out); err != nil || out.ID != ids[0] || out.Status != "pending" {
		t.Fatalf("replay answer %s (%v)", b, err)
	}
	e, as, err := st.GetEvent(context.Background(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != store.StatusPending || !e.NextAt.Equal(clock) || len(as) != 1 {
		t.Fatalf("after replay: status %s, next_at %s, %d attempts", e.Status, e.NextAt, len(as))
	}

	resp, b = do(t, http.MethodPost, ts.URL+"/api/events/"+store.NewID()+"/replay", "", "")
	wantProblem(t, resp, b, http.StatusNotFound, "no event")
}

func TestReplayMatching(t *testing.T) {
	st := openStore(t)
	ts := serveAPI(t, st, "")
	ids := seed(t, st, 3, "stripe", "github")
	for _, id := range ids[:4] { // stripe 0, github 0, stripe 1, github 1
		kill(t, st, id)
	}
	status := func(id string) string {
		e, _, err := st.GetEvent(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return e.Status
	}
	replay := func(body string) int {
		t.Helper()
		resp, b := do(t, http.MethodPost, ts.URL+"/api/events/replay", "", body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("replay %s: %d %s", body, resp.StatusCode, b)
		}
		var out struct{ Replayed *int }
		if err := json.Unmarshal(b, &out); err != nil || out.Replayed == nil {
			t.Fatalf("replay answer %s (%v)", b, err)
		}
		return *out.Replayed
	}

	if n := replay(`{"source":"stripe","status":"dead"}`); n != 2 {
		t.Fatalf("replayed %d stripe events, want 2", n)
	}
	if status(ids[0]) != "pending" || status(ids[2]) != "pending" || status(ids[1]) != "dead" || status(ids[3]) != "dead" {
		t.Fatal("the stripe filter replayed the wrong events")
	}
	// github 1 was received at t0+3m.
	if n := replay(`{"status":"dead","since":"2030-01-02T03:06:05Z","until":"2030-01-02T03:08:05Z"}`); n != 1 {
		t.Fatalf("replayed %d events by time, want 1", n)
	}
	if status(ids[3]) != "pending" || status(ids[1]) != "dead" {
		t.Fatal("the time filter replayed the wrong events")
	}
	if n := replay(`{"all":true}`); n != 1 {
		t.Fatalf("all replayed %d events, want 1", n)
	}
	if status(ids[1]) != "pending" {
		t.Fatal("all did not replay the last dead event")
	}
}

func TestReplayMatchingRefused(t *testing.T) {
	st := openStore(t)
	ts := serveAPI(t, st, "")
	ids := seed(t, st, 1, "stripe")
	kill(t, st, ids[0])
	for _, tc := range []struct{ body, detail string }{
		{"", "empty body"},
		{"{}", "no filter"},
		{`{"all":false}`, "no filter"},
		{`{"source":""}`, "no filter"},
		{`{"sauce":"stripe"}`, "unknown field"},
		{`{"status":"lost"}`, "status:"},
		{`{"since":"today"}`, "since:"},
		{`{"source":"stripe"} {"all":true}`, "more than one"},
		{`[1]`, "body:"},
		{`{"source":` + strings.Repeat(" ", 70<<10) + `"x"}`, "too large"},
	} {
		resp, b := do(t, http.MethodPost, ts.URL+"/api/events/replay", "", tc.body)
		wantProblem(t, resp, b, http.StatusBadRequest, tc.detail)
	}
	if e, _, _ := st.GetEvent(context.Background(), ids[0]); e.Status != store.StatusDead {
		t.Fatalf("a refused replay changed the event to %s", e.Status)
	}
}

func TestEventsToken(t *testing.T) {
	st := openStore(t)
	ts := serveAPI(t, st, "s3cret")
	ids := seed(t, st, 1, "stripe")
	testToken(t, ts.URL, "events", ids[0])
}

func TestStoreDown(t *testing.T) {
	st := openStore(t)
	ts := serveAPI(t, st, "")
	ids := seed(t, st, 1, "stripe")
	st.Close()
	testStoreDown(t, ts.URL, "events", ids[0])
}
