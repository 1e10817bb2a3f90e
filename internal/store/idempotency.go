package store

import (
	"context"
	"time"
)

// Idempotency record states.
const (
	// IdemInFlight: a request holds the key until LockedUntil.
	IdemInFlight = "in_flight"
	// IdemDone: the request ended; its response is replayed until ExpiresAt.
	IdemDone = "done"
)

// StoredResponse is an HTTP response kept for replay (idempotency, job
// results, the response cache).
type StoredResponse struct {
	Status int
	Header map[string][]string
	Body   []byte
}

// IdemRecord is what fender remembers of one idempotency key of one upstream.
type IdemRecord struct {
	Upstream    string
	Key         string
	Fingerprint string    // method, path and body hash of the request that holds the key
	State       string    // IdemInFlight or IdemDone
	LockedUntil time.Time // IdemInFlight: when the lock expires (a crashed request's lock); zero when done
	// Response is the final response of a done record; nil while in flight
	// and when it was too large to keep.
	Response  *StoredResponse
	JobID     string // set when the request created an async job
	CreatedAt time.Time
	// ExpiresAt is when a done record stops counting; for an in-flight
	// record it equals LockedUntil.
	ExpiresAt time.Time
}

// IdempotencyStore records idempotency keys (PRODUCT.md §4 Idempotency).
// Implementations are safe for concurrent use, also across processes
// sharing one database.
type IdempotencyStore interface {
	// BeginIdempotent atomically claims (upstream, key) for a request with
	// fingerprint at now:
	//   - no record, or a done record past its ExpiresAt: a fresh in-flight
	//     record locked until now+lock is stored; acquired, rec is that record;
	//   - an in-flight record whose lock expired (a crash mid-request): it is
	//     taken over (new lock, the new fingerprint, response cleared);
	//     acquired, rec is the previous record;
	//   - otherwise: not acquired, rec is the existing record (the caller
	//     compares fingerprints: mismatch → 422, in flight → 409, done →
	//     replay).
	// Of any number of concurrent calls for one key, exactly one acquires.
	BeginIdempotent(ctx context.Context, upstream, key, fingerprint string, lock time.Duration, now time.Time) (rec IdemRecord, acquired bool, err error)

	// CompleteIdempotent marks the record done until expires, with the final
	// response (nil when too large to store) and the async job it created
	// (empty when none). ErrNotFound when there is no record.
	CompleteIdempotent(ctx context.Context, upstream, key string, resp *StoredResponse, jobID string, expires time.Time) error

	// ReleaseIdempotent deletes the record if it is in flight (the request
	// ended without an upstream answer, so a repeat may run again). A done
	// or missing record is left alone.
	ReleaseIdempotent(ctx context.Context, upstream, key string) error
}

// ValidateIdemKey reports an ErrInvalid error when upstream or key is
// empty. Drivers call it.
func ValidateIdemKey(upstream, key string) error {
	if upstream == "" {
		return &InvalidError{Field: "upstream", Reason: "empty"}
	}
	if key == "" {
		return &InvalidError{Field: "key", Reason: "empty"}
	}
	return nil
}

// ValidateIdempotent reports an ErrInvalid error when a BeginIdempotent
// request cannot be stored. Drivers call it.
func ValidateIdempotent(upstream, key string, lock time.Duration) error {
	if err := ValidateIdemKey(upstream, key); err != nil {
		return err
	}
	if lock <= 0 {
		return &InvalidError{Field: "lock", Reason: "not positive"}
	}
	return nil
}
