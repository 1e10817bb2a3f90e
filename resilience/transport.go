package resilience

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"

	"github.com/failsafe-go/failsafe-go/adaptivethrottler"
	"github.com/failsafe-go/failsafe-go/bulkhead"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"golang.org/x/time/rate"

	"github.com/fender-dev/fender/internal/netguard"
)

// IdempotencyKeyHeader marks a POST or PATCH as safe to retry under
// Retry.UnsafeMethods "idempotent_only".
const IdempotencyKeyHeader = "Idempotency-Key"

// DefaultMaxReplayBody is the largest request body buffered so that it can
// be sent again on a retry. Larger bodies stream through once.
const DefaultMaxReplayBody = 1 << 20

// Options are the parts of a Transport that are not policy.
type Options struct {
	// Base sends each attempt. Nil means a tuned http.Transport whose dialer
	// refuses private addresses unless AllowPrivateNetwork is set.
	Base http.RoundTripper
	// AllowPrivateNetwork lets the default Base dial loopback, private and
	// link-local addresses. It has no effect when Base is set.
	AllowPrivateNetwork bool
	// MaxReplayBody caps the request body kept for retries; 0 means
	// DefaultMaxReplayBody, negative means never buffer.
	MaxReplayBody int64
	// Rand returns a uniform value in [0,1) for backoff jitter; nil uses
	// math/rand/v2.
	Rand func() float64
	// NonCritical upstreams are throttled sooner (see Throttle).
	NonCritical bool
}

// Transport is an http.RoundTripper applying one upstream's Policy. It is
// safe for concurrent use; its zero value is not usable, call New.
type Transport struct {
	name     string
	policy   Policy
	base     http.RoundTripper
	maxBody  int64
	rand     func() float64
	retryOn  retrySet
	bulkhead bulkhead.Bulkhead[*attempt]
	limiter  *rate.Limiter
	breaker  circuitbreaker.CircuitBreaker[*attempt]
	throttle adaptivethrottler.AdaptiveThrottler[*attempt] // nil when off
	budget   *retryBudget

	pausedUntil atomic.Int64 // unix nanoseconds; a 429 with Retry-After pauses the upstream
	inFlight    atomic.Int64
}

var _ http.RoundTripper = (*Transport)(nil)

type retrySet struct {
	connect, timeout bool
	status           [600]bool
}

// New returns a Transport named name (used in errors and reports) applying
// p. It fails if p does not validate.
func New(name string, p Policy, opts Options) (*Transport, error) {
	if errs := p.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("upstream %s: %w", name, errors.Join(errs...))
	}
	t := &Transport{name: name, policy: p, base: opts.Base, maxBody: opts.MaxReplayBody, rand: opts.Rand}
	if t.base == nil {
		t.base = NewHTTPTransport(opts.AllowPrivateNetwork)
	}
	if t.maxBody == 0 {
		t.maxBody = DefaultMaxReplayBody
	}
	if t.rand == nil {
		t.rand = rand.Float64
	}
	for _, s := range p.Retry.On {
		on, _ := ParseRetryOn(s) // validated above
		t.retryOn.connect = t.retryOn.connect || on.Connect
		t.retryOn.timeout = t.retryOn.timeout || on.Timeout
		if on.Status > 0 {
			t.retryOn.status[on.Status] = true
		}
	}
	if p.Concurrency.Max > 0 {
		t.bulkhead = bulkhead.New[*attempt](uint(p.Concurrency.Max))
	}
	if p.RateLimit.RPS > 0 {
		burst := p.RateLimit.Burst
		if burst < 1 {
			burst = 1
		}
		t.limiter = rate.NewLimiter(rate.Limit(p.RateLimit.RPS), burst)
	}
	if k := p.Throttle.K; k > 0 {
		if opts.NonCritical {
			k = 1 + (k-1)/2
		}
		t.throttle = adaptivethrottler.NewBuilder[*attempt]().
			WithFailureRateThreshold(1-1/k, 10, p.Throttle.Window).
			WithMaxRejectionRate(0.95).
			Build()
	}
	t.breaker = circuitbreaker.NewBuilder[*attempt]().
		WithFailureRateThreshold(float64(p.Breaker.FailureRate), uint(p.Breaker.MinRequests), p.Breaker.Window).
		WithDelay(p.Breaker.OpenFor).
		WithJitterFactor(0.1).
		WithSuccessThreshold(uint(p.Breaker.HalfOpenProbes)).
		Build()
	t.budget = &retryBudget{ratio: float64(p.Retry.Budget), min: 3}
	return t, nil
}

