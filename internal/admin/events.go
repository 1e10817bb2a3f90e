package admin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/url"
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
	register(s, &resource[store.Filter, ReplayFilterJSON]{
		name:   "event",
		plural: "events",
		fields: []string{"source", "status"},
		check:  func(get func(string) string) error { return checkStatus(get("status")) },
		filter: func(p filterParams) store.Filter {
			return store.Filter{Source: p.get("source"), Status: p.get("status"), Since: p.since, Until: p.until, After: p.after, Limit: p.limit}
		},
		bodyValues: func(in ReplayFilterJSON) (url.Values, bool) {
			return url.Values{"source": {in.Source}, "status": {in.Status}, "since": {in.Since}, "until": {in.Until}}, in.All
		},
		list: func(ctx context.Context, f store.Filter) (any, error) {
			events, next, err := st.ListEvents(ctx, f)
			if err != nil {
				return nil, err
			}
			out := EventListJSON{Events: make([]EventJSON, 0, len(events)), Next: next}
			for _, e := range events {
				out.Events = append(out.Events, eventJSON(e))
			}
			return out, nil
		},
		get:            func(ctx context.Context, id string) (any, error) { return eventDetail(ctx, st, id) },
		replay:         st.Replay,
		replayMatching: st.ReplayMatching,
		pending:        store.StatusPending,
	}, now)
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

func checkStatus(s string) error {
	if s != "" && !store.ValidStatus(s) {
		return &paramError{"status", fmt.Sprintf("unknown status %q (want %s, %s, %s or %s)", s,
			store.StatusPending, store.StatusDelivered, store.StatusDead, store.StatusSuperseded)}
	}
	return nil
}

// eventDetail is GET /api/events/{id}.
func eventDetail(ctx context.Context, st store.Store, id string) (EventDetailJSON, error) {
	e, attempts, err := st.GetEvent(ctx, id)
	if err != nil {
		return EventDetailJSON{}, err
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
	return out, nil
}
