package inbox

import (
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// Problem is the RFC 9457 problem detail the inbox answers failures with.
// Detail never holds a secret: for a 401 it is the reason label.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Source    string `json:"source,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// ProblemType is the type URI of a problem of the given kind (a result label
// or "unknown_source"), in the scheme the proxy uses.
func ProblemType(kind string) string { return "urn:fender:problem:" + kind }

// Ack is the body of a 200 answer.
type Ack struct {
	ID        string `json:"id"`
	Duplicate bool   `json:"duplicate"`
}

// record collects what the request's log line says.
type record struct {
	start                                time.Time
	reqID, traceID, method, path, source string
	eventID, id, reason                  string
	status                               int
	duplicate                            bool
	err                                  error
}

func (in *Inbox) problem(w http.ResponseWriter, rec *record, status int, kind, title, detail string) {
	rec.status = status
	body, _ := json.Marshal(Problem{
		Type:      ProblemType(kind),
		Title:     title,
		Status:    status,
		Detail:    detail,
		Source:    rec.source,
		RequestID: rec.reqID,
	})
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
	in.logLine(rec)
}

func (in *Inbox) ack(w http.ResponseWriter, rec *record) {
	rec.status = http.StatusOK
	b := make([]byte, 0, 80)
	b = append(b, `{"id":`...)
	b = appendJSONString(b, rec.id)
	if rec.duplicate {
		b = append(b, `,"duplicate":true}`+"\n"...)
	} else {
		b = append(b, `,"duplicate":false}`+"\n"...)
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(http.StatusOK)
	w.Write(b)
	in.logLine(rec)
}

// Constant header values, shared to save an allocation per answer (as
// net/http does); never modified.
var (
	jsonContentType = []string{"application/json"}
	headerTrue      = []string{"true"}
)

// appendJSONString appends s as a JSON string. Fender ids are UUIDs; any
// other character takes the encoding/json path.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func (in *Inbox) logLine(rec *record) {
	level := slog.LevelInfo
	switch {
	case rec.status >= 500:
		level = slog.LevelError
	case rec.status >= 400 && rec.status != http.StatusNotFound && rec.status != http.StatusMethodNotAllowed:
		level = slog.LevelWarn
	}
	ctx := context.Background()
	if !in.log.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 14)
	attrs = append(attrs, slog.String("request_id", rec.reqID))
	if rec.traceID != "" {
		attrs = append(attrs, slog.String("trace_id", rec.traceID))
	}
	attrs = append(attrs,
		slog.String("source", rec.source),
		slog.String("method", rec.method),
		slog.String("path", rec.path),
		slog.Int("status", rec.status),
		slog.String("event_id", rec.eventID),
		slog.String("id", rec.id),
		slog.Bool("duplicate", rec.duplicate),
		slog.Float64("duration_ms", float64(time.Since(rec.start).Microseconds())/1000),
	)
	if rec.reason != "" {
		attrs = append(attrs, slog.String("reason", rec.reason))
	}
	if rec.err != nil {
		attrs = append(attrs, slog.String("error", rec.err.Error()))
	}
	in.log.LogAttrs(ctx, level, "webhook", attrs...)
}

// traceID returns the trace id of a W3C traceparent header value
// ("version-traceid-parentid-flags"), or "" when it is not valid.
func traceID(tp string) string {
	// 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
	if len(tp) < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' {
		return ""
	}
	ver := tp[:2]
	if !isLowerHex(ver) || ver == "ff" || (ver == "00" && len(tp) != 55) || (len(tp) > 55 && tp[55] != '-') {
		return ""
	}
	id, parent, flags := tp[3:35], tp[36:52], tp[53:55]
	if !isLowerHex(id) || !isLowerHex(parent) || !isLowerHex(flags) ||
		id == "00000000000000000000000000000000" || parent == "0000000000000000" {
		return ""
	}
	return id
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [32]byte
	const hex = "0123456789abcdef"
	a, c := rand.Uint64(), rand.Uint64()
	for i := range 16 {
		b[i] = hex[(a>>(60-4*i))&0xf]
		b[16+i] = hex[(c>>(60-4*i))&0xf]
	}
	return string(b[:])
}
