package resilience

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Policy is the whole resilience configuration of one upstream. It is the
// struct fender's YAML config decodes into (yaml tags), and the struct Go
// programs pass to New to get the same chain as an http.RoundTripper.
//
// The zero value is not useful; start from DefaultPolicy.
type Policy struct {
	Timeout     Timeouts    `yaml:"timeout" json:"timeout"`
	Retry       Retry       `yaml:"retry" json:"retry"`
	Breaker     Breaker     `yaml:"breaker" json:"breaker"`
	Concurrency Concurrency `yaml:"concurrency" json:"concurrency"`
	RateLimit   RateLimit   `yaml:"rate_limit" json:"rate_limit"`
	Throttle    Throttle    `yaml:"throttle" json:"throttle"`
}

// Throttle is adaptive client-side throttling (Google SRE book, "Handling
// Overload"): over Window, calls are rejected locally with probability
// max(0, (requests − K·accepts) / (requests + 1)), so a struggling upstream
// sees fewer requests, not more. K 0 turns it off; a lower K throttles
// sooner. Non-critical upstreams use 1+(K−1)/2 so they are throttled first.
type Throttle struct {
	K      float64       `yaml:"k" json:"k"`
	Window time.Duration `yaml:"window" json:"window"`
}

// Timeouts bounds one attempt and the whole call, retries and waits included.
type Timeouts struct {
	Attempt time.Duration `yaml:"attempt" json:"attempt"`
	Total   time.Duration `yaml:"total" json:"total"`
}

// Retry says which failures are retried, how often and how far apart.
type Retry struct {
	MaxAttempts int     `yaml:"max_attempts" json:"max_attempts"`
	Backoff     Backoff `yaml:"backoff" json:"backoff"`
	// On lists the transient conditions: "connect", "timeout" and HTTP
	// status codes ("429", "503").
	On []string `yaml:"on" json:"on"`
	// UnsafeMethods is one of UnsafeIdempotentOnly, UnsafeAlways, UnsafeNever.
	UnsafeMethods string        `yaml:"unsafe_methods" json:"unsafe_methods"`
	RetryAfterMax time.Duration `yaml:"retry_after_max" json:"retry_after_max"`
	// Budget is the largest share of in-flight calls that may be retries
	// (at least three concurrent retries are always allowed).
	Budget Percent `yaml:"budget" json:"budget"`
}

// Values of Retry.UnsafeMethods.
const (
	UnsafeIdempotentOnly = "idempotent_only"
	UnsafeAlways         = "always"
	UnsafeNever          = "never"
)

// Backoff is exponential with full jitter: uniform(0, min(Max, Base*2^n)).
type Backoff struct {
	Base time.Duration `yaml:"base" json:"base"`
	Max  time.Duration `yaml:"max" json:"max"`
}

// Breaker opens when the failure rate over Window reaches FailureRate with
// at least MinRequests calls, stays open for OpenFor (with jitter), then lets
// HalfOpenProbes calls through to decide.
type Breaker struct {
	FailureRate    Percent       `yaml:"failure_rate" json:"failure_rate"`
	MinRequests    int           `yaml:"min_requests" json:"min_requests"`
	Window         time.Duration `yaml:"window" json:"window"`
	OpenFor        time.Duration `yaml:"open_for" json:"open_for"`
	HalfOpenProbes int           `yaml:"half_open_probes" json:"half_open_probes"`
}

// Concurrency is a bulkhead: at most Max calls in flight; a full bulkhead
// fails fast. Max 0 means unlimited.
type Concurrency struct {
	Max int `yaml:"max" json:"max"`
}

// RateLimit is a token bucket; RPS 0 turns it off.
type RateLimit struct {
	RPS   float64 `yaml:"rps" json:"rps"`
	Burst int     `yaml:"burst" json:"burst"`
}

// DefaultPolicy returns the defaults of fender's configuration reference.
func DefaultPolicy() Policy {
	return Policy{
		Timeout: Timeouts{Attempt: 5 * time.Second, Total: 15 * time.Second},
		Retry: Retry{
			MaxAttempts:   3,
			Backoff:       Backoff{Base: 100 * time.Millisecond, Max: 5 * time.Second},
			On:            []string{"connect", "timeout", "429", "502", "503", "504"},
			UnsafeMethods: UnsafeIdempotentOnly,
			RetryAfterMax: 30 * time.Second,
			Budget:        0.20,
		},
		Breaker: Breaker{
			FailureRate:    0.50,
			MinRequests:    20,
			Window:         30 * time.Second,
			OpenFor:        10 * time.Second,
			HalfOpenProbes: 1,
		},
		Concurrency: Concurrency{Max: 100},
		Throttle:    Throttle{K: 2, Window: time.Minute},
	}
}