// NewHTTPTransport returns the http.Transport fender uses for upstreams:
// keep-alive pools sized for a proxy, no transparent compression (bodies
// pass through as sent), and a dialer that refuses private addresses unless
// allowPrivate.
func NewHTTPTransport(allowPrivate bool) *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = netguard.Control
	}
	return &http.Transport{
		Proxy:                 nil, // fender is the proxy: never chain to HTTP_PROXY
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
}

// Name returns the upstream name given to New.
func (t *Transport) Name() string { return t.name }

// Policy returns the policy the Transport applies.
func (t *Transport) Policy() Policy { return t.policy }

// InFlight returns the number of calls currently holding the transport,
// response bodies still streaming included.
func (t *Transport) InFlight() int64 { return t.inFlight.Load() }

// BreakerState returns "closed", "open" or "half-open".
func (t *Transport) BreakerState() string {
	switch t.breaker.State() {
	case circuitbreaker.OpenState:
		return "open"
	case circuitbreaker.HalfOpenState:
		return "half-open"
	default:
		return "closed"
	}
}

// PausedFor returns how long the upstream stays paused after a 429 with
// Retry-After, or 0.
func (t *Transport) PausedFor(now time.Time) time.Duration {
	if d := time.Duration(t.pausedUntil.Load() - now.UnixNano()); d > 0 {
		return d
	}
	return 0
}

// CloseIdleConnections closes idle connections of the default base.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// Timing is the egress timing of one attempt. Zero fields did not happen
// (a reused connection has no DNS, connect or TLS time).
type Timing struct {
	DNS, Connect, TLS, TTFB time.Duration
}

// Report describes one call through the Transport, for logs and metrics.
type Report struct {
	Upstream string
	// Attempts is the number of attempts sent upstream.
	Attempts int
	// Category is the final outcome: an upstream response category or the
	// category of the Error returned.
	Category Category
	// StatusCode of the response returned, 0 when an Error was returned.
	StatusCode int
	// Outcomes holds the category of every attempt, in order.
	Outcomes []Category
	// Timing of the last attempt.
	Timing Timing
}

// RoundTrip implements http.RoundTripper. Failures the chain answers itself
// are returned as *Error; upstream responses, errors included, come back
// unchanged.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var r Report
	return t.Do(req, &r)
}

