package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fender-dev/fender/internal/store"
)

// resource is one kind of stored record the admin API lists, shows and
// replays (events, jobs): its names, its filter fields and its store
// calls. F is its store filter, B the body of its bulk replay. Every
// resource has the same four endpoints, the same parameter checks and the
// same error mapping; register serves them.
type resource[F, B any] struct {
	name   string // singular, lower case: "event"
	plural string // the path segment under /api/: "events"
	// fields are the filter fields besides since and until, in the order
	// error messages list them.
	fields []string
	// check validates the field values (get returns "" for an absent one).
	check func(get func(string) string) error
	// filter builds the store filter of checked values.
	filter func(p filterParams) F
	// bodyValues returns the filter fields, since and until of a bulk
	// replay body, and its "all" flag.
	bodyValues func(b B) (url.Values, bool)

	list           func(ctx context.Context, f F) (any, error) // the page as JSON
	get            func(ctx context.Context, id string) (any, error)
	replay         func(ctx context.Context, id string, now time.Time) error
	replayMatching func(ctx context.Context, f F, now time.Time) (int, error)
	// pending is the status a replayed record is back in.
	pending string
}

// filterParams are the checked values of a list query or a replay body.
type filterParams struct {
	get          func(string) string // the resource's fields by name
	since, until time.Time
	after        string // list only: the cursor
	limit        int    // list only: 0 means the store's default
}

// resourceAPI serves the endpoints of one resource. Safe for concurrent use.
type resourceAPI[F, B any] struct {
	srv *Server
	res *resource[F, B]
	now func() time.Time
}

// register adds the endpoints of res to s:
//
//	GET  /api/{plural}             list (filters and cursor in the query)
//	GET  /api/{plural}/{id}        one record in detail
//	POST /api/{plural}/{id}/replay replay one record
//	POST /api/{plural}/replay      replay every record matching a filter body
//
// now is the clock used for replays; nil means time.Now.
func register[F, B any](s *Server, res *resource[F, B], now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	h := &resourceAPI[F, B]{srv: s, res: res, now: now}
	base := "/api/" + res.plural
	s.HandleFunc("GET "+base, h.list)
	s.HandleFunc("GET "+base+"/{id}", h.show)
	s.HandleFunc("POST "+base+"/{id}/replay", h.replayOne)
	s.HandleFunc("POST "+base+"/replay", h.replayMatching)
}

// paramError is a bad request parameter or body field.
type paramError struct{ name, reason string }

func (e *paramError) Error() string { return e.name + ": " + e.reason }

// maxFilterBody bounds the body of a bulk replay.
const maxFilterBody = 64 << 10

func (h *resourceAPI[F, B]) list(w http.ResponseWriter, r *http.Request) {
	f, err := h.res.listFilter(r.URL.Query())
	if err != nil {
		WriteError(w, http.StatusBadRequest, "Bad parameter", err.Error())
		return
	}
	out, err := h.res.list(r.Context(), f)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, out)
}

func (h *resourceAPI[F, B]) show(w http.ResponseWriter, r *http.Request) {
	out, err := h.res.get(r.Context(), r.PathValue("id"))
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, out)
}

func (h *resourceAPI[F, B]) replayOne(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := h.res.replay(r.Context(), id, h.now()); err != nil {
		h.storeError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusAccepted, map[string]string{"id": id, "status": h.res.pending})
}

func (h *resourceAPI[F, B]) replayMatching(w http.ResponseWriter, r *http.Request) {
	f, err := h.res.replayFilter(http.MaxBytesReader(w, r.Body, maxFilterBody))
	if err != nil {
		WriteError(w, http.StatusBadRequest, "Bad replay filter", err.Error())
		return
	}
	n, err := h.res.replayMatching(r.Context(), f, h.now())
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]int{"replayed": n})
}

// storeError maps a store error to a problem: unknown id 404, invalid
// request 400, anything else 503 (the store is down or failing).
func (h *resourceAPI[F, B]) storeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		title := strings.ToUpper(h.res.name[:1]) + h.res.name[1:] + " not found"
		WriteError(w, http.StatusNotFound, title, fmt.Sprintf("no %s with id %q", h.res.name, r.PathValue("id")))
	case errors.Is(err, store.ErrInvalid):
		WriteError(w, http.StatusBadRequest, "Invalid request", err.Error())
	default:
		if log := h.srv.opts.Logger; log != nil {
			log.Error("admin: store", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		WriteError(w, http.StatusServiceUnavailable, "Store unavailable", err.Error())
	}
}

// listFilter checks the query of a list request: only known parameters,
// each at most once.
func (res *resource[F, B]) listFilter(q url.Values) (F, error) {
	var zero F
	params := append(slices.Clone(res.fields), "since", "until", "after", "limit")
	for name, vs := range q {
		if !slices.Contains(params, name) {
			return zero, &paramError{name, "unknown parameter (want " + strings.Join(params, ", ") + ")"}
		}
		if len(vs) > 1 {
			return zero, &paramError{name, "given more than once"}
		}
	}
	p, err := res.params(q)
	if err != nil {
		return zero, err
	}
	p.after = q.Get("after")
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxLimit {
			return zero, &paramError{"limit", fmt.Sprintf("%q is not a whole number from 1 to %d", s, store.MaxLimit)}
		}
		p.limit = n
	}
	return res.filter(p), nil
}

// replayFilter reads the body of a bulk replay: one JSON object with at
// least one filter field set, or "all": true, so that an empty body cannot
// replay everything by accident.
func (res *resource[F, B]) replayFilter(body io.Reader) (F, error) {
	var zero F
	names := strings.Join(append(slices.Clone(res.fields), "since", "until"), ", ")
	var in B
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		if errors.Is(err, io.EOF) {
			return zero, fmt.Errorf(`empty body: give at least one of %s, or "all": true`, names)
		}
		return zero, fmt.Errorf("body: %w", err)
	}
	if dec.More() {
		return zero, errors.New("body: more than one JSON value")
	}
	v, all := res.bodyValues(in)
	if !all && !anySet(v) {
		return zero, fmt.Errorf(`no filter: give at least one of %s, or "all": true to replay every %s`, names, res.name)
	}
	p, err := res.params(v)
	if err != nil {
		return zero, err
	}
	return res.filter(p), nil
}

// anySet reports whether v holds a value other than "".
func anySet(v url.Values) bool {
	for _, vs := range v {
		if slices.ContainsFunc(vs, func(s string) bool { return s != "" }) {
			return true
		}
	}
	return false
}

// params checks the field values of v, then its since and until.
func (res *resource[F, B]) params(v url.Values) (filterParams, error) {
	if err := res.check(v.Get); err != nil {
		return filterParams{}, err
	}
	since, until, err := timeRange(v.Get("since"), v.Get("until"))
	if err != nil {
		return filterParams{}, err
	}
	return filterParams{get: v.Get, since: since, until: until}, nil
}

// timeRange parses the RFC 3339 bounds since (inclusive) and until
// (exclusive); empty strings leave a bound open.
func timeRange(since, until string) (s, u time.Time, err error) {
	parse := func(name, v string) (time.Time, error) {
		if v == "" {
			return time.Time{}, nil
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return time.Time{}, &paramError{name, fmt.Sprintf("%q is not an RFC 3339 time (like 2030-01-02T15:04:05Z)", v)}
		}
		return t, nil
	}
	if s, err = parse("since", since); err != nil {
		return
	}
	if u, err = parse("until", until); err != nil {
		return
	}
	if !s.IsZero() && !u.IsZero() && !u.After(s) {
		err = &paramError{"until", "must be after since"}
	}
	return
}
