package admin

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fender-dev/fender/internal/store"
)

// RegisterEvents adds the inbox endpoints of PRODUCT.md §7 to s:
//
//	GET  /api/events             list (filters and cursor in the query)
//	GET  /api/events/{id}        one event with its body and attempts
//	POST /api/events/{id}/replay replay one event
//	POST /api/events/replay      replay every event matching a filter body
//
// now is the clock used for replays; nil means time.Now.
func RegisterEvents(s *Server, st store.Store, now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	h := &eventsAPI{srv: s, st: st, now: now}
	s.HandleFunc("GET /api/events", h.list)
	s.HandleFunc("GET /api/events/{id}", h.show)
	s.HandleFunc("POST /api/events/{id}/replay", h.replay)
	s.HandleFunc("POST /api/events/replay", h.replayMatching)
}

type eventsAPI struct {
	srv *Server
	st  store.Store
	now func() time.Time
}

// EventJSON is an event as the API lists it (without its body).
type EventJSON struct {
	ID          string     `json:"id"`
	Source      string     `json:"source"`
	EventID     string     `json:"event_id"`
	ResourceKey string     `json:"resource_key"`
	ContentType string     `json:"content_type"`
	Status      string     `json:"status"`
	Attempts    int        `json:"attempts"`
	ReceivedAt  time.Time  `json:"received_at"`
	NextAt      *time.Time `json:"next_at"`
	DeliveredAt *time.Time `json:"delivered_at"`
	LastError   string     `json:"last_error"`
	Recovered   bool       `json:"recovered"`
}

// EventDetailJSON is one event as GET /api/events/{id} returns it. Its
// Attempts list shadows the count of EventJSON (the less nested field wins
// in encoding/json); the count is len(Attempts).
type EventDetailJSON struct {
	EventJSON
	Headers map[string]string `json:"headers,omitempty"`
	// Body is the JSON value itself when the content type is JSON and the
	// body parses, else the body as a JSON string (invalid UTF-8 replaced
	// by U+FFFD, the exact bytes then in BodyBase64).
	Body       json.RawMessage `json:"body"`
	BodyBase64 string          `json:"body_base64,omitempty"`
	Attempts   []AttemptJSON   `json:"attempts"`
}

// AttemptJSON is one delivery attempt.
type AttemptJSON struct {
	N               int       `json:"n"`
	StartedAt       time.Time `json:"started_at"`
	DurationMS      float64   `json:"duration_ms"`
	Status          int       `json:"status"`
	Category        string    `json:"category"`
	Error           string    `json:"error"`
	ResponseExcerpt string    `json:"response_excerpt"`
}

// EventListJSON is the answer of GET /api/events.
type EventListJSON struct {
	Events []EventJSON `json:"events"`
	// Next is the cursor of the following page (pass it as after=), empty
	// on the last page.
	Next string `json:"next"`
}

// ReplayFilterJSON is the body of POST /api/events/replay. At least one
// filter field must be set, or All, so that an empty body cannot replay
// the whole inbox by accident.
type ReplayFilterJSON struct {
	Source string `json:"source,omitempty"`
	Status string `json:"status,omitempty"`
	Since  string `json:"since,omitempty"` // RFC 3339
	Until  string `json:"until,omitempty"` // RFC 3339
	All    bool   `json:"all,omitempty"`
}

func eventJSON(e store.Event) EventJSON {
	return EventJSON{
		ID:          e.ID,
		Source:      e.Source,
		EventID:     e.EventID,
		ResourceKey: e.ResourceKey,
		ContentType: e.ContentType,
		Status:      e.Status,
		Attempts:    e.Attempts,
		ReceivedAt:  e.ReceivedAt.UTC(),
		NextAt:      optTime(&e.NextAt),
		DeliveredAt: optTime(e.DeliveredAt),
		LastError:   e.LastError,
		Recovered:   e.Recovered,
	}
}