// Do is RoundTrip that also fills rep.
func (t *Transport) Do(req *http.Request, rep *Report) (*http.Response, error) {
	rep.Upstream = t.name
	rep.Attempts = 0
	rep.Outcomes = rep.Outcomes[:0]
	fail := func(c Category, retryAfter time.Duration, err error) (*http.Response, error) {
		closeBody(req)
		rep.Category = c
		return nil, &Error{Category: c, Upstream: t.name, Attempts: rep.Attempts, RetryAfter: retryAfter, Err: err}
	}

	// Concurrency, outermost after the deadline: a full bulkhead fails fast.
	if t.bulkhead != nil && !t.bulkhead.TryAcquirePermit() {
		return fail(CategoryConcurrencyLimited, 0, ErrConcurrencyLimited)
	}
	c := &call{t: t, req: req, rep: rep}
	t.inFlight.Add(1)
	ok := false
	defer func() {
		if !ok {
			c.release()
		}
	}()
	now := time.Now()
	if d := t.PausedFor(now); d > 0 {
		return fail(CategoryRateLimited, d, ErrUpstreamPaused)
	}
	if t.limiter != nil && !t.limiter.AllowN(now, 1) {
		r := t.limiter.ReserveN(now, 1)
		d := r.DelayFrom(now)
		r.CancelAt(now)
		return fail(CategoryRateLimited, d, ErrRateLimited)
	}
	if t.throttle != nil && !t.throttle.TryAcquirePermit() {
		// A rejected call is still a request the upstream did not accept:
		// the SRE formula counts it, so the throttle does not relax just
		// because it is rejecting.
		t.throttle.RecordFailure()
		return fail(CategoryThrottled, time.Second, ErrThrottled)
	}
	if !t.breaker.TryAcquirePermit() {
		d := t.breaker.RemainingDelay()
		return fail(CategoryCircuitOpen, d, ErrCircuitOpen)
	}

	ctx, cancel := context.WithTimeoutCause(req.Context(), t.policy.Timeout.Total, ErrTotalTimeout)
	c.cancel = cancel
	c.ctx = ctx
	c.deadline, _ = ctx.Deadline()
	if err := c.prepareBody(); err != nil {
		t.recordBreaker(CategoryClientError)
		return fail(CategoryCanceled, 0, fmt.Errorf("read request body: %w", err))
	}

	t.budget.calls.Add(1)
	a, err := c.run()
	t.budget.calls.Add(-1)
	t.recordThrottle(rep.Outcomes)
	if c.retrying {
		t.budget.release()
	}
	if a == nil || err != nil {
		// Canceled while waiting for the next attempt.
		c.closeLast()
		cat, cause := c.ctxFailure(err)
		t.recordBreaker(cat)
		return fail(cat, 0, cause)
	}
	if a.budgetDenied {
		c.closeLast()
		t.recordBreaker(CategoryBudgetExhausted)
		return fail(CategoryBudgetExhausted, 0, ErrBudgetExhausted)
	}
	t.recordBreaker(a.category)
	rep.Category = a.category
	rep.Timing = a.timing
	if a.err != nil {
		return fail(a.category, 0, a.err)
	}
	rep.StatusCode = a.resp.StatusCode
	a.resp.Body = &releaseBody{ReadCloser: a.resp.Body, c: c}
	ok = true
	return a.resp, nil
}

// recordThrottle feeds the adaptive throttle with every attempt: an
// attempt the upstream answered without 5xx or 429 is an accept.
func (t *Transport) recordThrottle(outcomes []Category) {
	if t.throttle == nil {
		return
	}
	for _, o := range outcomes {
		switch o {
		case CategoryServerError, CategoryRateLimited, CategoryTimeout, CategoryConnect:
			t.throttle.RecordFailure()
		case CategoryCanceled, CategoryForbiddenDestination:
		default:
			t.throttle.RecordSuccess()
		}
	}
}

// ThrottleRate returns the adaptive throttle's current rejection rate.
func (t *Transport) ThrottleRate() float64 {
	if t.throttle == nil {
		return 0
	}
	return t.throttle.RejectionRate()
}

// recordBreaker feeds the breaker with the final outcome of a call.
func (t *Transport) recordBreaker(c Category) {
	switch c {
	case CategoryServerError, CategoryTimeout, CategoryConnect, CategoryBudgetExhausted:
		t.breaker.RecordFailure()
	case CategoryCanceled, CategoryForbiddenDestination:
		// Says nothing of the upstream's health, but a half-open probe
		// permit must be given back.
		if t.breaker.IsHalfOpen() {
			t.breaker.RecordFailure()
		}
	default:
		t.breaker.RecordSuccess()
	}
}

// call is the state of one Do.
type call struct {
	t        *Transport
	req      *http.Request
	rep      *Report
	ctx      context.Context
	cancel   context.CancelFunc
	deadline time.Time

	body       []byte // replayable body; nil with oneShot == nil means no body
	oneShot    io.ReadCloser
	replayable bool

	last     *attempt
	retrying bool // holds a retry budget permit
	released atomic.Bool
}

