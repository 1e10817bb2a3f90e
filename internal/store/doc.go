// Package store is fender's storage contract: the types the inbox, the
// delivery workers and the admin API exchange with durable storage, the
// [Store] interface they program against, and the sentinel errors every
// driver returns.
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
