// Package sqlite is fender's embedded store driver: one SQLite file in WAL
// mode with synchronous=FULL, through modernc.org/sqlite (pure Go).
//
// Every write (ingest, claim, finish, release, replay, purge; the same for
// jobs; idempotency records; cache puts and deletes) goes through one
// writer goroutine that owns the only write connection. It takes all
// queued requests at once, runs them in one transaction, each inside its own
// SAVEPOINT so a failing request does not undo the others, commits once
// (one fsync) and only then answers each caller: group commit. When the
// commit fails every caller of the batch gets the error. Reads use a
// separate pool of read-only connections, which WAL never blocks.
//
// Because the writer runs one request at a time, BeginIdempotent's
// read-decide-write is atomic without locks, and FinishJob inserts a result
// callback in the same transaction as the job's final state. CacheGet reads
// from the pool and queues its last-used touch behind the writer without
// waiting (dropped if the queue is full; Close commits what is queued).
//
// One process owns a database file; several fender instances need the
// postgres driver. Schema migrations (migrations/*.sql) run at Open.
package sqlite
