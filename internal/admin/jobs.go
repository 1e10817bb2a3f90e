package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/textproto"
	"net/url"
	"time"

	"github.com/fender-dev/fender/internal/store"
)

// RegisterJobs adds the async job endpoints of PRODUCT.md §7 to s:
//
//	GET  /api/jobs             list (filters and cursor in the query)
//	GET  /api/jobs/{id}        one job with its request, response and attempts
//	POST /api/jobs/{id}/replay replay one job
//	POST /api/jobs/replay      replay every job matching a filter body
//
// They follow the conventions of the event endpoints. now is the clock used
// for replays; nil means time.Now.
func RegisterJobs(s *Server, st store.JobStore, now func() time.Time) {
	register(s, &resource[store.JobFilter, JobReplayFilterJSON]{
		name:   "job",
		plural: "jobs",
		fields: []string{"kind", "upstream", "status"},
		check:  func(get func(string) string) error { return checkJobKindStatus(get("kind"), get("status")) },
		filter: func(p filterParams) store.JobFilter {
			return store.JobFilter{Kind: p.get("kind"), Upstream: p.get("upstream"), Status: p.get("status"),
				Since: p.since, Until: p.until, After: p.after, Limit: p.limit}
		},
		bodyValues: func(in JobReplayFilterJSON) (url.Values, bool) {
			return url.Values{"kind": {in.Kind}, "upstream": {in.Upstream}, "status": {in.Status},
				"since": {in.Since}, "until": {in.Until}}, in.All
		},
		list: func(ctx context.Context, f store.JobFilter) (any, error) {
			jobs, next, err := st.ListJobs(ctx, f)
			if err != nil {
				return nil, err
			}
			out := JobListJSON{Jobs: make([]JobJSON, 0, len(jobs)), Next: next}
			for _, j := range jobs {
				out.Jobs = append(out.Jobs, jobJSON(j))
			}
			return out, nil
		},
		get:            func(ctx context.Context, id string) (any, error) { return jobDetail(ctx, st, id) },
		replay:         st.ReplayJob,
		replayMatching: st.ReplayJobsMatching,
		pending:        store.JobPending,
	}, now)
}

