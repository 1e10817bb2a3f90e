package store

import (
	"context"
	"errors"
	"time"
	"unicode/utf8"
)

// Event states.
const (
	// StatusPending events wait for delivery: due when NextAt has passed and
	// nobody holds a live lease on them.
	StatusPending = "pending"
	// StatusDelivered events were accepted by the application (2xx).
	StatusDelivered = "delivered"
	// StatusDead events were rejected or ran out of attempts; they stay until
	// retention and can be replayed.
	StatusDead = "dead"
	// StatusSuperseded events were older than one already delivered for the
	// same resource key and were not delivered.
	StatusSuperseded = "superseded"
)

// ValidStatus reports whether s is one of the event states.
func ValidStatus(s string) bool {
	switch s {
	case StatusPending, StatusDelivered, StatusDead, StatusSuperseded:
		return true
	}
	return false
}

// Sentinel errors returned (possibly wrapped) by every driver.
var (
	// ErrNotFound: no event (job, idempotency record) with that id.
	ErrNotFound = errors.New("store: not found")
	// ErrLeaseLost: the caller no longer holds the lease it tried to use
	// (it expired, was released, or another owner claimed the event).
	ErrLeaseLost = errors.New("store: lease lost")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store: closed")
	// ErrInvalid: the request itself is wrong (unknown status, empty
	// source or event id, …); retrying it will not help.
	ErrInvalid = errors.New("store: invalid request")
)

// NewEvent is a webhook accepted by the inbox, before it is stored.
type NewEvent struct {
	Source      string // configured source name; required
	EventID     string // provider event id (or the body's SHA-256); required
	ResourceKey string // for per-key ordering and stale suppression; may be empty
	ContentType string
	// Headers are selected provider headers worth keeping (never secrets).
	Headers map[string]string
	Body    []byte
	// ReceivedAt is when fender received it; the zero value means time.Now().
	// The event is due for delivery at ReceivedAt.
	ReceivedAt time.Time
	// Recovered marks events fed by reconcile rather than pushed by the provider.
	Recovered bool
}

// IngestResult tells which stored event a NewEvent became.
type IngestResult struct {
	ID        string // fender id of the stored event (the existing one for a duplicate)
	Duplicate bool   // the (source, event id) was already stored
}

// Event is a stored webhook and its delivery state.
type Event struct {
	ID          string
	Source      string
	EventID     string
	ResourceKey string
	ContentType string
	Headers     map[string]string
	Body        []byte // nil in ListEvents results; GetEvent and Claim fill it
	Status      string // one of the Status constants
	Attempts    int    // delivery attempts recorded so far
	NextAt      time.Time
	ReceivedAt  time.Time
	DeliveredAt *time.Time
	LastError   string
	Recovered   bool
	Seq         int64 // arrival order within the store, increasing
}

// Attempt is one delivery attempt of an event.
type Attempt struct {
	EventID         string
	N               int // 1-based; assigned by Finish, ignored on input
	StartedAt       time.Time
	Duration        time.Duration
	Status          int    // HTTP status, 0 when there was no response
	Category        string // error category (timeout, connect, server_error, …); empty on success
	Error           string
	ResponseExcerpt string // at most MaxExcerpt bytes are kept
}

// MaxExcerpt is the longest Attempt.ResponseExcerpt kept, in bytes.
const MaxExcerpt = 1024

// Outcome is where Finish moves an event.
type Outcome struct {
	// Status is StatusPending (retry at NextAt), StatusDelivered, StatusDead
	// or StatusSuperseded.
	Status string
	// NextAt is when a pending event is due again; zero means now.
	NextAt time.Time
	// Error becomes the event's LastError (empty clears it).
	Error string
}

// Filter selects events for ListEvents and ReplayMatching. The zero value
// selects everything.
type Filter struct {
	Source string    // exact source name; empty = all
	Status string    // one of the Status constants; empty = all
	Since  time.Time // ReceivedAt >= Since when not zero
	Until  time.Time // ReceivedAt < Until when not zero
	After  string    // ListEvents cursor: the next value of the previous page
	Limit  int       // ListEvents page size; 0 means DefaultLimit, capped at MaxLimit
}

// Page sizes for ListEvents.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// PageLimit returns the effective page size for f.
func (f Filter) PageLimit() int {
	switch {
	case f.Limit <= 0:
		return DefaultLimit
	case f.Limit > MaxLimit:
		return MaxLimit
	}
	return f.Limit
}

