package delivery

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/fender-dev/fender/internal/store"
)

// worker is the claim loop of one source.
type worker struct {
	s        *Service
	name     string
	dest     atomic.Pointer[dest]
	wake     chan struct{}
	inflight atomic.Int64
	ctx      context.Context // ends when this source stops claiming
	cancel   context.CancelFunc
}

func newWorker(s *Service, name string, d *dest) *worker {
	w := &worker{s: s, name: name, wake: make(chan struct{}, 1)}
	w.dest.Store(d)
	return w
}

// start launches the loop; the caller holds s.mu and s has started.
func (w *worker) start() {
	w.ctx, w.cancel = context.WithCancel(w.s.runCtx)
	w.s.loops.Add(1)
	go w.run()
}

// stop ends the loop (deliveries in flight go on).
func (w *worker) stop() {
	if w.cancel != nil {
		w.cancel()
	}
}

// poke wakes the loop without blocking.
func (w *worker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run claims due events whenever there are free slots and the breaker lets
// traffic through, after a poke (ingest, a delivery finishing) or every poll
// interval.
func (w *worker) run() {
	defer w.s.loops.Done()
	s := w.s
	timer := time.NewTimer(s.poll)
	defer timer.Stop()
	for {
		if w.ctx.Err() != nil {
			return
		}
		d := w.dest.Load()
		wait := s.poll
		limit := d.concurrency - int(w.inflight.Load())
		// An open breaker turns half-open lazily, on the next permit
		// request, once its delay has passed.
		openFor := d.breaker.RemainingDelay()
		halfOpen := d.breaker.IsHalfOpen() || (d.breaker.IsOpen() && openFor <= 0)
		switch {
		case d.breaker.IsOpen() && openFor > 0:
			// The app is down: leave the events pending (no attempt is
			// burned) and look again when the breaker half-opens.
			limit = 0
			wait = max(min(openFor, s.poll), time.Millisecond)
		case halfOpen:
			// One probe at a time.
			if w.inflight.Load() > 0 {
				limit = 0
			} else {
				limit = 1
			}
		}
		more := false
		if limit > 0 {
			now := s.now()
			evs, err := s.st.Claim(w.ctx, []string{w.name}, s.owner, limit, d.lease, now)
			if err != nil {
				if w.ctx.Err() != nil {
					return
				}
				s.log.Warn("delivery claim failed", "source", w.name, "err", err)
			}
			for i := range evs {
				w.inflight.Add(1)
				s.inflight.Add(1)
				go w.deliver(d, &evs[i], now)
			}
			more = len(evs) == limit && !halfOpen
		}
		if more {
			continue
		}
		timer.Reset(wait)
		select {
		case <-w.ctx.Done():
			return
		case <-w.wake:
		case <-timer.C:
		}
		timer.Stop() // Go ≥1.23 timers: no stale tick survives Stop/Reset
	}
}

// deliver makes one attempt at ev and records it.
func (w *worker) deliver(d *dest, ev *store.Event, claimedAt time.Time) {
	s := w.s
	defer func() {
		w.inflight.Add(-1)
		s.inflight.Done()
		w.poke()
	}()
	if !w.acquire(d, claimedAt) {
		return
	}
	n := ev.Attempts + 1
	reqID := store.NewID()
	started := s.now()
	r := s.send(s.sendCtx, d, ev, n)
	if r.canceled {
		if d.breaker.IsHalfOpen() {
			d.breaker.RecordFailure() // hand the probe permit back
		}
		s.log.Info("delivery cancelled by shutdown", "request_id", reqID, "source", ev.Source, "id", ev.ID, "attempt", n)
		return
	}
	if r.breakerFailure() {
		d.breaker.RecordFailure()
	} else {
		d.breaker.RecordSuccess()
	}

	out := store.Outcome{Error: r.err}
	res := "delivered"
	switch r.verdict {
	case verdictDelivered:
		out.Status = store.StatusDelivered
	case verdictDead:
		out.Status, res = store.StatusDead, "dead"
	default:
		delay, dead := nextDelay(d.schedule, n, r.retryAfter, r.hasRA, s.random())
		if dead {
			out.Status, res = store.StatusDead, "dead"
		} else {
			out.Status, res = store.StatusPending, "retry"
			out.NextAt = s.now().Add(delay)
		}
	}
	a := store.Attempt{
		EventID:         ev.ID,
		StartedAt:       started,
		Duration:        r.duration,
		Status:          r.status,
		Category:        r.category,
		Error:           r.err,
		ResponseExcerpt: r.excerpt,
	}
	err := w.finish(ev.ID, a, out)

	attrs := []slog.Attr{
		slog.String("request_id", reqID),
		slog.String("source", ev.Source),
		slog.String("id", ev.ID),
		slog.String("event_id", ev.EventID),
		slog.Int("attempt", n),
		slog.Int("status", r.status),
		slog.String("category", r.category),
		slog.Float64("duration_ms", float64(r.duration)/float64(time.Millisecond)),
		slog.String("result", res),
	}
	if res == "retry" {
		attrs = append(attrs, slog.Time("next_at", out.NextAt))
	}
	if r.err != "" {
		attrs = append(attrs, slog.String("error", r.err))
	}
	level := slog.LevelInfo
	if res != "delivered" {
		level = slog.LevelWarn
	}
	switch {
	case errors.Is(err, store.ErrLeaseLost):
		// Another instance took the event after our lease expired; it
		// records its own attempt. Ours is dropped.
		attrs[8] = slog.String("result", "lease_lost")
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "delivery", attrs...)
		return
	case err != nil:
		attrs = append(attrs, slog.String("store_error", err.Error()))
		s.log.LogAttrs(context.Background(), slog.LevelError, "delivery", attrs...)
		return
	}
	s.log.LogAttrs(context.Background(), level, "delivery", attrs...)
	if m := s.metrics; m != nil {
		m.Deliveries.WithLabelValues(ev.Source, res).Inc()
		m.DeliveryDuration.WithLabelValues(ev.Source).Observe(r.duration.Seconds())
	}
}

// acquire waits for the breaker to let this delivery through. It gives up
// (leaving the lease to expire, or to Stop's Release) when waiting longer
// would leave too little of the lease for the attempt itself, or when the
// service stops.
func (w *worker) acquire(d *dest, claimedAt time.Time) bool {
	s := w.s
	deadline := claimedAt.Add(d.lease - d.timeout)
	for !d.breaker.TryAcquirePermit() {
		wait := d.breaker.RemainingDelay()
		if wait <= 0 {
			wait = s.poll // half-open, probe already out
		}
		if s.now().Add(wait).After(deadline) {
			s.log.Debug("delivery deferred: breaker open", "source", w.name)
			return false
		}
		t := time.NewTimer(wait)
		select {
		case <-s.runCtx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
	return true
}

// finish records the attempt, retrying a failing store briefly. It does not
// retry ErrLeaseLost, ErrNotFound or ErrInvalid.
func (w *worker) finish(id string, a store.Attempt, out store.Outcome) error {
	s := w.s
	var err error
	for try := 0; try < 3; try++ {
		if try > 0 {
			time.Sleep(time.Duration(try) * 100 * time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), storeOpTimeout)
		err = s.st.Finish(ctx, id, s.owner, a, out, s.now())
		cancel()
		if err == nil || errors.Is(err, store.ErrLeaseLost) || errors.Is(err, store.ErrNotFound) ||
			errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrClosed) {
			return err
		}
	}
	return err
}