// JobJSON is a job as the API lists it (without bodies).
type JobJSON struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"` // request or callback
	Upstream string `json:"upstream"`
	Method   string `json:"method"`
	// Path is the upstream path with its query; for a callback, its URL.
	Path           string     `json:"path"`
	CallbackURL    string     `json:"callback_url"`
	ParentID       string     `json:"parent_id"` // a callback's request job
	IdempotencyKey string     `json:"idempotency_key"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	CreatedAt      time.Time  `json:"created_at"`
	NextAt         *time.Time `json:"next_at"` // pending jobs only
	FinishedAt     *time.Time `json:"finished_at"`
	LastError      string     `json:"last_error"`
	// ResponseStatus is the status of the stored response, 0 when none.
	ResponseStatus int `json:"response_status"`
}

// JobDetailJSON is one job as GET /api/jobs/{id} returns it. Its Attempts
// list shadows the count of JobJSON, as for events; the count is
// len(Attempts).
type JobDetailJSON struct {
	JobJSON
	// Headers are the request headers stored with the job (the caller's;
	// injected upstream headers are never stored). Credentials the caller
	// sent itself are masked.
	Headers map[string][]string `json:"headers"`
	// Body is the request body: the JSON value itself when the content
	// type is JSON and it parses, else a string (BodyBase64 holds the exact
	// bytes when they are not valid UTF-8).
	Body       json.RawMessage `json:"body"`
	BodyBase64 string          `json:"body_base64,omitempty"`
	// Response is the last stored response; null when none.
	Response *JobResponseJSON `json:"response"`
	Attempts []AttemptJSON    `json:"attempts"`
}

// JobResponseJSON is a stored upstream response.
type JobResponseJSON struct {
	Status     int                 `json:"status"`
	Headers    map[string][]string `json:"headers"`
	Body       json.RawMessage     `json:"body"`
	BodyBase64 string              `json:"body_base64,omitempty"`
}

// JobListJSON is the answer of GET /api/jobs.
type JobListJSON struct {
	Jobs []JobJSON `json:"jobs"`
	// Next is the cursor of the following page (pass it as after=), empty
	// on the last page.
	Next string `json:"next"`
}

// JobReplayFilterJSON is the body of POST /api/jobs/replay. At least one
// filter field must be set, or All, so that an empty body cannot replay
// every job by accident.
type JobReplayFilterJSON struct {
	Kind     string `json:"kind,omitempty"`
	Upstream string `json:"upstream,omitempty"`
	Status   string `json:"status,omitempty"`
	Since    string `json:"since,omitempty"` // RFC 3339
	Until    string `json:"until,omitempty"` // RFC 3339
	All      bool   `json:"all,omitempty"`
}

func jobJSON(j store.Job) JobJSON {
	out := JobJSON{
		ID:             j.ID,
		Kind:           j.Kind,
		Upstream:       j.Upstream,
		Method:         j.Method,
		Path:           j.Path,
		CallbackURL:    j.CallbackURL,
		ParentID:       j.ParentID,
		IdempotencyKey: j.IdempotencyKey,
		Status:         j.Status,
		Attempts:       j.Attempts,
		CreatedAt:      j.CreatedAt.UTC(),
		FinishedAt:     optTime(j.FinishedAt),
		LastError:      j.LastError,
	}
	if j.Status == store.JobPending {
		out.NextAt = optTime(&j.NextAt)
	}
	if j.Response != nil {
		out.ResponseStatus = j.Response.Status
	}
	return out
}

// maskedHeaders are request headers whose values the API never shows.
var maskedHeaders = map[string]bool{
	"Authorization": true, "Proxy-Authorization": true, "Cookie": true, "Set-Cookie": true,
	"X-Api-Key": true, "Api-Key": true,
}

// masked is the value shown instead of a credential.
const masked = "***"

func maskHeaders(h map[string][]string) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, vs := range h {
		if maskedHeaders[textproto.CanonicalMIMEHeaderKey(k)] {
			m := make([]string, len(vs))
			for i := range m {
				m[i] = masked
			}
			out[k] = m
			continue
		}
		out[k] = vs
	}
	return out
}

func headerValue(h map[string][]string, name string) string {
	for k, vs := range h {
		if textproto.CanonicalMIMEHeaderKey(k) == name && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}

func checkJobKindStatus(kind, status string) error {
	if kind != "" && !store.ValidJobKind(kind) {
		return &paramError{"kind", fmt.Sprintf("unknown kind %q (want %s or %s)", kind, store.JobRequest, store.JobCallback)}
	}
	if status != "" && !store.ValidJobStatus(status) {
		return &paramError{"status", fmt.Sprintf("unknown status %q (want %s, %s, %s or %s)", status,
			store.JobPending, store.JobSucceeded, store.JobFailed, store.JobDead)}
	}
	return nil
}

// jobDetail is GET /api/jobs/{id}.
func jobDetail(ctx context.Context, st store.JobStore, id string) (JobDetailJSON, error) {
	j, attempts, err := st.GetJob(ctx, id)
	if err != nil {
		return JobDetailJSON{}, err
	}
	out := JobDetailJSON{JobJSON: jobJSON(j), Headers: maskHeaders(j.Header), Attempts: make([]AttemptJSON, 0, len(attempts))}
	out.Body, out.BodyBase64 = bodyJSON(headerValue(j.Header, "Content-Type"), j.Body)
	if j.Response != nil {
		resp := &JobResponseJSON{Status: j.Response.Status, Headers: j.Response.Header}
		if resp.Headers == nil {
			resp.Headers = map[string][]string{}
		}
		resp.Body, resp.BodyBase64 = bodyJSON(headerValue(j.Response.Header, "Content-Type"), j.Response.Body)
		out.Response = resp
	}
	if out.Headers == nil {
		out.Headers = map[string][]string{}
	}
	for _, a := range attempts {
		out.Attempts = append(out.Attempts, AttemptJSON{
			N:               a.N,
			StartedAt:       a.StartedAt.UTC(),
			DurationMS:      float64(a.Duration.Microseconds()) / 1000,
			Status:          a.Status,
			Category:        a.Category,
			Error:           a.Error,
			ResponseExcerpt: a.ResponseExcerpt,
		})
	}
	return out, nil
}
