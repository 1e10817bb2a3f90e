package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fender-dev/fender/internal/store"
	"github.com/fender-dev/fender/resilience"
)

// Async request headers and paths.
const (
	HeaderCallback = "Fender-Callback"
	// jobsPrefix is the first path segment of job status URLs on the proxy
	// listener: /_fender/jobs/{id}. Upstream names cannot start with "_".
	jobsPrefix = "_fender"
)

// JobStore is what the proxy needs of the job queue.
type JobStore interface {
	EnqueueJob(ctx context.Context, j store.NewJob) (string, error)
	GetJob(ctx context.Context, id string) (store.Job, []store.JobAttempt, error)
}

// wantsAsync reports whether Prefer asks for respond-async (RFC 7240).
func wantsAsync(h http.Header) bool {
	for _, v := range h["Prefer"] {
		for pref := range strings.SplitSeq(v, ",") {
			name, _, _ := strings.Cut(strings.TrimSpace(pref), ";")
			if strings.EqualFold(strings.TrimSpace(name), "respond-async") {
				return true
			}
		}
	}
	return false
}

// async stores the request as a job and answers 202 with its Location.
// With an idempotency key, a repeat gets the same job.
func (x *exchange) async() {
	p, u := x.p, x.u
	if p.opts.Jobs == nil {
		p.answer(x.w, x.rec, u, CategoryBadRequest, 0, "async jobs are not available on this instance")
		return
	}
	callback := x.r.Header.Get(HeaderCallback)
	if callback != "" {
		cu, err := url.Parse(callback)
		if err != nil || (cu.Scheme != "http" && cu.Scheme != "https") || cu.Host == "" {
			p.answer(x.w, x.rec, u, CategoryBadRequest, 0, "Fender-Callback must be an absolute http(s) URL")
			return
		}
	}
	if !x.readBody() {
		return
	}
	if !x.beginIdempotency() {
		return
	}
	// Stored headers: the caller's end-to-end headers. Injected headers are
	// added when the job runs, so secrets never reach the database.
	hdr := make(map[string][]string, len(x.r.Header))
	for k, v := range x.r.Header {
		switch k {
		case "Prefer", HeaderCallback, "Traceparent", "Tracestate", "Content-Length":
			continue
		}
		hdr[k] = v
	}
	path := x.rest
	if x.r.URL.RawQuery != "" {
		path += "?" + x.r.URL.RawQuery
	}
	ctx, cancel := x.idemCtx()
	defer cancel()
	id, err := p.opts.Jobs.EnqueueJob(ctx, store.NewJob{
		Kind: store.JobRequest, Upstream: u.name, Method: x.r.Method, Path: path,
		Header: hdr, Body: x.body, CallbackURL: callback, IdempotencyKey: x.idemKey,
	})
	if err != nil {
		x.releaseIdempotency()
		p.opts.Logger.Error("job not stored", "upstream", u.name, "err", err.Error())
		p.answer(x.w, x.rec, u, CategoryStoreUnavailable, 5*time.Second, "the job could not be stored durably; it was not accepted")
		return
	}
	if p.opts.OnEnqueue != nil {
		p.opts.OnEnqueue()
	}
	location := "/" + jobsPrefix + "/jobs/" + id
	body, _ := json.Marshal(map[string]string{"id": id, "status": store.JobPending, "location": location})
	body = append(body, '\n')
	accepted := &store.StoredResponse{
		Status: http.StatusAccepted,
		Header: map[string][]string{
			"Location":           {location},
			"Preference-Applied": {"respond-async"},
			"Content-Type":       {"application/json"},
		},
		Body: body,
	}
	if x.idemHeld {
		x.idemHeld = false
		if err := p.opts.Idempotency.CompleteIdempotent(ctx, u.name, x.idemKey, accepted, id, p.now().Add(p.opts.Retention)); err != nil {
			p.opts.Logger.Error("idempotency record not saved", "upstream", u.name, "err", err.Error())
		}
	}
	h := x.w.Header()
	for k, v := range accepted.Header {
		h[k] = v
	}
	x.w.WriteHeader(http.StatusAccepted)
	x.w.Write(body)
	x.rec.status = http.StatusAccepted
	x.rec.category = "accepted"
	p.finish(x.rec, u)
}

// JobView is the JSON of GET /_fender/jobs/{id}.
type JobView struct {
	ID         string           `json:"id"`
	Upstream   string           `json:"upstream"`
	Method     string           `json:"method"`
	Path       string           `json:"path"`
	Status     string           `json:"status"`
	Attempts   int              `json:"attempts"`
	CreatedAt  time.Time        `json:"created_at"`
	NextAt     *time.Time       `json:"next_at,omitempty"`
	FinishedAt *time.Time       `json:"finished_at,omitempty"`
	LastError  string           `json:"last_error,omitempty"`
	Callback   string           `json:"callback,omitempty"`
	Response   *ResponseView    `json:"response,omitempty"`
	History    []JobAttemptView `json:"history"`
}