// prepareBody decides whether the request body can be sent again: bodies
// up to maxBody are buffered, larger or unknown ones stream once.
func (c *call) prepareBody() error {
	b := c.req.Body
	if b == nil || b == http.NoBody {
		c.replayable = true
		return nil
	}
	if c.req.GetBody != nil {
		c.replayable = true
		return nil
	}
	max := c.t.maxBody
	if max < 0 || c.req.ContentLength > max {
		c.oneShot = b
		return nil
	}
	var buf bytes.Buffer
	if c.req.ContentLength > 0 {
		buf.Grow(int(c.req.ContentLength))
	}
	n, err := io.Copy(&buf, io.LimitReader(b, max+1))
	if err != nil {
		return err
	}
	if n > max {
		c.oneShot = &multiReadCloser{Reader: io.MultiReader(bytes.NewReader(buf.Bytes()), b), c: b}
		return nil
	}
	b.Close()
	c.body = buf.Bytes()
	c.replayable = true
	return nil
}

type multiReadCloser struct {
	io.Reader
	c io.Closer
}

func (m *multiReadCloser) Close() error { return m.c.Close() }

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// attempt is the result of one attempt, the unit the retry policy sees.
type attempt struct {
	resp      *http.Response
	err       error
	category  Category
	retryable bool
	// budgetDenied: a retry was called for but the budget is spent.
	budgetDenied bool
	delay        time.Duration
	timing       Timing
	cancel       context.CancelCauseFunc // ends the attempt's context; called when its body closes
}

func (c *call) closeLast() {
	if a := c.last; a != nil {
		if a.resp != nil {
			// Drain a little so the connection can be reused.
			io.CopyN(io.Discard, a.resp.Body, 4<<10)
			a.resp.Body.Close()
		}
		if a.cancel != nil {
			a.cancel(nil)
		}
		c.last = nil
	}
}

func (c *call) ctxFailure(err error) (Category, error) {
	if cause := context.Cause(c.ctx); cause != nil {
		if errors.Is(cause, ErrTotalTimeout) {
			return CategoryTimeout, ErrTotalTimeout
		}
		return CategoryCanceled, cause
	}
	return CategoryConnect, err
}

// run sends attempts until one is final, sleeping the delay each
// retryable attempt chose. The retry decisions (classification, method
// safety, Retry-After, deadline, budget) are made in attempt; this loop only
// sequences them. It returns the last attempt, or the context's error when
// the call ended while waiting.
func (c *call) run() (*attempt, error) {
	var timer *time.Timer
	for n := 1; ; n++ {
		a := c.attempt(n)
		if !a.retryable {
			return a, nil
		}
		if timer == nil {
			timer = time.NewTimer(a.delay)
			defer timer.Stop()
		} else {
			timer.Reset(a.delay)
		}
		select {
		case <-timer.C:
		case <-c.ctx.Done():
			return a, c.ctx.Err()
		}
	}
}

