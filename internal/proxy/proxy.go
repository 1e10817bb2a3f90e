package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/fender-dev/fender/internal/config"
	"github.com/fender-dev/fender/internal/store"
	"github.com/fender-dev/fender/internal/telemetry"
	"github.com/fender-dev/fender/resilience"
)

// Response headers fender adds.
const (
	HeaderUpstream  = "Fender-Upstream"
	HeaderAttempts  = "Fender-Attempts"
	HeaderRequestID = "X-Request-Id"
	HeaderError     = "Fender-Error"
	HeaderFallback  = "Fender-Fallback"
)

// Options are the collaborators of a Proxy. Logger and Metrics are
// required; Tracing may be nil (no trace context).
type Options struct {
	Logger  *slog.Logger
	Metrics *telemetry.Metrics
	Tracing *telemetry.Tracing
	// Base, when set, replaces every upstream's default http.Transport
	// (benchmarks use it to answer without a network).
	Base http.RoundTripper
	// Idempotency records keys (nil: keys are forwarded, not enforced).
	Idempotency store.IdempotencyStore
	// Jobs stores Prefer: respond-async requests (nil: async refused).
	Jobs JobStore
	// Cache keeps responses for stale-if-error (nil: no cache).
	Cache store.CacheStore
	// Retention is how long idempotency records are kept.
	Retention time.Duration
	// Now is the clock (nil: time.Now); cache ages and records use it.
	Now func() time.Time
	// OnEnqueue, when set, is called after an async job is stored, so the
	// worker can start it at once. It must not block.
	OnEnqueue func()
}

// Proxy is the egress http.Handler.
type Proxy struct {
	opts       Options
	upstreams  atomic.Pointer[map[string]*upstream]
	mu         sync.Mutex    // serialises Reload
	cacheSlots chan struct{} // bounds background cache writes

	inFlight    atomic.Int64 // proxied calls in flight, all upstreams
	maxInFlight atomic.Int64 // limits.max_in_flight; 0: no limit
}

func (p *Proxy) now() time.Time {
	if p.opts.Now != nil {
		return p.opts.Now()
	}
	return time.Now()
}

// upstream is one configured upstream with its live policy chain.
type upstream struct {
	name     string
	nameHdr  []string // Fender-Upstream value, shared by every response
	cfg      config.Upstream
	base     *url.URL
	rt       *resilience.Transport
	headers  [][2]string // injected, canonical keys
	requests map[resilience.Category]prometheus.Counter
	attempts map[resilience.Category]prometheus.Counter
	duration prometheus.Observer
	degraded map[string]prometheus.Counter // kind: stale, fallback, shed
	keyFrom  config.FieldRef               // where idempotency keys come from; zero: none
	cache    *cacheSettings                // nil: no stale-if-error cache
}

// New builds a Proxy for the upstreams of cfg.
func New(cfg *config.Config, opts Options) (*Proxy, error) {
	if opts.Retention <= 0 {
		opts.Retention = 168 * time.Hour
	}
	p := &Proxy{opts: opts, cacheSlots: make(chan struct{}, 16)}
	if err := p.Reload(cfg); err != nil {
		return nil, err
	}
	opts.Metrics.Registry.MustRegister(&collector{p: p})
	return p, nil
}

// Reload replaces the upstreams with those of cfg. An upstream whose
// configuration did not change keeps its transport, so its breaker state,
// pause and connections survive; in-flight requests finish on the
// transport they started with.
func (p *Proxy) Reload(cfg *config.Config) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := map[string]*upstream{}
	if cur := p.upstreams.Load(); cur != nil {
		old = *cur
	}
	p.maxInFlight.Store(int64(cfg.Limits.MaxInFlight))
	next := make(map[string]*upstream, len(cfg.Upstreams))
	for name, uc := range cfg.Upstreams {
		if o, ok := old[name]; ok && reflect.DeepEqual(o.cfg, *uc) {
			next[name] = o
			continue
		}
		u, err := p.newUpstream(name, uc)
		if err != nil {
			return err
		}
		next[name] = u
	}
	p.upstreams.Store(&next)
	for name, o := range old {
		if next[name] != o {
			o.rt.CloseIdleConnections()
		}
	}
	return nil
}

