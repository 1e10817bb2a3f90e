package store

import (
	"context"
	"time"
)

// Job kinds.
const (
	// JobRequest is a proxied request sent asynchronously (Prefer:
	// respond-async).
	JobRequest = "request"
	// JobCallback is the POST of a finished job's result to its
	// Fender-Callback URL.
	JobCallback = "callback"
)

// Job states.
const (
	// JobPending jobs wait for an attempt: due when NextAt has passed and
	// nobody holds a live lease on them.
	JobPending = "pending"
	// JobSucceeded jobs got a successful final response.
	JobSucceeded = "succeeded"
	// JobFailed jobs got a final response that is not a success.
	JobFailed = "failed"
	// JobDead jobs ran out of attempts.
	JobDead = "dead"
)

// ValidJobKind reports whether k is one of the job kinds.
func ValidJobKind(k string) bool { return k == JobRequest || k == JobCallback }

// ValidJobStatus reports whether s is one of the job states.
func ValidJobStatus(s string) bool {
	switch s {
	case JobPending, JobSucceeded, JobFailed, JobDead:
		return true
	}
	return false
}

// NewJob is async work before it is stored.
type NewJob struct {
	Kind     string // JobRequest or JobCallback; required
	Upstream string // JobRequest: the upstream it goes to; required for requests
	Method   string // required
	// Path is the upstream path with its query; for a callback, the
	// callback URL. Required.
	Path        string
	Header      map[string][]string
	Body        []byte
	CallbackURL string // JobRequest: where to POST the result when it ends
	ParentID    string // JobCallback: the job whose result it carries
	// IdempotencyKey is the key the request carried, if any.
	IdempotencyKey string
	// CreatedAt is when the job was accepted; zero means time.Now(). The
	// job is due at CreatedAt.
	CreatedAt time.Time
}

// Validate reports an ErrInvalid error when j cannot be stored.
func (j NewJob) Validate() error {
	switch {
	case !ValidJobKind(j.Kind):
		return &InvalidError{Field: "kind", Reason: "unknown kind " + quote(j.Kind)}
	case j.Kind == JobRequest && j.Upstream == "":
		return &InvalidError{Field: "upstream", Reason: "empty"}
	case j.Method == "":
		return &InvalidError{Field: "method", Reason: "empty"}
	case j.Path == "":
		return &InvalidError{Field: "path", Reason: "empty"}
	}
	return nil
}

// Job is stored async work and its state.
type Job struct {
	ID             string
	Kind           string
	Upstream       string
	Method         string
	Path           string
	Header         map[string][]string
	Body           []byte // nil in ListJobs results
	CallbackURL    string
	ParentID       string
	IdempotencyKey string
	Status         string // one of the Job states
	Attempts       int    // attempts recorded so far
	NextAt         time.Time
	CreatedAt      time.Time
	FinishedAt     *time.Time // when it became succeeded, failed or dead
	LastError      string
	// Response is the last response FinishJob stored; nil when none. In
	// ListJobs results its Body is nil.
	Response *StoredResponse
}

// JobAttempt is one attempt of a job.
type JobAttempt struct {
	JobID           string
	N               int // 1-based; assigned by FinishJob, ignored on input
	StartedAt       time.Time
	Duration        time.Duration
	Status          int    // HTTP status, 0 when there was no response
	Category        string // error category; empty on success
	Error           string
	ResponseExcerpt string // at most MaxExcerpt bytes are kept
}

// JobOutcome is where FinishJob moves a job.
type JobOutcome struct {
	// Status is JobPending (retry at NextAt), JobSucceeded, JobFailed or
	// JobDead.
	Status string
	// NextAt is when a pending job is due again; zero means now.
	NextAt time.Time
	// Error becomes the job's LastError (empty clears it).
	Error string
	// Response becomes the job's Response when not nil (the previous one
	// is kept otherwise).
	Response *StoredResponse
	// Callback, when not nil, is enqueued in the same transaction as the
	// job's new state, so a result callback is never lost. Its Kind must be
	// JobCallback; an empty ParentID becomes the finished job's id and a
	// zero CreatedAt FinishJob's now.
	Callback *NewJob
}

