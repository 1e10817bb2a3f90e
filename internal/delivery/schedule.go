package delivery

import "time"

// jitterFraction is the ± spread applied to every schedule step.
const jitterFraction = 0.2

// jitter spreads d uniformly over [d·0.8, d·1.2) using r, a number in [0, 1).
func jitter(d time.Duration, r float64) time.Duration {
	if d <= 0 {
		return 0
	}
	if r < 0 {
		r = 0
	} else if r >= 1 {
		r = 0.999999
	}
	f := 1 - jitterFraction + 2*jitterFraction*r
	return time.Duration(float64(d) * f)
}

// position returns where attempt n (1-based, counted over the event's whole
// life) falls in schedule: 1 … len(schedule). The schedule restarts after
// each full cycle, so an event replayed after it ran out of attempts gets the
// whole schedule again.
func position(schedule []time.Duration, n int) int {
	if n < 1 {
		n = 1
	}
	return (n-1)%len(schedule) + 1
}

// nextDelay decides what follows a failed, retryable attempt n (1-based).
// schedule[i] is the delay before attempt i+1, so after attempt n the next
// one waits schedule[n] with ±20% jitter (r in [0, 1)). A Retry-After of
// retryAfter (when hasRetryAfter) stretches that wait to at most the step
// after it: max(jittered, min(retryAfter, max(schedule[n], schedule[n+1]))).
// dead is true when the schedule is exhausted.
func nextDelay(schedule []time.Duration, n int, retryAfter time.Duration, hasRetryAfter bool, r float64) (delay time.Duration, dead bool) {
	if len(schedule) == 0 {
		return 0, true
	}
	pos := position(schedule, n)
	if pos >= len(schedule) {
		return 0, true
	}
	step := schedule[pos]
	delay = jitter(step, r)
	if hasRetryAfter && retryAfter > 0 {
		limit := step
		if pos+1 < len(schedule) && schedule[pos+1] > limit {
			limit = schedule[pos+1]
		}
		delay = max(delay, min(retryAfter, limit))
	}
	return delay, false
}