func optTime(t *time.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// bodyJSON renders a stored body for the API: a JSON value, or a string
// plus the base64 of the exact bytes when they are not valid UTF-8.
func bodyJSON(contentType string, body []byte) (v json.RawMessage, b64 string) {
	if isJSONType(contentType) && json.Valid(body) {
		return json.RawMessage(body), ""
	}
	if !utf8.Valid(body) {
		b64 = base64.StdEncoding.EncodeToString(body)
	}
	v, _ = json.Marshal(strings.ToValidUTF8(string(body), "\uFFFD")) // a string always marshals
	return v, b64
}

func isJSONType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// listParam reports whether GET /api/events accepts the query parameter.
func listParam(name string) bool {
	switch name {
	case "source", "status", "since", "until", "after", "limit":
		return true
	}
	return false
}

// paramError is a bad request parameter or body field.
type paramError struct{ name, reason string }

func (e *paramError) Error() string { return e.name + ": " + e.reason }

func (h *eventsAPI) list(w http.ResponseWriter, r *http.Request) {
	f, err := listFilter(r)
	if err != nil {
		WriteError(w, http.StatusBadRequest, "Bad parameter", err.Error())
		return
	}
	events, next, err := h.st.ListEvents(r.Context(), f)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	out := EventListJSON{Events: make([]EventJSON, 0, len(events)), Next: next}
	for _, e := range events {
		out.Events = append(out.Events, eventJSON(e))
	}
	WriteJSON(w, http.StatusOK, out)
}

func listFilter(r *http.Request) (store.Filter, error) {
	q := r.URL.Query()
	for name, vs := range q {
		if !listParam(name) {
			return store.Filter{}, &paramError{name, "unknown parameter (want source, status, since, until, after, limit)"}
		}
		if len(vs) > 1 {
			return store.Filter{}, &paramError{name, "given more than once"}
		}
	}
	f := store.Filter{Source: q.Get("source"), Status: q.Get("status"), After: q.Get("after")}
	if err := checkStatus(f.Status); err != nil {
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

func checkStatus(s string) error {
	if s != "" && !store.ValidStatus(s) {
		return &paramError{"status", fmt.Sprintf("unknown status %q (want %s, %s, %s or %s)", s,
			store.StatusPending, store.StatusDelivered, store.StatusDead, store.StatusSuperseded)}
	}
	return nil
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

func (h *eventsAPI) show(w http.ResponseWriter, r *http.Request) {
	e, attempts, err := h.st.GetEvent(r.Context(), r.PathValue("id"))
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	out := EventDetailJSON{EventJSON: eventJSON(e), Headers: e.Headers, Attempts: make([]AttemptJSON, 0, len(attempts))}
	out.Body, out.BodyBase64 = bodyJSON(e.ContentType, e.Body)
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

func (h *eventsAPI) replay(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := h.st.Replay(r.Context(), id, h.now()); err != nil {
		h.storeError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusAccepted, map[string]string{"id": id, "status": store.StatusPending})
}

// maxFilterBody bounds the body of POST /api/events/replay.
const maxFilterBody = 64 << 10

func (h *eventsAPI) replayMatching(w http.ResponseWriter, r *http.Request) {
	f, err := replayFilter(http.MaxBytesReader(w, r.Body, maxFilterBody))
	if err != nil {
		WriteError(w, http.StatusBadRequest, "Bad replay filter", err.Error())
		return
	}
	n, err := h.st.ReplayMatching(r.Context(), f, h.now())
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]int{"replayed": n})
}

func replayFilter(body io.Reader) (store.Filter, error) {
	var in ReplayFilterJSON
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		if errors.Is(err, io.EOF) {
			return store.Filter{}, errors.New(`empty body: give at least one of source, status, since, until, or "all": true`)
		}
		return store.Filter{}, fmt.Errorf("body: %w", err)
	}
	if dec.More() {
		return store.Filter{}, errors.New("body: more than one JSON value")
	}
	if in.Source == "" && in.Status == "" && in.Since == "" && in.Until == "" && !in.All {
		return store.Filter{}, errors.New(`no filter: give at least one of source, status, since, until, or "all": true to replay every event`)
	}
	f := store.Filter{Source: in.Source, Status: in.Status}
	if err := checkStatus(f.Status); err != nil {
		return f, err
	}
	var err error
	f.Since, f.Until, err = timeRange(in.Since, in.Until)
	return f, err
}

// storeError maps a store error to a problem: unknown id 404, invalid
// request 400, anything else 503 (the store is down or failing).
func (h *eventsAPI) storeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		WriteError(w, http.StatusNotFound, "Event not found", fmt.Sprintf("no event with id %q", r.PathValue("id")))
	case errors.Is(err, store.ErrInvalid):
		WriteError(w, http.StatusBadRequest, "Invalid request", err.Error())
	default:
		if log := h.srv.opts.Logger; log != nil {
			log.Error("admin: store", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		WriteError(w, http.StatusServiceUnavailable, "Store unavailable", err.Error())
	}
}
