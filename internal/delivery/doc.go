// Package delivery runs fender's leased work: it hands accepted webhook
// events to the application (PRODUCT.md §5, "Delivery to your
// application": one POST per attempt, a retry schedule, dead letters and a
// retention purge), and, in [Jobs], runs async outbound jobs through the
// upstreams' policies and POSTs their results to Fender-Callback URLs
// (PRODUCT.md §4, "Async outbound delivery").
//
// A [Service] runs one claim loop per configured source. A loop claims due
// pending events (up to the source's free deliver.concurrency slots) with a
// lease, and delivers each in its own goroutine. It claims again at once
// when [Service.Notify] is called after an ingest or when a delivery
// finishes, and otherwise every Options.PollInterval (scheduled retries,
// events ingested by other instances, expired leases).
//
// # Request
//
// POST deliver.url with the original body and Content-Type, and
// Webhook-Id (fender id), Webhook-Timestamp (now, unix seconds),
// Webhook-Signature (Standard Webhooks v1 over "id.timestamp.body", only
// when deliver.signing_secret is set), Fender-Source, Fender-Event-Id
// (provider id), Fender-Attempt (1-based, over the event's whole life, so it
// keeps counting after a replay), Fender-Resource-Key (when the event has
// one) and User-Agent: fender. Each attempt is bounded by deliver.timeout;
// redirects are not followed.
//
// # Outcome
//
//   - 2xx: delivered.
//   - 408, 409, 425, 429, 5xx, timeouts and connection errors: retried.
//   - any other status (other 4xx, and 1xx/3xx): dead at once, the app
//     rejected the event.
//
// Every attempt is recorded with its status, duration, category (timeout,
// connect, server_error, client_error, rate_limited), error text and at
// most 1 KiB of the response body.
//
// # Schedule
//
// deliver.schedule lists the delay before each attempt: schedule[0] before
// the first (events are due at receipt; the inbox sets that, and this
// package does not delay first attempts), schedule[n] before attempt n+1. So
// after attempt n fails the next is due at now + schedule[n] ±20% (uniform
// jitter); after attempt len(schedule) the event is dead. The position
// restarts every len(schedule) attempts: an event replayed after running
// out gets the whole schedule again (the store keeps its earlier attempts).
//
// Retry-After (delay-seconds or HTTP-date) on a retried response is
// honoured up to the next step: the wait is max(jittered step,
// min(Retry-After, cap)) where cap = max(schedule[n], schedule[n+1]) (just
// schedule[n] at the last step). An app may thus ask for more time than the
// current step, never more than the step after it, and never less than the
// schedule gives. Retry-After does not save an event at its last attempt.
//
// # Circuit breaker
//
// Each source's destination has a failsafe-go circuit breaker
// (Options.Breaker, DefaultBreaker when zero). Timeouts, connection errors,
// 5xx, 408 and 429 count as failures; every other response proves the app
// is up and counts as success. While the breaker is open the loop claims
// nothing, so events stay pending with no attempt recorded and no schedule
// step burned: a breaker never makes an event dead. Half-open, the loop
// claims one event as the probe; its outcome closes or reopens the breaker.
// An event claimed just before the breaker opened waits for a permit while
// its lease leaves room for an attempt, then is left for its lease to
// expire (or for Stop's release), again without an attempt recorded. A
// reload keeps a source's breaker when its URL is unchanged.
//
// # Leases
//
// The lease is Options.Lease, or max(2×deliver.timeout, 30s). When Finish
// reports store.ErrLeaseLost (the lease expired and another instance took
// the event) the attempt is logged with result lease_lost and dropped, so
// nothing is recorded twice. Delivery is at-least-once: the app may see an
// event twice, with the same Webhook-Id, after a crash or a lost lease.
//
// # Stop and reload
//
// [Service.Stop] stops claiming, waits for deliveries in flight until its
// context is done (then cancels them and records nothing for them), and
// releases every lease held by Options.Owner so another instance takes the
// events at once. A killed process's leases simply expire.
// [Service.Reload] starts new sources, stops claiming for removed ones
// (their deliveries in flight finish) and swaps settings of changed ones.
//
// # Observability
//
// One JSON log line "delivery" per attempt with request_id (new per
// attempt), source, id, event_id, attempt, status, category, duration_ms,
// result (delivered, retry, dead, lease_lost), next_at when retried and
// error. Metrics: fender_deliveries_total{source,result} (delivered, retry,
// dead), fender_delivery_duration_seconds{source}, and
// fender_queue_depth{kind="webhook",state} read from the store at scrape
// time (an unchecked collector, so other kinds can report the same family
// with the same help text).
//
// # Retention
//
// Start runs store.Purge(now - storage.retention) once, then hourly.
//
// # Not done here
//
// order: per_key, refetch and reconcile (PRODUCT.md §5) are not implemented
// by this package yet: events are delivered concurrently whatever their
// resource key.
package delivery
