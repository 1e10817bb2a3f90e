package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
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
	if now == nil {
		now = time.Now
	}
	h := &jobsAPI{srv: s, st: st, now: now}
	s.HandleFunc("GET /api/jobs", h.list)
	s.HandleFunc("GET /api/jobs/{id}", h.show)
	s.HandleFunc("POST /api/jobs/{id}/replay", h.replay)
	s.HandleFunc("POST /api/jobs/replay", h.replayMatching)
}

type jobsAPI struct {
	srv *Server
	st  store.JobStore
	now func() time.Time
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

// jobListParam reports whether GET /api/jobs accepts the query parameter.
func jobListParam(name string) bool {
	switch name {
	case "kind", "upstream", "status", "since", "until", "after", "limit":
		return true
	}
	return false
}

func (h *jobsAPI) list(w http.ResponseWriter, r *http.Request) {
	f, err := jobListFilter(r)
	if err != nil {
		WriteError(w, http.StatusBadRequest, "Bad parameter", err.Error())
		return
	}
	jobs, next, err := h.st.ListJobs(r.Context(), f)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	out := JobListJSON{Jobs: make([]JobJSON, 0, len(jobs)), Next: next}
	for _, j := range jobs {
		out.Jobs = append(out.Jobs, jobJSON(j))
	}
	WriteJSON(w, http.StatusOK, out)
}

func jobListFilter(r *http.Request) (store.JobFilter, error) {
	q := r.URL.Query()
	for name, vs := range q {
		if !jobListParam(name) {
			return store.JobFilter{}, &paramError{name, "unknown parameter (want kind, upstream, status, since, until, after, limit)"}
		}
		if len(vs) > 1 {
			return store.JobFilter{}, &paramError{name, "given more than once"}
		}
	}
	f := store.JobFilter{Kind: q.Get("kind"), Upstream: q.Get("upstream"), Status: q.Get("status"), After: q.Get("after")}
	if err := checkJobKindStatus(f.Kind, f.Status); err != nil {
		return f, err
	}
	var err error
	if f.Since, f.Until, err = timeRange(q.Get("since"), q.Get("until")); err != nil {
		return f, err
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxLimit {
			return f, &paramError{"limit", fmt.Sprintf("%q is not a whole number from 1 to %d", s, store.MaxLimit)}
		}
		f.Limit = n
	}
	return f, nil
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

func (h *jobsAPI) show(w http.ResponseWriter, r *http.Request) {
	j, attempts, err := h.st.GetJob(r.Context(), r.PathValue("id"))
	if err != nil {
		h.storeError(w, r, err)
		return
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
	WriteJSON(w, http.StatusOK, out)
}

func (h *jobsAPI) replay(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := h.st.ReplayJob(r.Context(), id, h.now()); err != nil {
		h.storeError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusAccepted, map[string]string{"id": id, "status": store.JobPending})
}

func (h *jobsAPI) replayMatching(w http.ResponseWriter, r *http.Request) {
	f, err := jobReplayFilter(http.MaxBytesReader(w, r.Body, maxFilterBody))
	if err != nil {
		WriteError(w, http.StatusBadRequest, "Bad replay filter", err.Error())
		return
	}
	n, err := h.st.ReplayJobsMatching(r.Context(), f, h.now())
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]int{"replayed": n})
}

func jobReplayFilter(body io.Reader) (store.JobFilter, error) {
	var in JobReplayFilterJSON
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		if errors.Is(err, io.EOF) {
			return store.JobFilter{}, errors.New(`empty body: give at least one of kind, upstream, status, since, until, or "all": true`)
		}
		return store.JobFilter{}, fmt.Errorf("body: %w", err)
	}
	if dec.More() {
		return store.JobFilter{}, errors.New("body: more than one JSON value")
	}
	if in.Kind == "" && in.Upstream == "" && in.Status == "" && in.Since == "" && in.Until == "" && !in.All {
		return store.JobFilter{}, errors.New(`no filter: give at least one of kind, upstream, status, since, until, or "all": true to replay every job`)
	}
	f := store.JobFilter{Kind: in.Kind, Upstream: in.Upstream, Status: in.Status}
	if err := checkJobKindStatus(f.Kind, f.Status); err != nil {
		return f, err
	}
	var err error
	f.Since, f.Until, err = timeRange(in.Since, in.Until)
	return f, err
}

// storeError maps a store error to a problem: unknown id 404, invalid
// request 400, anything else 503 (the store is down or failing).
func (h *jobsAPI) storeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		WriteError(w, http.StatusNotFound, "Job not found", fmt.Sprintf("no job with id %q", r.PathValue("id")))
	case errors.Is(err, store.ErrInvalid):
		WriteError(w, http.StatusBadRequest, "Invalid request", err.Error())
	default:
		if log := h.srv.opts.Logger; log != nil {
			log.Error("admin: store", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		WriteError(w, http.StatusServiceUnavailable, "Store unavailable", err.Error())
	}
}