func (p *Proxy) newUpstream(name string, uc *config.Upstream) (*upstream, error) {
	base, err := url.Parse(uc.URL)
	if err != nil {
		return nil, fmt.Errorf("upstream %s: url: %w", name, err)
	}
	rt, err := resilience.New(name, uc.Policy, resilience.Options{
		Base: p.opts.Base, AllowPrivateNetwork: uc.AllowPrivateNetwork, NonCritical: !uc.Critical,
	})
	if err != nil {
		return nil, err
	}
	u := &upstream{name: name, nameHdr: []string{name}, cfg: *uc, base: base, rt: rt,
		requests: map[resilience.Category]prometheus.Counter{},
		attempts: map[resilience.Category]prometheus.Counter{},
		duration: p.opts.Metrics.UpstreamDuration.WithLabelValues(name),
		degraded: map[string]prometheus.Counter{},
	}
	for _, k := range []string{degradedStale, degradedFallback, degradedShed} {
		u.degraded[k] = p.opts.Metrics.Degraded.WithLabelValues(name, k)
	}
	for k, v := range uc.Headers {
		u.headers = append(u.headers, [2]string{http.CanonicalHeaderKey(k), v})
	}
	if u.keyFrom, err = config.ParseKeyFrom(uc.Idempotency.KeyFrom); err != nil {
		return nil, fmt.Errorf("upstream %s: idempotency.key_from: %w", name, err)
	}
	if uc.Cache.StaleIfError > 0 {
		u.cache = &cacheSettings{staleIfError: uc.Cache.StaleIfError, maxBytes: int64(uc.Cache.MaxBytes)}
	}
	for _, c := range allCategories {
		u.requests[c] = p.opts.Metrics.UpstreamRequests.WithLabelValues(name, string(c))
		u.attempts[c] = p.opts.Metrics.UpstreamAttempts.WithLabelValues(name, string(c))
	}
	return u, nil
}

var allCategories = []resilience.Category{
	resilience.CategoryOK, resilience.CategoryServerError, resilience.CategoryClientError, resilience.CategoryAuth,
	resilience.CategoryRateLimited, resilience.CategoryTimeout, resilience.CategoryConnect, resilience.CategoryCircuitOpen,
	resilience.CategoryBudgetExhausted, resilience.CategoryConcurrencyLimited, resilience.CategoryForbiddenDestination,
	resilience.CategoryCanceled, resilience.CategoryThrottled,
}

// Upstream returns the live transport of an upstream, for status pages.
func (p *Proxy) Upstream(name string) (*resilience.Transport, bool) {
	u, ok := (*p.upstreams.Load())[name]
	if !ok {
		return nil, false
	}
	return u.rt, true
}

// Names returns the configured upstream names.
func (p *Proxy) Names() []string {
	m := *p.upstreams.Load()
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	return names
}

