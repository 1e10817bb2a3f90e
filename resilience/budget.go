package resilience

import "sync/atomic"

// retryBudget caps retries in flight at a share of calls in flight, with a
// floor so a quiet upstream can still retry.
//
// failsafe-go's budget was measured first: it counts calls sleeping in
// backoff as executions and checks only after the sleep, which let a
// 100%-failing upstream see 1.39 attempts per request at a 20% budget
// (TestOutageAmplification/budget_alone). This one takes the permit when the
// retry is decided, before sleeping, and holds it until the call ends.
type retryBudget struct {
	ratio   float64
	min     int64
	calls   atomic.Int64 // calls in flight
	retries atomic.Int64 // calls in flight that are retrying
}

func (b *retryBudget) tryAcquire() bool {
	r := b.retries.Add(1)
	if r <= b.min || float64(r) <= b.ratio*float64(b.calls.Load()) {
		return true
	}
	b.retries.Add(-1)
	return false
}

func (b *retryBudget) release() { b.retries.Add(-1) }