// Validate reports an ErrInvalid error when f names an unknown status.
func (f Filter) Validate() error {
	if f.Status != "" && !ValidStatus(f.Status) {
		return &InvalidError{Field: "status", Reason: "unknown status " + quote(f.Status)}
	}
	return nil
}

// Validate reports an ErrInvalid error when e cannot be stored.
func (e NewEvent) Validate() error {
	if e.Source == "" {
		return &InvalidError{Field: "source", Reason: "empty"}
	}
	if e.EventID == "" {
		return &InvalidError{Field: "event_id", Reason: "empty"}
	}
	return nil
}

// Validate reports an ErrInvalid error when o is not a state Finish can move to.
func (o Outcome) Validate() error {
	if !ValidStatus(o.Status) {
		return &InvalidError{Field: "status", Reason: "unknown status " + quote(o.Status)}
	}
	return nil
}

// InvalidError says which part of a request is wrong. It matches ErrInvalid
// with errors.Is.
type InvalidError struct {
	Field  string
	Reason string
}

func (e *InvalidError) Error() string { return "store: invalid " + e.Field + ": " + e.Reason }

// Unwrap returns ErrInvalid.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

func quote(s string) string { return "\"" + s + "\"" }

// Store is fender's durable storage: the webhook inbox and its delivery
// queue (the methods below), async jobs ([JobStore]), idempotency keys
// ([IdempotencyStore]) and the stale-if-error response cache
// ([CacheStore]). Implementations are safe for concurrent use.
type Store interface {
	JobStore
	IdempotencyStore
	CacheStore

	// Ingest stores one event durably (committed and fsynced) under a unique
	// (source, event id) and returns only after that commit. Concurrent calls
	// are group-committed: one transaction and one sync for everything
	// queued. A duplicate returns the existing id with Duplicate set. If the
	// commit fails, every caller in the batch gets the error and nothing is
	// acknowledged.
	Ingest(ctx context.Context, e NewEvent) (IngestResult, error)

	// Claim leases up to limit due pending events (NextAt <= now, no live
	// lease) of the given sources (all when empty), oldest NextAt first, for
	// owner until now+lease. Two owners never hold the same event; an
	// expired lease can be claimed by anyone.
	Claim(ctx context.Context, sources []string, owner string, limit int, lease time.Duration, now time.Time) ([]Event, error)

	// Finish records attempt a (its N is assigned) and moves the event to
	// out, only if owner still holds a live lease at now; otherwise it
	// returns ErrLeaseLost (ErrNotFound for an unknown id). The attempts
	// counter increments and the lease is cleared.
	Finish(ctx context.Context, eventID, owner string, a Attempt, out Outcome, now time.Time) error

	// Release gives every event leased by owner back, without recording an
	// attempt (graceful shutdown).
	Release(ctx context.Context, owner string) error

	// GetEvent returns one event, body included, with its attempts in order.
	GetEvent(ctx context.Context, id string) (Event, []Attempt, error)

	// ListEvents returns events matching f, newest first, without bodies.
	// next is the cursor for the following page (pass it as Filter.After),
	// empty on the last page.
	ListEvents(ctx context.Context, f Filter) (events []Event, next string, err error)

	// Replay moves a delivered, dead or superseded event back to pending,
	// due at now, keeping its attempts. Replaying a pending event changes
	// nothing.
	Replay(ctx context.Context, id string, now time.Time) error

	// ReplayMatching replays every non-pending event matching f (After and
	// Limit are ignored) and returns how many it moved.
	ReplayMatching(ctx context.Context, f Filter, now time.Time) (int, error)

	// Purge deletes delivered, dead and superseded events received before
	// before, succeeded, failed and dead jobs finished before before, the
	// attempts of both, and idempotency records whose ExpiresAt is before
	// before. It returns how many events, jobs and idempotency records it
	// deleted. The response cache is bounded by size instead.
	Purge(ctx context.Context, before time.Time) (int, error)

	// QueueDepth counts events by source and status.
	QueueDepth(ctx context.Context) (map[string]map[string]int, error)

	// Ping reports whether the store can be reached.
	Ping(ctx context.Context) error

	// Close stops the store, finishing queued writes first. It is safe to
	// call twice; every other method returns ErrClosed afterwards.
	Close() error
}

// Excerpt cuts s to at most MaxExcerpt bytes without splitting a UTF-8
// sequence. Drivers apply it to Attempt.ResponseExcerpt.
func Excerpt(s string) string {
	if len(s) <= MaxExcerpt {
		return s
	}
	cut := MaxExcerpt
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