// ServeHTTP proxies {upstream}/{path}.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqIDs := r.Header[HeaderRequestID]
	if len(reqIDs) != 1 || reqIDs[0] == "" || len(reqIDs[0]) > 200 {
		reqIDs = []string{newRequestID()}
		r.Header[HeaderRequestID] = reqIDs
	}
	reqID := reqIDs[0]
	w.Header()[HeaderRequestID] = reqIDs

	ctx := r.Context()
	var span trace.Span
	if t := p.opts.Tracing; t != nil {
		ctx = t.Propagator.Extract(ctx, propagation.HeaderCarrier(r.Header))
		ctx, span = t.Tracer.Start(ctx, "egress", trace.WithSpanKind(trace.SpanKindClient))
		defer span.End()
	}

	rec := logRecord{reqID: reqID, method: r.Method, start: start, span: span}
	name, rest, ok := splitRoute(r)
	rec.path = rest
	if !ok {
		p.answer(w, &rec, nil, CategoryBadRequest, 0, "request target must be an origin-form path /{upstream}/{path}; absolute URLs and CONNECT are not proxied")
		return
	}
	if name == jobsPrefix {
		p.serveJob(w, r, &rec, rest)
		return
	}
	rec.upstream = name
	u, ok := (*p.upstreams.Load())[name]
	if !ok {
		p.answer(w, &rec, nil, CategoryUnknownUpstream, 0, fmt.Sprintf("no upstream named %q is configured", name))
		return
	}
	w.Header()[HeaderUpstream] = u.nameHdr
	n := p.inFlight.Add(1)
	defer p.inFlight.Add(-1)
	if p.overloaded(n, u) {
		u.degraded[degradedShed].Inc()
		if u.fallbackFor(resilience.CategoryConcurrencyLimited) {
			p.fallback(w, &rec, u, resilience.CategoryConcurrencyLimited)
			return
		}
		p.answer(w, &rec, u, resilience.CategoryConcurrencyLimited, time.Second,
			"fender is overloaded (limits.max_in_flight); calls to non-critical upstreams are shed first")
		return
	}
	target, err := u.target(rest, r.URL.RawQuery)
	if err != nil {
		p.answer(w, &rec, u, CategoryBadRequest, 0, err.Error())
		return
	}
	removeHopHeaders(r.Header)

	x := &exchange{p: p, u: u, w: w, r: r, rec: &rec, ctx: ctx, target: target, rest: rest,
		callerAuth: r.Header.Get("Authorization") != ""}
	if !x.prepareIdempotency() {
		return
	}
	if wantsAsync(r.Header) {
		x.async()
		return
	}
	if !x.beginIdempotency() {
		return
	}
	if x.serveFresh() {
		return
	}
	x.forward()
}

// overloaded reports whether the n-th call in flight must be shed: past
// limits.max_in_flight for critical upstreams, past three quarters of it
// for non-critical ones, so critical calls keep a quarter to themselves.
func (p *Proxy) overloaded(n int64, u *upstream) bool {
	max := p.maxInFlight.Load()
	if max <= 0 {
		return false
	}
	if !u.cfg.Critical {
		max = max * 3 / 4
	}
	return n > max
}

// exchange is one proxied request on its way through the optional steps:
// idempotency, async, cache.
type exchange struct {
	p      *Proxy
	u      *upstream
	w      http.ResponseWriter
	r      *http.Request
	rec    *logRecord
	ctx    context.Context
	target *url.URL
	rest   string

	idemKey     string // empty: no idempotency for this request
	fingerprint string
	body        []byte // the buffered request body, when read
	bodyRead    bool
	idemHeld    bool // this request holds the idempotency lock
	callerAuth  bool // the caller sent its own Authorization
}

// send runs the request through the upstream's policy chain with the
// configured headers injected.
func (x *exchange) send() (*http.Response, *resilience.Report, error) {
	r, u := x.r, x.u
	u.inject(r.Header)
	if x.idemKey != "" && r.Header.Get(resilience.IdempotencyKeyHeader) == "" {
		// A key derived from the body still reaches the provider, which
		// deduplicates on it too.
		r.Header.Set(resilience.IdempotencyKeyHeader, x.idemKey)
	}
	if t := x.p.opts.Tracing; t != nil {
		r.Header.Del("Tracestate")
		t.Propagator.Inject(x.ctx, propagation.HeaderCarrier(r.Header))
	}
	out := (&http.Request{
		Method:        r.Method,
		URL:           x.target,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        r.Header,
		Body:          r.Body,
		ContentLength: r.ContentLength,
		Host:          x.target.Host,
	}).WithContext(x.ctx)
	if r.ContentLength == 0 {
		out.Body = nil
	}
	rep := new(resilience.Report)
	resp, err := u.do(out, rep, x.rec.start)
	x.rec.attempts = rep.Attempts
	x.rec.timing = rep.Timing
	return resp, rep, err
}

// inject sets the upstream's configured headers on h.
func (u *upstream) inject(h http.Header) {
	for _, kv := range u.headers {
		h[kv[0]] = []string{kv[1]}
	}
}

// do runs req through the upstream's policy chain and records its
// attempts and duration (since start) in the metrics. Live calls and async
// jobs both go through it.
func (u *upstream) do(req *http.Request, rep *resilience.Report, start time.Time) (*http.Response, error) {
	resp, err := u.rt.Do(req, rep)
	for _, o := range rep.Outcomes {
		if c := u.attempts[o]; c != nil {
			c.Inc()
		}
	}
	u.duration.Observe(time.Since(start).Seconds())
	return resp, err
}