func (c *call) attempt(n int) *attempt {
	c.closeLast()
	t := c.t
	c.rep.Attempts = n

	actx, acancel := context.WithCancelCause(c.ctx)
	timer := time.AfterFunc(t.policy.Timeout.Attempt, func() { acancel(ErrAttemptTimeout) })
	a := &attempt{cancel: acancel}
	c.last = a

	tr := tracerPool.Get().(*tracer)
	tr.reset()
	// A shallow copy: headers are shared, never modified by the transport.
	out := c.req.WithContext(httptrace.WithClientTrace(actx, &tr.ct))
	switch {
	case c.oneShot != nil:
		out.Body = c.oneShot
		c.oneShot = nil // a second attempt would find it consumed
		c.replayable = false
	case c.body != nil:
		out.Body = io.NopCloser(bytes.NewReader(c.body))
		out.GetBody = nil
	case c.req.GetBody != nil && n > 1:
		body, err := c.req.GetBody()
		if err != nil {
			timer.Stop()
			a.err, a.category = err, CategoryConnect
			c.rep.Outcomes = append(c.rep.Outcomes, a.category)
			return a
		}
		out.Body = body
	}
	resp, err := t.base.RoundTrip(out)
	if !timer.Stop() && err == nil {
		// The attempt timed out just as headers arrived: the body is cut.
		resp.Body.Close()
		resp, err = nil, ErrAttemptTimeout
	}
	a.timing = tr.timing()
	if err != nil {
		if cause := context.Cause(actx); cause != nil {
			// Prefer the reason the context ended for over the transport's
			// wording of it.
			if errors.Is(cause, ErrAttemptTimeout) || errors.Is(cause, ErrTotalTimeout) || c.ctx.Err() != nil {
				err = cause
			}
		}
		acancel(nil)
		a.err = err
		cl := classifyError(err, tr.wrote.Load())
		if errors.Is(err, ErrTotalTimeout) {
			cl = errClass{category: CategoryTimeout}
		}
		a.category = cl.category
		c.rep.Outcomes = append(c.rep.Outcomes, a.category)
		transient := cl.transient && ((cl.category == CategoryConnect && t.retryOn.connect) ||
			(cl.category == CategoryTimeout && t.retryOn.timeout))
		if transient && (cl.beforeSend || c.safeToRepeat()) {
			c.decideRetry(a, n, 0, false)
		}
		// Not pooled: a dial may still be running and report into it.
		return a
	}
	tr.release()
	a.resp = resp
	a.category = ClassifyStatus(resp.StatusCode)
	c.rep.Outcomes = append(c.rep.Outcomes, a.category)
	code := resp.StatusCode
	var ra time.Duration
	hasRA := false
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		ra, hasRA = ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		if hasRA && code == http.StatusTooManyRequests && ra > 0 {
			t.pause(ra)
		}
	}
	if code < 600 && t.retryOn.status[code] && c.safeToRepeat() {
		c.decideRetry(a, n, ra, hasRA)
	}
	return a
}

// maxPause bounds the upstream-wide pause a single 429 can cause.
const maxPause = time.Hour

func (t *Transport) pause(d time.Duration) {
	d = min(d, maxPause)
	until := time.Now().Add(d).UnixNano()
	for {
		cur := t.pausedUntil.Load()
		if until <= cur || t.pausedUntil.CompareAndSwap(cur, until) {
			return
		}
	}
}

// safeToRepeat reports whether the request may be sent again after it may
// have reached the upstream.
func (c *call) safeToRepeat() bool {
	if !c.replayable {
		return false
	}
	if idempotentMethod(c.req.Method) {
		return true
	}
	switch c.t.policy.Retry.UnsafeMethods {
	case UnsafeAlways:
		return true
	case UnsafeIdempotentOnly:
		return c.req.Header.Get(IdempotencyKeyHeader) != ""
	}
	return false
}

// decideRetry marks a retryable and sets its delay: Retry-After when the
// upstream sent one (capped by retry_after_max), else full-jitter backoff.
// When the wait would pass the total deadline it does not retry: the caller
// gets this attempt's answer at once.
func (c *call) decideRetry(a *attempt, n int, ra time.Duration, hasRA bool) {
	if !c.replayable || n >= c.t.policy.Retry.MaxAttempts {
		return
	}
	p := c.t.policy.Retry
	var d time.Duration
	if hasRA {
		d = min(ra, p.RetryAfterMax)
	} else {
		d = c.t.backoff(n)
	}
	// Leave room for at least a sliver of the next attempt.
	if time.Now().Add(d).Add(time.Millisecond).After(c.deadline) {
		return
	}
	if !c.retrying {
		if !c.t.budget.tryAcquire() {
			a.budgetDenied = true
			return
		}
		c.retrying = true
	}
	a.retryable = true
	a.delay = d
}

