// Package storetest is the conformance suite every store driver runs:
// Exercise checks the whole store.Store contract against a fresh store per
// subtest: the inbox (unique ingest under concurrency, leases, scheduling,
// dead letters, replay, retention, pagination, queue depth), async jobs
// (claims never shared, lease loss, deferral, callbacks inserted with the
// job's final state, replay, paging, purge), idempotency keys (one winner
// of concurrent Begins, replay, expired-lock takeover, release, expiry),
// the response cache (variants, upsert, LRU eviction by size) and close.
// Persistence across a reopen is the drivers' own test: Exercise cannot
// reopen a store.
//
// Time is injected through the now parameters; nothing sleeps.
package storetest