// Validate reports an ErrInvalid error when o is not a state FinishJob can
// move to.
func (o JobOutcome) Validate() error {
	if !ValidJobStatus(o.Status) {
		return &InvalidError{Field: "status", Reason: "unknown status " + quote(o.Status)}
	}
	if o.Callback != nil {
		if o.Callback.Kind != JobCallback {
			return &InvalidError{Field: "callback.kind", Reason: "want " + quote(JobCallback)}
		}
		return o.Callback.Validate()
	}
	return nil
}

// JobFilter selects jobs for ListJobs and ReplayJobsMatching. The zero
// value selects everything.
type JobFilter struct {
	Kind     string    // JobRequest or JobCallback; empty = all
	Upstream string    // exact upstream name; empty = all
	Status   string    // one of the Job states; empty = all
	Since    time.Time // CreatedAt >= Since when not zero
	Until    time.Time // CreatedAt < Until when not zero
	After    string    // ListJobs cursor: the next value of the previous page
	Limit    int       // ListJobs page size; 0 means DefaultLimit, capped at MaxLimit
}

// PageLimit returns the effective page size for f.
func (f JobFilter) PageLimit() int { return Filter{Limit: f.Limit}.PageLimit() }

// Validate reports an ErrInvalid error when f names an unknown kind or
// status.
func (f JobFilter) Validate() error {
	if f.Kind != "" && !ValidJobKind(f.Kind) {
		return &InvalidError{Field: "kind", Reason: "unknown kind " + quote(f.Kind)}
	}
	if f.Status != "" && !ValidJobStatus(f.Status) {
		return &InvalidError{Field: "status", Reason: "unknown status " + quote(f.Status)}
	}
	return nil
}

// JobStore is durable storage for async jobs and their queue (PRODUCT.md §4
// Async outbound delivery). Implementations are safe for concurrent use.
type JobStore interface {
	// EnqueueJob stores j durably and returns its id only after the commit;
	// concurrent calls are group-committed like Ingest.
	EnqueueJob(ctx context.Context, j NewJob) (id string, err error)

	// ClaimJobs leases up to limit due pending jobs (NextAt <= now, no live
	// lease) of the given kinds and upstreams (each: all when empty), oldest
	// NextAt first, for owner until now+lease. Two owners never hold the
	// same job; an expired lease can be claimed by anyone.
	ClaimJobs(ctx context.Context, kinds, upstreams []string, owner string, limit int, lease time.Duration, now time.Time) ([]Job, error)

	// FinishJob records attempt a (its N is assigned) and moves the job to
	// out, only if owner still holds a live lease at now; otherwise it
	// returns ErrLeaseLost (ErrNotFound for an unknown id). The attempts
	// counter increments, the lease is cleared, and out.Callback (if any) is
	// enqueued in the same transaction.
	FinishJob(ctx context.Context, id, owner string, a JobAttempt, out JobOutcome, now time.Time) error

	// DeferJob gives a leased job back due at nextAt without recording an
	// attempt (breaker open, upstream paused); a non-empty reason becomes
	// its LastError. ErrLeaseLost and ErrNotFound as for FinishJob.
	DeferJob(ctx context.Context, id, owner string, nextAt time.Time, reason string, now time.Time) error

	// ReleaseJobs gives every job leased by owner back, without recording
	// an attempt (graceful shutdown).
	ReleaseJobs(ctx context.Context, owner string) error

	// GetJob returns one job, body and response included, with its attempts
	// in order.
	GetJob(ctx context.Context, id string) (Job, []JobAttempt, error)

	// ListJobs returns jobs matching f, newest first, without request or
	// response bodies. next is the cursor for the following page (pass it
	// as JobFilter.After), empty on the last page.
	ListJobs(ctx context.Context, f JobFilter) (jobs []Job, next string, err error)

	// ReplayJob moves a succeeded, failed or dead job back to pending, due
	// at now, keeping its attempts and last response. Replaying a pending
	// job changes nothing.
	ReplayJob(ctx context.Context, id string, now time.Time) error

	// ReplayJobsMatching replays every non-pending job matching f (After and
	// Limit are ignored) and returns how many it moved.
	ReplayJobsMatching(ctx context.Context, f JobFilter, now time.Time) (int, error)

	// JobQueueDepth counts jobs by kind and status. (QueueDepth keeps
	// counting events only, by source: its callers sum its states.)
	JobQueueDepth(ctx context.Context) (map[string]map[string]int, error)
}