// backoff returns the full-jitter delay before attempt n+1:
// uniform(0, min(max, base*2^(n-1))).
func (t *Transport) backoff(n int) time.Duration {
	b := t.policy.Retry.Backoff
	ceil := b.Max
	if n-1 < 62 {
		if e := b.Base << (n - 1); e > 0 && e < ceil {
			ceil = e
		}
	}
	return time.Duration(t.rand() * float64(ceil))
}

func (c *call) release() {
	if c.released.Swap(true) {
		return
	}
	if c.cancel != nil {
		c.cancel()
	}
	if c.t.bulkhead != nil {
		c.t.bulkhead.ReleasePermit()
	}
	c.t.inFlight.Add(-1)
}

// releaseBody gives back the call's concurrency permit and contexts when
// the response body is closed.
type releaseBody struct {
	io.ReadCloser
	c    *call
	once sync.Once
}

func (b *releaseBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() {
		if a := b.c.last; a != nil && a.cancel != nil {
			a.cancel(nil)
		}
		b.c.release()
	})
	return err
}

// tracer collects httptrace timings of one attempt. Callbacks may run on
// the transport's dial goroutines — even after the attempt got a response
// over another connection — hence the atomics. Tracers are pooled with
// their ClientTrace built once: building eight closures per attempt was the
// largest allocation of a proxied request (bench/profile.sh). A tracer goes
// back to the pool only when no DNS lookup, dial or TLS handshake it saw
// start is still running.
type tracer struct {
	ct                            httptrace.ClientTrace
	start                         atomic.Int64 // unix nanoseconds
	dnsStart, connStart, tlsStart atomic.Int64 // nanoseconds since start
	dns, conn, tls, ttfb          atomic.Int64
	pending                       atomic.Int32 // lookups, dials and handshakes under way
	wrote                         atomic.Bool
}

var tracerPool = sync.Pool{New: func() any { return newTracer() }}

func newTracer() *tracer {
	tr := &tracer{}
	tr.ct = httptrace.ClientTrace{
		DNSStart: func(httptrace.DNSStartInfo) { tr.pending.Add(1); tr.dnsStart.Store(tr.since()) },
		DNSDone: func(httptrace.DNSDoneInfo) {
			tr.dns.Store(tr.since() - tr.dnsStart.Load())
			tr.pending.Add(-1)
		},
		ConnectStart: func(string, string) { tr.pending.Add(1); tr.connStart.Store(tr.since()) },
		ConnectDone: func(string, string, error) {
			tr.conn.Store(tr.since() - tr.connStart.Load())
			tr.pending.Add(-1)
		},
		TLSHandshakeStart: func() { tr.pending.Add(1); tr.tlsStart.Store(tr.since()) },
		TLSHandshakeDone: func(tls.ConnectionState, error) {
			tr.tls.Store(tr.since() - tr.tlsStart.Load())
			tr.pending.Add(-1)
		},
		WroteHeaders:         func() { tr.wrote.Store(true) },
		GotFirstResponseByte: func() { tr.ttfb.Store(tr.since()) },
	}
	return tr
}

func (tr *tracer) reset() {
	tr.start.Store(time.Now().UnixNano())
	tr.dnsStart.Store(0)
	tr.connStart.Store(0)
	tr.tlsStart.Store(0)
	tr.dns.Store(0)
	tr.conn.Store(0)
	tr.tls.Store(0)
	tr.ttfb.Store(0)
	tr.wrote.Store(false)
}

// release returns the tracer to the pool unless a callback may still come.
func (tr *tracer) release() {
	if tr.pending.Load() == 0 {
		tracerPool.Put(tr)
	}
}

func (tr *tracer) since() int64 { return time.Now().UnixNano() - tr.start.Load() }

func (tr *tracer) timing() Timing {
	return Timing{
		DNS:     time.Duration(tr.dns.Load()),
		Connect: time.Duration(tr.conn.Load()),
		TLS:     time.Duration(tr.tls.Load()),
		TTFB:    time.Duration(tr.ttfb.Load()),
	}
}
