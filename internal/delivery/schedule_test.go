package delivery

import (
	"testing"
	"time"
)

func TestNextDelay(t *testing.T) {
	ms := time.Millisecond
	sched := []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute}
	tests := []struct {
		name     string
		schedule []time.Duration
		n        int // failed attempt
		ra       time.Duration
		hasRA    bool
		r        float64
		want     time.Duration
		dead     bool
	}{
		{name: "after 1st: step 1, no jitter at r=0.5", schedule: sched, n: 1, r: 0.5, want: 5 * time.Second},
		{name: "low jitter bound", schedule: sched, n: 1, r: 0, want: 4 * time.Second},
		{name: "high jitter bound", schedule: sched, n: 1, r: 0.999999, want: 5999999 * time.Microsecond},
		{name: "after 2nd: step 2", schedule: sched, n: 2, r: 0.5, want: 5 * time.Minute},
		{name: "after 3rd: last step", schedule: sched, n: 3, r: 0.25, want: 27 * time.Minute},
		{name: "after last: dead", schedule: sched, n: 4, r: 0.5, dead: true},
		{name: "replayed after exhaustion: cycle restarts", schedule: sched, n: 5, r: 0.5, want: 5 * time.Second},
		{name: "second cycle exhausted", schedule: sched, n: 8, r: 0.5, dead: true},
		{name: "zero step stays zero", schedule: []time.Duration{0, 0, 0}, n: 1, r: 0.9, want: 0},
		{name: "single step: first failure is fatal", schedule: []time.Duration{0}, n: 1, dead: true},
		{name: "empty schedule: dead", schedule: nil, n: 1, dead: true},
		{name: "Retry-After shorter than jittered step: step wins", schedule: sched, n: 1, ra: time.Second, hasRA: true, r: 0.5, want: 5 * time.Second},
		{name: "Retry-After between steps: honoured", schedule: sched, n: 1, ra: time.Minute, hasRA: true, r: 0.5, want: time.Minute},
		{name: "Retry-After beyond next step: capped at next step", schedule: sched, n: 1, ra: time.Hour, hasRA: true, r: 0.5, want: 5 * time.Minute},
		{name: "Retry-After at last step: capped at the step", schedule: sched, n: 3, ra: 2 * time.Hour, hasRA: true, r: 0, want: 30 * time.Minute},
		{name: "Retry-After under jitter max: jitter wins", schedule: sched, n: 3, ra: 31 * time.Minute, hasRA: true, r: 0.999999, want: 2159999280 * time.Microsecond},
		{name: "Retry-After on last attempt: still dead", schedule: sched, n: 4, ra: time.Second, hasRA: true, dead: true},
		{name: "Retry-After 0 (past date)", schedule: sched, n: 1, ra: 0, hasRA: true, r: 0.5, want: 5 * time.Second},
		{name: "short test schedule", schedule: []time.Duration{0, 10 * ms, 20 * ms}, n: 1, ra: time.Second, hasRA: true, r: 0.5, want: 20 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, dead := nextDelay(tt.schedule, tt.n, tt.ra, tt.hasRA, tt.r)
			if dead != tt.dead {
				t.Fatalf("dead = %v, want %v", dead, tt.dead)
			}
			if !dead && absDiff(got, tt.want) > time.Microsecond {
				t.Errorf("delay = %v, want %v", got, tt.want)
			}
		})
	}
}

func absDiff(a, b time.Duration) time.Duration {
	if a > b {
		return a - b
	}
	return b - a
}

func TestJitterSpread(t *testing.T) {
	for _, r := range []float64{0, 0.1, 0.5, 0.9, 0.9999, -1, 2} {
		d := jitter(time.Second, r)
		if d < 800*time.Millisecond || d >= 1200*time.Millisecond {
			t.Errorf("jitter(1s, %v) = %v, outside [0.8s, 1.2s)", r, d)
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		code     int
		verdict  verdict
		category string
	}{
		{200, verdictDelivered, ""},
		{204, verdictDelivered, ""},
		{299, verdictDelivered, ""},
		{301, verdictDead, CategoryClientError},
		{400, verdictDead, CategoryClientError},
		{401, verdictDead, CategoryClientError},
		{404, verdictDead, CategoryClientError},
		{410, verdictDead, CategoryClientError},
		{422, verdictDead, CategoryClientError},
		{408, verdictRetry, CategoryClientError},
		{409, verdictRetry, CategoryClientError},
		{425, verdictRetry, CategoryClientError},
		{429, verdictRetry, CategoryRateLimited},
		{500, verdictRetry, CategoryServerError},
		{503, verdictRetry, CategoryServerError},
		{599, verdictRetry, CategoryServerError},
	}
	for _, tt := range tests {
		v, c := classify(tt.code)
		if v != tt.verdict || c != tt.category {
			t.Errorf("classify(%d) = %v, %q; want %v, %q", tt.code, v, c, tt.verdict, tt.category)
		}
	}
	// 408 and 429 say the app is struggling; 409 does not.
	for code, want := range map[int]bool{408: true, 429: true, 503: true, 409: false, 400: false, 200: false} {
		r := result{status: code}
		_, r.category = classify(code)
		if got := r.breakerFailure(); got != want {
			t.Errorf("breakerFailure(%d) = %v, want %v", code, got, want)
		}
	}
}
