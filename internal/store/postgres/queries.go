package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fender-dev/fender/internal/store"
)

// This file holds the query shapes events and jobs share; the SQL that
// names their columns and the scanning of their rows stay with each.

// listPage runs q, a SELECT … WHERE over args, newest first and with one
// row more than limit; that extra row only tells that there is a next page,
// whose cursor is the ID of the last row kept.
func listPage[T any](ctx context.Context, s *Store, op, q string, args []any, limit int,
	collect func(pgx.Rows) ([]T, error), id func(T) string) ([]T, string, error) {
	args = append(args, limit+1)
	q += " ORDER BY id DESC LIMIT $" + strconv.Itoa(len(args))
	var out []T
	err := s.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		out, err = collect(rows)
		return err
	})
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
	started                time.Time
	durUS                  int64
	status                 int
	category, err, excerpt string
}

func (r attemptRow) event() store.Attempt {
	return store.Attempt{EventID: r.owner, N: r.n, StartedAt: r.started.UTC(), Duration: time.Duration(r.durUS) * time.Microsecond,
		Status: r.status, Category: r.category, Error: r.err, ResponseExcerpt: r.excerpt}
}

func (r attemptRow) job() store.JobAttempt {
	return store.JobAttempt{JobID: r.owner, N: r.n, StartedAt: r.started.UTC(), Duration: time.Duration(r.durUS) * time.Microsecond,
		Status: r.status, Category: r.category, Error: r.err, ResponseExcerpt: r.excerpt}
}

// getWithAttempts loads the row q selects by id, ErrNotFound when there is
// none, and the attempts attemptsQ selects by id, in order.
func getWithAttempts[T, A any](ctx context.Context, s *Store, op, q, attemptsQ, id string,
	collect func(pgx.Rows) ([]T, error), attempt func(attemptRow) A) (T, []A, error) {
	var t T
	var as []A
	err := s.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, q, id)
		if err != nil {
			return err
		}
		ts, err := collect(rows)
		if err != nil {
			return err
		}
		if len(ts) == 0 {
			return store.ErrNotFound
		}
		t = ts[0]
		rows, err = c.Query(ctx, attemptsQ, id)
		if err != nil {
			return err
		}
		var r attemptRow
		_, err = pgx.ForEachRow(rows, []any{&r.owner, &r.n, &r.started, &r.durUS, &r.status, &r.category, &r.err, &r.excerpt}, func() error {
			as = append(as, attempt(r))
			return nil
		})
		return err
	})
	if err != nil {
		var zero T
		return zero, nil, s.fail(op, err)
	}
	return t, as, nil
}

// exists tells whether table has a row with id.
func exists(ctx context.Context, c *pgx.Conn, table, id string) (bool, error) {
	var ok bool
	err := c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+table+" WHERE id = $1)", id).Scan(&ok)
	return ok, err
}

// leaseLost tells ErrNotFound from ErrLeaseLost for a write that matched
// no leased row of table.
func leaseLost(ctx context.Context, c *pgx.Conn, table, id string) error {
	if ok, err := exists(ctx, c, table, id); err != nil {
		return err
	} else if !ok {
		return store.ErrNotFound
	}
	return store.ErrLeaseLost
}

// replayOne runs update over (now, id) to make one finished row of table
// pending again. A row already pending is left as it is; a missing one is
// ErrNotFound.
func (s *Store) replayOne(ctx context.Context, op, update, table, id string, now time.Time) error {
	err := s.with(ctx, func(c *pgx.Conn) error {
		tag, err := c.Exec(ctx, update, now, id)
		if err != nil || tag.RowsAffected() == 1 {
			return err
		}
		if ok, err := exists(ctx, c, table, id); err != nil {
			return err
		} else if !ok {
			return store.ErrNotFound
		}
		return nil // pending: nothing to do
	})
	if err != nil {
		return s.fail(op+" "+id, err)
	}
	return nil
}

// replayMatching runs update over args and counts the rows it made
// pending; a filter for pending rows (pendingOnly) matches nothing to
// replay.
func (s *Store) replayMatching(ctx context.Context, op string, pendingOnly bool, update string, args []any) (int, error) {
	if s.closed.Load() {
		return 0, store.ErrClosed
	}
	if pendingOnly {
		return 0, nil
	}
	var n int64
	err := s.with(ctx, func(c *pgx.Conn) error {
		tag, err := c.Exec(ctx, update, args...)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, s.fail(op, err)
	}
	return int(n), nil
}

// release clears every lease owner holds on table.
func (s *Store) release(ctx context.Context, op, table, owner string) error {
	err := s.with(ctx, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, "UPDATE "+table+" SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1", owner)
		return err
	})
	if err != nil {
		return s.fail(op, err)
	}
	return nil
}

// conds renders filter conditions as " AND …" with numbered parameters
// appended to args.
type conds struct {
	b    strings.Builder
	args *[]any
}

// add renders cond against v when on.
func (w *conds) add(on bool, cond string, v any) {
	if !on {
		return
	}
	*w.args = append(*w.args, v)
	w.b.WriteString(" AND " + cond + " $" + strconv.Itoa(len(*w.args)))
}

// common renders what event and job filters share: the status, a range
// on timeCol, and with withCursor the After cursor.
func (w *conds) common(status, timeCol string, since, until time.Time, withCursor bool, after string) {
	w.add(status != "", "status =", status)
	w.add(!since.IsZero(), timeCol+" >=", since)
	w.add(!until.IsZero(), timeCol+" <", until)
	w.add(withCursor && after != "", "id <", after)
}