// ResponseView is a stored response in JSON: the body as JSON when it is
// JSON, else as a string.
type ResponseView struct {
	Status int                 `json:"status"`
	Header map[string][]string `json:"headers"`
	Body   json.RawMessage     `json:"body"`
}

// JobAttemptView is one attempt of a job.
type JobAttemptView struct {
	N          int       `json:"n"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS float64   `json:"duration_ms"`
	Status     int       `json:"status,omitempty"`
	Category   string    `json:"category,omitempty"`
	Error      string    `json:"error,omitempty"`
}

// NewResponseView renders a stored response.
func NewResponseView(sr *store.StoredResponse) *ResponseView {
	if sr == nil {
		return nil
	}
	v := &ResponseView{Status: sr.Status, Header: sr.Header}
	if json.Valid(sr.Body) && len(sr.Body) > 0 {
		v.Body = json.RawMessage(sr.Body)
	} else {
		v.Body, _ = json.Marshal(string(sr.Body))
	}
	return v
}

// NewJobView renders a job for its status URL and callbacks.
func NewJobView(j store.Job, attempts []store.JobAttempt) JobView {
	v := JobView{
		ID: j.ID, Upstream: j.Upstream, Method: j.Method, Path: "/" + strings.TrimPrefix(j.Path, "/"),
		Status: j.Status, Attempts: j.Attempts, CreatedAt: j.CreatedAt, FinishedAt: j.FinishedAt,
		LastError: j.LastError, Callback: j.CallbackURL, Response: NewResponseView(j.Response),
		History: []JobAttemptView{},
	}
	if j.Status == store.JobPending {
		next := j.NextAt
		v.NextAt = &next
	}
	for _, a := range attempts {
		v.History = append(v.History, JobAttemptView{N: a.N, StartedAt: a.StartedAt,
			DurationMS: float64(a.Duration.Microseconds()) / 1000, Status: a.Status, Category: a.Category, Error: a.Error})
	}
	return v
}

// serveJob answers GET /_fender/jobs/{id} on the proxy listener.
func (p *Proxy) serveJob(w http.ResponseWriter, r *http.Request, rec *logRecord, rest string) {
	id, ok := strings.CutPrefix(rest, "jobs/")
	if !ok || id == "" || strings.Contains(id, "/") {
		p.answer(w, rec, nil, CategoryUnknownUpstream, 0, "the only fender path on this listener is /_fender/jobs/{id}")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		p.answer(w, rec, nil, CategoryBadRequest, 0, "job status is read with GET")
		return
	}
	if p.opts.Jobs == nil {
		p.answer(w, rec, nil, CategoryUnknownUpstream, 0, "async jobs are not available on this instance")
		return
	}
	j, attempts, err := p.opts.Jobs.GetJob(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && j.Kind != store.JobRequest):
		p.answer(w, rec, nil, CategoryNotFound, 0, "no job "+id)
		return
	case err != nil:
		p.answer(w, rec, nil, CategoryStoreUnavailable, 5*time.Second, "the job could not be read")
		return
	}
	body, _ := json.Marshal(NewJobView(j, attempts))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(append(body, '\n'))
	rec.status = http.StatusOK
	rec.category = resilience.CategoryOK
	rec.upstream = j.Upstream
	p.finish(rec, nil)
}

// Execute runs one call to an upstream through its full policy chain, with
// the configured headers injected, and returns the response with its body
// read (at most MaxStoredBody bytes; truncated reports a longer one). The
// async job worker uses it: jobs get exactly the policies of live calls.
// Failures fender answers itself come back as *resilience.Error.
func (p *Proxy) Execute(ctx context.Context, upstream, method, pathQuery string, header http.Header, body []byte) (resp *store.StoredResponse, rep resilience.Report, truncated bool, err error) {
	u, ok := (*p.upstreams.Load())[upstream]
	if !ok {
		return nil, rep, false, fmt.Errorf("upstream %q is no longer configured: %w", upstream, ErrUnknownUpstream)
	}
	path, query, _ := strings.Cut(pathQuery, "?")
	target, err := u.target(strings.TrimPrefix(path, "/"), query)
	if err != nil {
		return nil, rep, false, err
	}
	h := http.Header{}
	for k, v := range header {
		h[k] = v
	}
	removeHopHeaders(h)
	u.inject(h)
	req := (&http.Request{
		Method: method, URL: target, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Host: target.Host, ContentLength: int64(len(body)),
	}).WithContext(ctx)
	if len(body) > 0 {
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	r, err := u.do(req, &rep, time.Now())
	if c := u.requests[rep.Category]; c != nil {
		c.Inc()
	}
	if err != nil {
		return nil, rep, false, err
	}
	defer r.Body.Close()
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxStoredBody+1))
	if err != nil {
		return nil, rep, false, fmt.Errorf("read %s response: %w", upstream, err)
	}
	if len(b) > MaxStoredBody {
		b, truncated = b[:MaxStoredBody], true
	}
	removeHopHeaders(r.Header)
	return storedResponse(r, b), rep, truncated, nil
}

// ErrUnknownUpstream: a job names an upstream that is not configured.
var ErrUnknownUpstream = errors.New("unknown upstream")