// forward sends the request and answers with the upstream's response or,
// when there is none, with a stale cached response, the fallback or a
// problem.
func (x *exchange) forward() {
	p, u, w, rec := x.p, x.u, x.w, x.rec
	resp, rep, err := x.send()
	if err != nil {
		var fe *resilience.Error
		if !errors.As(err, &fe) {
			fe = &resilience.Error{Category: resilience.CategoryConnect, Attempts: rep.Attempts, Err: err}
		}
		if x.r.Context().Err() != nil {
			fe.Category = resilience.CategoryCanceled
		}
		x.releaseIdempotency()
		if fe.Category == resilience.CategoryThrottled || fe.Category == resilience.CategoryConcurrencyLimited {
			u.degraded[degradedShed].Inc()
		}
		if x.serveStale(fe.Category) {
			return
		}
		if u.fallbackFor(fe.Category) {
			p.fallback(w, rec, u, fe.Category)
			return
		}
		p.answer(w, rec, u, fe.Category, fe.RetryAfter, detail(fe))
		return
	}
	if rep.Category == resilience.CategoryServerError && x.u.cache != nil {
		if x.serveStaleInstead(resp) {
			x.completeIdempotency(resp, nil, false)
			return
		}
	}
	if u.fallbackFor(rep.Category) {
		resp.Body.Close()
		x.releaseIdempotency()
		p.fallback(w, rec, u, rep.Category)
		return
	}
	defer resp.Body.Close()
	rec.category = rep.Category
	rec.status = resp.StatusCode
	h := w.Header()
	removeHopHeaders(resp.Header)
	copyHeader(h, resp.Header)
	// fender's own headers win over an upstream's of the same name.
	h[HeaderUpstream] = u.nameHdr
	h[HeaderRequestID] = x.r.Header[HeaderRequestID]
	h[HeaderAttempts] = attemptsHeader(rep.Attempts)
	w.WriteHeader(resp.StatusCode)

	capture := x.captureFor(resp)
	var dst io.Writer = w
	if capture != nil {
		dst = capture.writer(w)
	}
	err = copyBody(dst, w, resp)
	if err != nil {
		rec.bodyErr = err
	}
	if capture != nil {
		capture.done(x, resp, err)
	}
	p.finish(rec, u)
}

// detail explains a failure without leaking upstream URLs or secrets.
func detail(fe *resilience.Error) string {
	switch fe.Category {
	case resilience.CategoryTimeout:
		if errors.Is(fe.Err, resilience.ErrTotalTimeout) {
			return "the total deadline passed before the upstream answered"
		}
		return "every attempt timed out"
	case resilience.CategoryCircuitOpen:
		return "the upstream failed too often recently; calls are refused until the breaker half-opens"
	case resilience.CategoryBudgetExhausted:
		return "the attempt failed and the retry budget for this upstream is spent"
	case resilience.CategoryConcurrencyLimited:
		return "the upstream's concurrency limit is reached"
	case resilience.CategoryRateLimited:
		if errors.Is(fe.Err, resilience.ErrUpstreamPaused) {
			return "the upstream answered 429 with Retry-After; calls are paused until then"
		}
		return "the local rate limit for this upstream is reached"
	case resilience.CategoryForbiddenDestination:
		return "the upstream resolves to a private or reserved address and allow_private_network is not set"
	case resilience.CategoryCanceled:
		return "the client closed the request"
	case resilience.CategoryConnect:
		if fe.Err != nil {
			return "could not reach the upstream: " + connectReason(fe.Err)
		}
	}
	return ""
}

// connectReason names the connect failure without addresses.
func connectReason(err error) string {
	s := err.Error()
	for _, r := range []string{"connection refused", "connection reset by peer", "no such host", "EOF", "tls", "certificate", "i/o timeout", "server misbehaving"} {
		if strings.Contains(s, r) {
			return r
		}
	}
	return "connection failed"
}

