package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// eventCols is the column list scanEvent reads; listCols the same without
// the body.
const (
	eventCols = `seq, id, source, event_id, resource_key, content_type, headers, body,
	status, attempts, next_at, received_at, delivered_at, last_error, recovered`
	listCols = `seq, id, source, event_id, resource_key, content_type, headers, NULL,
	status, attempts, next_at, received_at, delivered_at, last_error, recovered`
	attemptCols = `event_id, n, started_at, duration_us, status, category, error, response_excerpt`
)

// statements are the writer's prepared statements. They are prepared on
// the single write connection, so binding them to a batch transaction does
// not prepare them again.
type statements struct {
	savepoint, rollbackTo, release *sql.Stmt

	ingest, lookup       *sql.Stmt
	claim                *sql.Stmt
	finish, exists       *sql.Stmt
	addAttempt           *sql.Stmt
	releaseOwner, replay *sql.Stmt
	purge                *sql.Stmt

	insertJob, claimJobs     *sql.Stmt
	finishJob, addJobAttempt *sql.Stmt
	jobExists                *sql.Stmt
}

func (st *statements) prepare(ctx context.Context, db *sql.DB) error {
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&st.savepoint, "SAVEPOINT req"},
		{&st.rollbackTo, "ROLLBACK TO req"},
		{&st.release, "RELEASE req"},
		{&st.ingest, `INSERT INTO events
			(id, source, event_id, resource_key, content_type, headers, body, status, next_at, received_at, recovered)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, COALESCE(?7, X''), 'pending', ?8, ?8, ?9)
			ON CONFLICT (source, event_id) DO NOTHING`},
		{&st.lookup, "SELECT id FROM events WHERE source = ? AND event_id = ?"},
		{&st.claim, `UPDATE events SET lease_owner = ?1, lease_until = ?2
			WHERE seq IN (
				SELECT seq FROM events
				WHERE status = 'pending' AND next_at <= ?3
				  AND (lease_until IS NULL OR lease_until <= ?3)
				  AND (?4 = '' OR source IN (SELECT value FROM json_each(?4)))
				ORDER BY next_at, seq
				LIMIT ?5)
			RETURNING ` + eventCols},
		{&st.finish, `UPDATE events SET
				status = ?1, next_at = ?2, last_error = ?3,
				delivered_at = CASE WHEN ?1 = 'delivered' THEN ?4 END,
				attempts = attempts + 1, lease_owner = NULL, lease_until = NULL
			WHERE id = ?5 AND lease_owner = ?6 AND lease_until > ?4
			RETURNING attempts`},
		{&st.exists, "SELECT status FROM events WHERE id = ?"},
		{&st.addAttempt, `INSERT INTO attempts (` + attemptCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`},
		{&st.releaseOwner, "UPDATE events SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?"},
		{&st.replay, `UPDATE events SET status = 'pending', next_at = ?1, delivered_at = NULL,
				lease_owner = NULL, lease_until = NULL
			WHERE id = ?2 AND status <> 'pending'`},
		{&st.purge, `DELETE FROM events WHERE seq IN (
				SELECT seq FROM events
				WHERE status IN ('delivered', 'dead', 'superseded') AND received_at < ?1
				LIMIT ?2)`},
		{&st.insertJob, `INSERT INTO jobs
			(id, kind, upstream, method, path, headers, body, callback_url, parent_id, idempotency_key, next_at, created_at)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, COALESCE(?7, X''), ?8, ?9, ?10, ?11, ?11)`},
		{&st.claimJobs, `UPDATE jobs SET lease_owner = ?1, lease_until = ?2
			WHERE seq IN (
				SELECT seq FROM jobs
				WHERE status = 'pending' AND next_at <= ?3
				  AND (lease_until IS NULL OR lease_until <= ?3)
				  AND (?4 = '' OR kind IN (SELECT value FROM json_each(?4)))
				  AND (?5 = '' OR upstream IN (SELECT value FROM json_each(?5)))
				ORDER BY next_at, seq
				LIMIT ?6)
			RETURNING ` + jobCols},
		{&st.finishJob, `UPDATE jobs SET
				status = ?1, next_at = ?2, last_error = ?3,
				finished_at = CASE WHEN ?1 = 'pending' THEN NULL ELSE ?4 END,
				resp_status  = CASE WHEN ?7 THEN ?8  ELSE resp_status END,
				resp_headers = CASE WHEN ?7 THEN ?9  ELSE resp_headers END,
				resp_body    = CASE WHEN ?7 THEN ?10 ELSE resp_body END,
				attempts = attempts + 1, lease_owner = NULL, lease_until = NULL
			WHERE id = ?5 AND lease_owner = ?6 AND lease_until > ?4
			RETURNING attempts`},
		{&st.addJobAttempt, `INSERT INTO job_attempts (` + jobAttemptCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`},
		{&st.jobExists, "SELECT status FROM jobs WHERE id = ?"},
	} {
		s, err := db.PrepareContext(ctx, p.sql)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.sql, err)
		}
		*p.dst = s
	}
	return nil
}

func (st *statements) close() {
	for _, s := range []*sql.Stmt{st.savepoint, st.rollbackTo, st.release, st.ingest, st.lookup,
		st.claim, st.finish, st.exists, st.addAttempt, st.releaseOwner, st.replay, st.purge,
		st.insertJob, st.claimJobs, st.finishJob, st.addJobAttempt, st.jobExists} {
		if s != nil {
			s.Close()
		}
	}
}