// Validate lists every problem of p. Each error names the key it is about,
// relative to the upstream ("retry.max_attempts: must be at least 1").
func (p Policy) Validate() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if p.Timeout.Attempt <= 0 {
		bad("timeout.attempt", "must be greater than 0")
	}
	if p.Timeout.Total <= 0 {
		bad("timeout.total", "must be greater than 0")
	}
	if p.Timeout.Attempt > 0 && p.Timeout.Total > 0 && p.Timeout.Attempt > p.Timeout.Total {
		bad("timeout.attempt", "%s is longer than timeout.total %s", p.Timeout.Attempt, p.Timeout.Total)
	}
	if p.Retry.MaxAttempts < 1 {
		bad("retry.max_attempts", "must be at least 1 (1 means no retries)")
	}
	if p.Retry.Backoff.Base <= 0 {
		bad("retry.backoff.base", "must be greater than 0")
	}
	if p.Retry.Backoff.Max < p.Retry.Backoff.Base {
		bad("retry.backoff.max", "%s is shorter than retry.backoff.base %s", p.Retry.Backoff.Max, p.Retry.Backoff.Base)
	}
	for _, on := range p.Retry.On {
		if _, err := ParseRetryOn(on); err != nil {
			bad("retry.on", "%v", err)
		}
	}
	switch p.Retry.UnsafeMethods {
	case UnsafeIdempotentOnly, UnsafeAlways, UnsafeNever:
	default:
		bad("retry.unsafe_methods", "%q is not one of idempotent_only, always, never", p.Retry.UnsafeMethods)
	}
	if p.Retry.RetryAfterMax < 0 {
		bad("retry.retry_after_max", "must not be negative")
	}
	if p.Retry.Budget < 0 || p.Retry.Budget > 1 {
		bad("retry.budget", "must be between 0%% and 100%%")
	}
	if p.Breaker.FailureRate <= 0 || p.Breaker.FailureRate > 1 {
		bad("breaker.failure_rate", "must be above 0%% and at most 100%%")
	}
	if p.Breaker.MinRequests < 1 {
		bad("breaker.min_requests", "must be at least 1")
	}
	if p.Breaker.Window <= 0 {
		bad("breaker.window", "must be greater than 0")
	}
	if p.Breaker.OpenFor <= 0 {
		bad("breaker.open_for", "must be greater than 0")
	}
	if p.Breaker.HalfOpenProbes < 1 {
		bad("breaker.half_open_probes", "must be at least 1")
	}
	if p.Concurrency.Max < 0 {
		bad("concurrency.max", "must not be negative (0 means unlimited)")
	}
	if p.RateLimit.RPS < 0 {
		bad("rate_limit.rps", "must not be negative (0 means off)")
	}
	if p.RateLimit.Burst < 0 {
		bad("rate_limit.burst", "must not be negative")
	}
	if p.Throttle.K != 0 && p.Throttle.K < 1 {
		bad("throttle.k", "must be 0 (off) or at least 1")
	}
	if p.Throttle.K != 0 && p.Throttle.Window <= 0 {
		bad("throttle.window", "must be greater than 0")
	}
	return errs
}

// FieldError is a problem with one configuration key.
type FieldError struct {
	Key string // dotted path, e.g. "retry.backoff.base"
	Msg string
}

func (e *FieldError) Error() string { return e.Key + ": " + e.Msg }

// RetryOn is one parsed entry of Retry.On.
type RetryOn struct {
	Connect bool
	Timeout bool
	Status  int
}

// ParseRetryOn parses "connect", "timeout" or an HTTP status code.
func ParseRetryOn(s string) (RetryOn, error) {
	switch s {
	case "connect":
		return RetryOn{Connect: true}, nil
	case "timeout":
		return RetryOn{Timeout: true}, nil
	}
	code, err := strconv.Atoi(s)
	if err != nil || code < 100 || code > 599 {
		return RetryOn{}, fmt.Errorf("%q is not connect, timeout or an HTTP status 100-599", s)
	}
	return RetryOn{Status: code}, nil
}

// Percent is a fraction from 0 to 1 written as "20%" (or 0.2).
type Percent float64

// UnmarshalText parses "20%", "12.5%" or a plain fraction "0.2".
func (p *Percent) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if rest, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("invalid percentage %q", s)
		}
		*p = Percent(v / 100)
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("invalid percentage %q (write 20%%)", s)
	}
	*p = Percent(v)
	return nil
}

// MarshalText writes the percentage as "20%".
func (p Percent) MarshalText() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(p)*100, 'g', 10, 64) + "%"), nil
}
