package inbox

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/fender-dev/fender/internal/config"
	"github.com/fender-dev/fender/internal/store"
	"github.com/fender-dev/fender/internal/telemetry"
	"github.com/fender-dev/fender/webhook"
)

// Values of the result label of fender_webhooks_received_total. A failed
// signature check counts as "rejected_" followed by webhook.Reason of the
// error: rejected_missing_signature, rejected_malformed, rejected_mismatch,
// rejected_stale_timestamp, rejected_future_timestamp (rejected_error for
// anything else).
const (
	ResultAccepted         = "accepted"
	ResultDuplicate        = "duplicate"
	ResultTooLarge         = "too_large"
	ResultMethodNotAllowed = "method_not_allowed"
	ResultStoreError       = "store_error"
	// ResultBadRequest counts bodies that could not be read (the client
	// went away or sent a broken chunked encoding).
	ResultBadRequest = "bad_request"
	// ResultRejectedPrefix starts the result of a failed signature check.
	ResultRejectedPrefix = "rejected_"
)

// Header names the inbox reads or sets.
const (
	HeaderDuplicate   = "Fender-Duplicate"
	HeaderRequestID   = "X-Request-Id"
	HeaderTraceparent = "Traceparent"
)

// IngestTimeout bounds the durable write of one webhook.
const IngestTimeout = 10 * time.Second

// storeRetryAfter is the Retry-After of a 503 when the store cannot commit.
const storeRetryAfter = "5"

// Options are the Inbox's collaborators; every field may be left zero.
type Options struct {
	// Logger receives one line per webhook received; nil discards them.
	Logger *slog.Logger
	// Metrics receives fender_webhooks_received_total; nil counts nothing.
	Metrics *telemetry.Metrics
	// Now is the clock for signature timestamps and ReceivedAt; nil means
	// time.Now.
	Now func() time.Time
	// OnIngest is called after a new, non-duplicate event commits, so
	// delivery can start at once. It runs on the request's goroutine before
	// the answer is written: it must not block or be slow.
	OnIngest func(source string)
}

// Inbox is the webhook listener's handler: it serves POST {source.path} for
// every configured source and nothing else. It is safe for concurrent use,
// including Reload while serving. Build one with New.
type Inbox struct {
	st     store.Store
	opts   Options
	log    *slog.Logger
	now    func() time.Time
	tab    atomic.Pointer[table]
	metric *telemetry.Metrics
}

var _ http.Handler = (*Inbox)(nil)

// New builds an Inbox for the sources of cfg, storing into st. It fails
// when a source's verify section, event_id or resource_key is unusable, or
// two sources share a path.
func New(cfg *config.Config, st store.Store, opts Options) (*Inbox, error) {
	if st == nil {
		return nil, errors.New("inbox: nil store")
	}
	in := &Inbox{st: st, opts: opts, log: opts.Logger, now: opts.Now, metric: opts.Metrics}
	if in.log == nil {
		in.log = slog.New(slog.DiscardHandler)
	}
	if in.now == nil {
		in.now = time.Now
	}
	if err := in.Reload(cfg); err != nil {
		return nil, err
	}
	return in, nil
}

// Reload replaces the sources with those of cfg, atomically: a request is
// served entirely under the old or the new configuration. On error the old
// sources stay in place.
func (in *Inbox) Reload(cfg *config.Config) error {
	t, err := compile(cfg, in.metric)
	if err != nil {
		return err
	}
	in.tab.Store(t)
	return nil
}

// ServeHTTP handles one webhook: route by exact path, bound and read the
// body, verify its signature, extract the event id and commit it durably
// before answering 200. See PRODUCT.md §5.
func (in *Inbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := record{start: time.Now(), method: r.Method, path: r.URL.Path}
	rec.reqID = r.Header.Get(HeaderRequestID)
	if rec.reqID == "" || len(rec.reqID) > 200 || !validKey(rec.reqID) {
		rec.reqID = newRequestID()
	}
	w.Header().Set(HeaderRequestID, rec.reqID)
	if tp := r.Header[HeaderTraceparent]; len(tp) == 1 {
		rec.traceID = traceID(tp[0])
	}

	src := in.tab.Load().byPath[r.URL.Path]
	if src == nil {
		in.problem(w, &rec, http.StatusNotFound, "unknown_source", "Unknown webhook source", "no source is configured at this path")
		return
	}
	rec.source = src.name
	c := &src.counters

	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		count(c.methodNotAllowed)
		in.problem(w, &rec, http.StatusMethodNotAllowed, ResultMethodNotAllowed, "Method not allowed", "webhooks are accepted with POST only")
		return
	}

	bp := getBuf()
	body, err := readBody(w, r, src.maxBody, bp)
	if err != nil {
		putBuf(bp)
		if errors.Is(err, errTooLarge) {
			count(c.tooLarge)
			in.problem(w, &rec, http.StatusRequestEntityTooLarge, ResultTooLarge, "Body too large", "the body is longer than this source's max_body")
			return
		}
		count(c.badBody)
		rec.err = err
		in.problem(w, &rec, http.StatusBadRequest, ResultBadRequest, "Unreadable body", "the request body could not be read")
		return
	}

	now := in.now()
	if err := src.verifier.Verify(r.Header, body, now); err != nil {
		putBuf(bp)
		reason := webhook.Reason(err)
		rec.reason = reason
		c.rejected(src.name, reason)
		in.problem(w, &rec, http.StatusUnauthorized, ResultRejectedPrefix+reason, "Signature verification failed", reason)
		return
	}

	ev := store.NewEvent{
		Source:      src.name,
		EventID:     extract(src.eventID, r.Header, body),
		ResourceKey: extract(src.resourceKey, r.Header, body),
		ContentType: r.Header.Get("Content-Type"),
		Headers:     src.headers(r.Header),
		Body:        body,
		ReceivedAt:  now,
	}
	if ev.EventID == "" {
		ev.EventID = bodyHash(body)
	}
	if !validKey(ev.ContentType) {
		ev.ContentType = ""
	}
	rec.eventID = ev.EventID

	ctx, cancel := context.WithTimeout(r.Context(), IngestTimeout)
	res, err := in.st.Ingest(ctx, ev)
	cancel()
	if err != nil {
		// The store may still hold body (a canceled write can be running in
		// a batch): the buffer is left to the garbage collector.
		count(c.storeError)
		rec.err = err
		w.Header().Set("Retry-After", storeRetryAfter)
		in.problem(w, &rec, http.StatusServiceUnavailable, ResultStoreError, "Store unavailable", "the event could not be stored durably; retry later")
		return
	}
	putBuf(bp)
	rec.id, rec.duplicate = res.ID, res.Duplicate
	if res.Duplicate {
		count(c.duplicate)
		w.Header()[HeaderDuplicate] = headerTrue
	} else {
		count(c.accepted)
		if in.opts.OnIngest != nil {
			in.opts.OnIngest(src.name)
		}
	}
	in.ack(w, &rec)
}
