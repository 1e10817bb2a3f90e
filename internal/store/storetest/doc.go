// Package storetest is the conformance suite every store driver runs:
// Exercise checks the whole store.Store contract (unique ingest under
// concurrency, leases, scheduling, dead letters, replay, retention,
// pagination, queue depth, close) against a fresh store per subtest.
//
// Time is injected through the now parameters; nothing sleeps.
package storetest
