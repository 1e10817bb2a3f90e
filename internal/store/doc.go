// Package store is fender's storage contract: the types the inbox, the
// proxy, the delivery workers and the admin API exchange with durable
// storage, the [Store] interface they program against, and the sentinel
// errors every driver returns.
//
// [Store] is the webhook inbox and its delivery queue, plus three smaller
// interfaces a consumer may take on their own: [JobStore] (async outbound
// jobs and their result callbacks, leased like events), [IdempotencyStore]
// (one record per (upstream, key): in flight under a lock, then done with
// the response to replay) and [CacheStore] (stale-if-error responses per
// primary key and Vary variant, evicted least recently used per upstream).
// Job counts come from [JobStore.JobQueueDepth], kind → status → count;
// QueueDepth keeps counting events only.
//
// Two drivers implement it: [github.com/fender-dev/fender/internal/store/sqlite]
// (embedded, one process, group-committed writes) and
// [github.com/fender-dev/fender/internal/store/postgres] (several fender
// instances sharing one database). Both run the one conformance suite in
// [github.com/fender-dev/fender/internal/store/storetest], so leased work,
// unique constraints and the queue behave the same on either.
//
// [github.com/fender-dev/fender/internal/store/open] picks a driver by name.
//
// Time is always passed in (now parameters, NewEvent.ReceivedAt) so callers
// and tests control it; the drivers keep it with microsecond precision, in UTC.
package store
