// Package postgres is fender's shared store driver: several fender
// instances on one PostgreSQL database, through pgx/v5.
//
// Ingests are group-committed by a small batcher: everything queued goes
// in one INSERT … SELECT FROM unnest(…) ON CONFLICT (source, event_id) DO
// NOTHING RETURNING id round trip, then one look-up of the duplicates' ids.
// EnqueueJob is batched the same way (one INSERT … unnest per batch).
// Claims of events and jobs use UPDATE … WHERE id IN (SELECT … FOR UPDATE
// SKIP LOCKED), so instances never lease the same work. FinishJob with a
// result callback runs in one transaction.
//
// BeginIdempotent tries INSERT … ON CONFLICT DO NOTHING (one round trip for
// a new key); an existing key is decided under SELECT … FOR UPDATE, so of
// concurrent Begins across instances exactly one acquires. CachePut upserts
// and evicts in one transaction under a per-upstream advisory lock; CacheGet
// is one UPDATE … RETURNING that also marks the entries used. Times come from the callers (now
// parameters), never from the database clock.
//
// Schema migrations (migrations/*.sql) run at Open under a transaction-level
// advisory lock, so instances starting together apply each version once.
// Config.Schema puts everything in its own schema (tests use one per test).
//
// Connections come from pgxpool (Config.MaxConns of them); Config.Schema
// is set as every connection's search_path run-time parameter.
package postgres
