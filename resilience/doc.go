// Package resilience builds an http.RoundTripper that applies one upstream's
// reliability policy to every call: total deadline, concurrency limit, rate
// limit, circuit breaker, retries with exponential backoff, full jitter and a
// retry budget, and a per-attempt timeout, in that order from the outside in.
//
// Failures are classified (see Category) so that callers and fender's proxy
// can answer "what failed and why" without parsing error strings.
package resilience