// target builds the upstream URL for the escaped path rest.
func (u *upstream) target(rest, rawQuery string) (*url.URL, error) {
	unescaped, err := url.PathUnescape(rest)
	if err != nil {
		return nil, fmt.Errorf("malformed path escape in %q", rest)
	}
	for seg := range strings.SplitSeq(unescaped, "/") {
		if seg == "." || seg == ".." {
			return nil, errors.New("dot segments (. and ..) are not allowed in proxied paths")
		}
	}
	if strings.ContainsFunc(rawQuery, func(r rune) bool { return r == '#' || r < 0x20 || r == 0x7f }) {
		return nil, errors.New("the query string holds a fragment or control character")
	}
	basePath := strings.TrimSuffix(u.base.Path, "/")
	baseRaw := strings.TrimSuffix(u.base.EscapedPath(), "/")
	t := &url.URL{Scheme: u.base.Scheme, Host: u.base.Host, Path: basePath + "/" + unescaped, RawQuery: rawQuery}
	if raw := baseRaw + "/" + rest; raw != t.Path {
		t.RawPath = raw
	}
	return t, nil
}

// splitRoute returns the upstream name and the escaped rest of the path:
// /{upstream}/{path}, or, when the request names its upstream in the
// Fender-Upstream header, the whole path (SDKs such as stripe-go insist the
// path starts with /v1, so a prefix would break them). Either way only a
// configured upstream can be chosen; only origin-form targets are routed,
// and fender never takes an absolute URL or the Host header as a
// destination.
func splitRoute(r *http.Request) (name, rest string, ok bool) {
	if r.Method == http.MethodConnect || !strings.HasPrefix(r.RequestURI, "/") {
		return "", "", false
	}
	p := strings.TrimPrefix(r.URL.EscapedPath(), "/")
	if hv := r.Header[HeaderUpstream]; len(hv) > 0 {
		r.Header.Del(HeaderUpstream)
		return hv[0], p, true
	}
	name, rest, _ = strings.Cut(p, "/")
	return name, rest, true
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copyBody streams the upstream body to dst (the client, or a capture in
// front of it), flushing w as it goes when the response is a stream (no
// Content-Length, or event-stream).
func copyBody(dst io.Writer, w http.ResponseWriter, resp *http.Response) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	flush := resp.ContentLength < 0 || strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream")
	rc := http.NewResponseController(w)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
			if flush {
				rc.Flush()
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// attemptsValues are the Fender-Attempts values of the common counts,
// shared so a response does not allocate one.
var attemptsValues = func() [][]string {
	v := make([][]string, 11)
	for i := range v {
		v[i] = []string{strconv.Itoa(i)}
	}
	return v
}()

func attemptsHeader(n int) []string {
	if n >= 0 && n < len(attemptsValues) {
		return attemptsValues[n]
	}
	return []string{strconv.Itoa(n)}
}

func newRequestID() string {
	var b [32]byte
	const hex = "0123456789abcdef"
	a, c := rand.Uint64(), rand.Uint64()
	for i := range 16 {
		b[i] = hex[(a>>(60-4*i))&0xf]
		b[16+i] = hex[(c>>(60-4*i))&0xf]
	}
	return string(b[:])
}

// Kinds of fender_degraded_total.
const (
	degradedStale    = "stale"
	degradedFallback = "fallback"
	degradedShed     = "shed"
)

// fallbackFor reports whether a call that ended in category c gets the
// upstream's fallback: non-critical upstreams with a fallback, for failures
// of the upstream or of fender's protection of it — not for the caller's
// own mistakes (4xx, unknown upstream, canceled).
func (u *upstream) fallbackFor(c resilience.Category) bool {
	if u.cfg.Critical || u.cfg.Fallback == nil {
		return false
	}
	switch c {
	case resilience.CategoryTimeout, resilience.CategoryConnect, resilience.CategoryCircuitOpen,
		resilience.CategoryBudgetExhausted, resilience.CategoryConcurrencyLimited, resilience.CategoryRateLimited,
		resilience.CategoryThrottled, resilience.CategoryServerError:
		return true
	}
	return false
}

// fallback answers with the upstream's configured fallback response.
// Fender-Error still names what failed.
func (p *Proxy) fallback(w http.ResponseWriter, rec *logRecord, u *upstream, c resilience.Category) {
	fb := u.cfg.Fallback
	rec.category = c
	rec.status = fb.Status
	rec.fallback = true
	u.degraded[degradedFallback].Inc()
	h := w.Header()
	if fb.ContentType != "" {
		h.Set("Content-Type", fb.ContentType)
	}
	h.Set(HeaderFallback, "true")
	h.Set(HeaderError, string(c))
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(fb.Body)))
	if rec.attempts > 0 {
		h[HeaderAttempts] = attemptsHeader(rec.attempts)
	}
	w.WriteHeader(fb.Status)
	io.WriteString(w, fb.Body)
	p.finish(rec, u)
}

// answer writes a problem for a category fender answers itself.
func (p *Proxy) answer(w http.ResponseWriter, rec *logRecord, u *upstream, c resilience.Category, retryAfter time.Duration, detail string) {
	rec.category = c
	rec.status = Status(c)
	if rec.attempts > 0 {
		w.Header()[HeaderAttempts] = attemptsHeader(rec.attempts)
	}
	WriteProblem(w, newProblem(c, rec.upstream, rec.attempts, rec.reqID, detail), retryAfter)
	p.finish(rec, u)
}

// logRecord collects what the request's log line says.
type logRecord struct {
	reqID, method, path, upstream string
	start                         time.Time
	span                          trace.Span
	status, attempts              int
	category                      resilience.Category
	timing                        resilience.Timing
	bodyErr                       error
	fallback, stale, replayed     bool
	cache                         string // hit or stale when served from the cache
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (p *Proxy) finish(rec *logRecord, u *upstream) {
	if u != nil {
		if c := u.requests[rec.category]; c != nil {
			c.Inc()
		}
	}
	level := slog.LevelInfo
	if rec.status >= 500 || rec.bodyErr != nil {
		level = slog.LevelWarn
	}
	lg := p.opts.Logger
	if !lg.Enabled(context.Background(), level) {
		return
	}
	attrs := make([]slog.Attr, 0, 16)
	attrs = append(attrs,
		slog.String("request_id", rec.reqID),
	)
	if rec.span != nil {
		if sc := rec.span.SpanContext(); sc.HasTraceID() {
			attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
		}
	}
	attrs = append(attrs,
		slog.String("upstream", rec.upstream),
		slog.String("method", rec.method),
		slog.String("path", "/"+rec.path),
		slog.Int("status", rec.status),
		slog.String("category", string(rec.category)),
		slog.Int("attempts", rec.attempts),
		slog.Float64("duration_ms", ms(time.Since(rec.start))),
		slog.Float64("dns_ms", ms(rec.timing.DNS)),
		slog.Float64("connect_ms", ms(rec.timing.Connect)),
		slog.Float64("tls_ms", ms(rec.timing.TLS)),
		slog.Float64("ttfb_ms", ms(rec.timing.TTFB)),
	)
	if rec.fallback {
		attrs = append(attrs, slog.Bool("fallback", true))
	}
	if rec.cache != "" {
		attrs = append(attrs, slog.String("cache", rec.cache))
	}
	if rec.replayed {
		attrs = append(attrs, slog.Bool("replayed", true))
	}
	if rec.bodyErr != nil {
		attrs = append(attrs, slog.String("body_error", rec.bodyErr.Error()))
	}
	lg.LogAttrs(context.Background(), level, "proxy", attrs...)
}

// collector exports per-upstream gauges read at scrape time.
type collector struct{ p *Proxy }

var (
	breakerDesc  = prometheus.NewDesc("fender_upstream_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open.", []string{"upstream"}, nil)
	inFlightDesc = prometheus.NewDesc("fender_upstream_in_flight", "Calls in flight, response bodies still streaming included.", []string{"upstream"}, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- breakerDesc
	ch <- inFlightDesc
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for name, u := range *c.p.upstreams.Load() {
		state := 0.0
		switch u.rt.BreakerState() {
		case "half-open":
			state = 1
		case "open":
			state = 2
		}
		ch <- prometheus.MustNewConstMetric(breakerDesc, prometheus.GaugeValue, state, name)
		ch <- prometheus.MustNewConstMetric(inFlightDesc, prometheus.GaugeValue, float64(u.rt.InFlight()), name)
	}
}
