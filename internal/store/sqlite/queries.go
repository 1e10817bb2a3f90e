package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fender-dev/fender/internal/store"
)

// This file holds the query shapes events and jobs share; the SQL that
// names their columns and the scanning of their rows stay with each.

// scanAll reads every row with scan.
func scanAll[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		t, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// listPage runs q, a SELECT … WHERE over args, newest first and with one
// row more than limit; that extra row only tells that there is a next page,
// whose cursor is the ID of the last row kept.
func listPage[T any](ctx context.Context, s *Store, op, q string, args []any, limit int,
	scan func(scanner) (T, error), id func(T) string) ([]T, string, error) {
	if s.closed.Load() {
		return nil, "", store.ErrClosed
	}
	rows, err := s.rdb.QueryContext(ctx, q+" ORDER BY id DESC LIMIT ?", append(args, limit+1)...)
	if err != nil {
		return nil, "", s.fail(op, err)
	}
	out, err := scanAll(rows, scan)
	if err != nil {
		return nil, "", s.fail(op, err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = id(out[limit-1])
	}
	return out, next, nil
}

// attemptRow is one row of attemptCols or jobAttemptCols.
type attemptRow struct {
	owner                  string
	n                      int
	startedUS, durUS       int64
	status                 int
	category, err, excerpt string
}

func scanAttempt(r scanner) (attemptRow, error) {
	var a attemptRow
	err := r.Scan(&a.owner, &a.n, &a.startedUS, &a.durUS, &a.status, &a.category, &a.err, &a.excerpt)
	return a, err
}

func (r attemptRow) event() store.Attempt {
	return store.Attempt{EventID: r.owner, N: r.n, StartedAt: fromMicros(r.startedUS), Duration: time.Duration(r.durUS) * time.Microsecond,
		Status: r.status, Category: r.category, Error: r.err, ResponseExcerpt: r.excerpt}
}

func (r attemptRow) job() store.JobAttempt {
	return store.JobAttempt{JobID: r.owner, N: r.n, StartedAt: fromMicros(r.startedUS), Duration: time.Duration(r.durUS) * time.Microsecond,
		Status: r.status, Category: r.category, Error: r.err, ResponseExcerpt: r.excerpt}
}

// getWithAttempts reads, in one read-only transaction, the row q selects
// by id (ErrNotFound when there is none) and the attempts attemptsQ
// selects by id, in order.
func getWithAttempts[T, A any](ctx context.Context, s *Store, op, q, attemptsQ, id string,
	scan func(scanner) (T, error), attempt func(attemptRow) A) (T, []A, error) {
	var zero T
	if s.closed.Load() {
		return zero, nil, store.ErrClosed
	}
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return zero, nil, s.fail(op, err)
	}
	defer tx.Rollback()
	t, err := scan(tx.QueryRowContext(ctx, q, id))
	if errors.Is(err, sql.ErrNoRows) {
		return zero, nil, fmt.Errorf("sqlite: %s %s: %w", op, id, store.ErrNotFound)
	}
	if err != nil {
		return zero, nil, s.fail(op, err)
	}
	rows, err := tx.QueryContext(ctx, attemptsQ, id)
	if err != nil {
		return zero, nil, s.fail(op, err)
	}
	rs, err := scanAll(rows, scanAttempt)
	if err != nil {
		return zero, nil, s.fail(op, err)
	}
	var as []A
	for _, r := range rs {
		as = append(as, attempt(r))
	}
	return t, as, nil
}

// leaseLost tells ErrNotFound from ErrLeaseLost for a write that matched
// no leased row; exists selects a row by id.
func leaseLost(tx *wtx, exists *sql.Stmt, id string) error {
	var status string
	if err := tx.stmt(exists).QueryRow(id).Scan(&status); errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	} else if err != nil {
		return err
	}
	return store.ErrLeaseLost
}

// replayOne makes one finished row pending again with replay; a row
// already pending is left as it is, a missing one (exists selects a row
// by id) is ErrNotFound.
func (s *Store) replayOne(ctx context.Context, op, id string, replay func(tx *wtx) (sql.Result, error), exists *sql.Stmt) error {
	err := s.write(ctx, func(tx *wtx) error {
		r, err := replay(tx)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var status string
		if err := tx.stmt(exists).QueryRow(id).Scan(&status); errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		} else {
			return err
		}
	})
	if err != nil {
		return s.fail(op+" "+id, err)
	}
	return nil
}

// replayMatching runs update, whose first parameter is now, over args and
// counts the rows it made pending.
func (s *Store) replayMatching(ctx context.Context, op, update string, now time.Time, args []any) (int, error) {
	var n int64
	err := s.write(ctx, func(tx *wtx) error {
		r, err := tx.tx.Exec(update, append([]any{micros(now)}, args...)...)
		if err != nil {
			return err
		}
		n, err = r.RowsAffected()
		return err
	})
	if err != nil {
		return 0, s.fail(op, err)
	}
	return int(n), nil
}

// conds renders filter conditions as " AND …" with their arguments.
type conds struct {
	b    strings.Builder
	args []any
}

// add renders cond against v when on.
func (w *conds) add(on bool, cond string, v any) {
	if !on {
		return
	}
	w.b.WriteString(" AND " + cond + " ?")
	w.args = append(w.args, v)
}

// common renders what event and job filters share: the status, a range
// on timeCol, and with withCursor the After cursor.
func (w *conds) common(status, timeCol string, since, until time.Time, withCursor bool, after string) {
	w.add(status != "", "status =", status)
	w.add(!since.IsZero(), timeCol+" >=", micros(since))
	w.add(!until.IsZero(), timeCol+" <", micros(until))
	w.add(withCursor && after != "", "id <", after)
}
