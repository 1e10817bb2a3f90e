package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fender-dev/fender/internal/config"
	"github.com/fender-dev/fender/internal/proxy"
	"github.com/fender-dev/fender/internal/store"
	"github.com/fender-dev/fender/internal/telemetry"
	"github.com/fender-dev/fender/resilience"
	"github.com/fender-dev/fender/webhook"
)

// Executor runs one call to an upstream through its whole policy chain
// (retries included) with the configured headers injected; failures fender
// answers itself are *resilience.Error. *proxy.Proxy is the Executor of
// fender serve.
type Executor interface {
	Execute(ctx context.Context, upstream, method, pathQuery string, header http.Header, body []byte) (*store.StoredResponse, resilience.Report, bool, error)
}

var _ Executor = (*proxy.Proxy)(nil)

// JobOptions configure Jobs. The zero value works: every field has a
// default.
type JobOptions struct {
	// Logger receives one line "job" per attempt; nil discards.
	Logger *slog.Logger
	// Metrics, when set, gets fender_jobs_total and a fender_queue_depth
	// collector for kinds "job" and "callback".
	Metrics *telemetry.Metrics
	// Owner is the lease owner id, unique per process; empty means
	// hostname-pid-random.
	Owner string
	// Now is the clock for schedules, leases and timestamps; nil means
	// time.Now.
	Now func() time.Time
	// PollInterval is how often the loop looks for due jobs it was not
	// notified of; 0 means 250ms.
	PollInterval time.Duration
	// Lease is how long a claimed job stays reserved; 0 means
	// max(2×timeout.total, 30s) per upstream, and 30s for callbacks.
	Lease time.Duration
	// Client posts callbacks; nil means a client without environment proxy
	// or redirects. Callback URLs are given by your own services on the
	// proxy listener, so no private-address guard applies (loopback is
	// allowed).
	Client *http.Client
	// Rand returns numbers in [0, 1) for jitter; nil means math/rand/v2. It
	// is called under a lock, so it need not be safe for concurrent use.
	Rand func() float64
	// Concurrency bounds the request jobs of one upstream in flight on this
	// instance; 0 means DefaultJobConcurrency.
	Concurrency int
}

// Defaults of JobOptions and fixed limits of the job worker.
const (
	DefaultJobConcurrency = 8
	// CallbackConcurrency bounds the callbacks in flight on one instance.
	CallbackConcurrency = 16
	// CallbackTimeout bounds one callback POST.
	CallbackTimeout = 10 * time.Second
	// minDefer is the shortest wait of a job deferred by an open breaker
	// or a paused upstream.
	minDefer = time.Second
	// retiredClaim is how many jobs of removed upstreams one round ends.
	retiredClaim = 32
	// unknownScanEvery is how often pending jobs are scanned for upstreams
	// that are not configured.
	unknownScanEvery = time.Minute
)

// Job-level error categories (besides resilience's and the callback ones).
const (
	CategoryUnknownUpstream = "unknown_upstream"
	categoryOK              = string(resilience.CategoryOK)
)

// Jobs runs async jobs (PRODUCT.md §4 "Async outbound delivery"): requests
// stored by the proxy for Prefer: respond-async, and the callbacks that
// carry their results. Build it with NewJobs; its methods are safe for
// concurrent use.
//
// # Claiming
//
// One loop claims due jobs after a Notify, when a job finishes, and every
// PollInterval. Request jobs are claimed per upstream, at most
// Concurrency in flight each. Critical upstreams are claimed first; the
// jobs of non-critical upstreams (critical: false) are claimed only in a
// round where no critical upstream had work: none claimed a job and none
// was at its concurrency limit. So non-critical jobs wait, rather than
// compete, while critical work is queued (PRODUCT.md §6); they may starve
// for as long as critical work keeps coming. Callbacks are claimed in the
// same round, whatever the upstream, at most CallbackConcurrency in
// flight.
//
// # Request attempts
//
// An attempt is one Executor.Execute: the upstream's whole policy chain,
// its own retries, timeouts and budget included. Then:
//   - a 2xx or 3xx response: succeeded, the response stored;
//   - 408, 425, 429, or a status in the upstream's retry.on: retried;
//   - any other response (4xx, a 5xx not in retry.on): failed, the
//     response stored;
//   - timeout, connect, budget_exhausted, throttled, concurrency_limited
//     (and other failures without a response): retried;
//   - circuit_open, or rate_limited with a Retry-After (the local rate
//     limit, or the upstream-wide pause after a 429): deferred until then
//     (at least 1s) without recording an attempt, and the upstream is not
//     claimed again on this instance until then. An open breaker or a
//     paused upstream never burns a job's attempts;
//   - forbidden_destination, or an upstream that is no longer configured:
//     dead at once with the reason.
//
// A retried job is due again after async.schedule as deliveries are: the
// wait after attempt n is schedule[n] ±20%, a Retry-After on the response
// stretches it up to the next step, and after len(schedule) attempts the
// job is dead. The position restarts after a replay.
//
// An upstream removed by Reload, or found unconfigured in a scan of pending
// jobs (at start, then every minute), has its due jobs claimed and ended
// dead. Instances sharing one database must therefore agree on upstream
// names.
//
// # Callbacks
//
// When a request job with a Fender-Callback URL ends (succeeded, failed or
// dead), FinishJob stores a callback job in the same transaction, its body
// the JSON of proxy.NewJobView of the final state. A callback is a POST to
// the URL with that body, Content-Type: application/json, Webhook-Id (the
// callback job id, the same on every retry), Webhook-Timestamp,
// Webhook-Signature (Standard Webhooks v1 with the upstream's
// async.signing_secret, when set), Fender-Job-Id (the request job id) and
// Fender-Attempt, bounded by CallbackTimeout, redirects not followed. 2xx
// ends it succeeded; anything else is retried on the upstream's
// async.schedule, then dead. A callback whose upstream is no longer
// configured is dead at once (its signing secret is unknown).
//
// # Stop, leases and reload
//
// Stop stops claiming, waits for attempts in flight until its context is
// done (then cancels them, recording nothing), and releases every lease of
// Owner. A lost lease (store.ErrLeaseLost) drops the attempt: another
// instance took the job. Reload swaps upstream settings.
//
// # Observability
//
// One log line "job" per attempt with request_id, kind, id, upstream,
// method, path (without query), attempt, status, category, attempts (sent
// upstream within the attempt), duration_ms, the egress timing, result and
// next_at or error. fender_jobs_total{upstream,result} counts results
// succeeded, failed, dead, retry and deferred for request jobs, and
// callback_succeeded, callback_retry and callback_dead for callbacks.
// fender_queue_depth{kind="job"|"callback",state} is read from the store at
// scrape time.
type Jobs struct {
	st       store.JobStore
	ex       Executor
	log      *slog.Logger
	metrics  *telemetry.Metrics
	owner    string
	now      func() time.Time
	client   *http.Client
	poll     time.Duration
	lease    time.Duration
	perUp    int
	settings atomic.Pointer[jobSettings]
	wake     chan struct{}

	randMu sync.Mutex
	rand   func() float64

	mu          sync.Mutex
	inflight    map[string]int       // request jobs in flight by upstream
	cbInflight  int                  // callbacks in flight
	pausedUntil map[string]time.Time // upstream: claim nothing before
	retired     map[string]bool      // upstream names known to be unconfigured
	started     bool
	stopping    bool

	runCtx     context.Context // ends the claim loop
	runCancel  context.CancelFunc
	sendCtx    context.Context // aborts attempts in flight once Stop runs out of time
	sendCancel context.CancelFunc
	running    sync.WaitGroup // attempts
	loops      sync.WaitGroup // the claim loop

	stopOnce sync.Once
	stopped  chan struct{}
	stopErr  error
}

// jobUpstream is the job settings of one upstream; immutable.
type jobUpstream struct {
	name     string
	critical bool
	schedule []time.Duration
	retryOn  map[int]bool
	signer   *webhook.StandardSigner // nil: callbacks unsigned
	lease    time.Duration
}

// jobSettings is every upstream's job settings; Reload swaps it whole.
type jobSettings struct {
	ups      map[string]*jobUpstream
	critical []string // sorted names
	other    []string // sorted names of non-critical upstreams
}

// NewJobs checks every upstream's async settings in cfg and returns Jobs
// that do nothing until Start.
func NewJobs(cfg *config.Config, st store.JobStore, ex Executor, opts JobOptions) (*Jobs, error) {
	if st == nil || ex == nil {
		return nil, errors.New("delivery: jobs need a store and an executor")
	}
	j := &Jobs{
		st: st, ex: ex, log: opts.Logger, metrics: opts.Metrics, owner: opts.Owner, now: opts.Now,
		client: opts.Client, poll: opts.PollInterval, lease: opts.Lease, perUp: opts.Concurrency, rand: opts.Rand,
		wake:        make(chan struct{}, 1),
		inflight:    map[string]int{},
		pausedUntil: map[string]time.Time{},
		retired:     map[string]bool{},
		stopped:     make(chan struct{}),
	}
	if j.log == nil {
		j.log = slog.New(slog.DiscardHandler)
	}
	if j.owner == "" {
		j.owner = newOwner()
	}
	if j.now == nil {
		j.now = time.Now
	}
	if j.client == nil {
		j.client = newClient()
	}
	if j.poll <= 0 {
		j.poll = DefaultPollInterval
	}
	if j.perUp <= 0 {
		j.perUp = DefaultJobConcurrency
	}
	if j.rand == nil {
		j.rand = mathrand.Float64
	}
	set, err := j.build(cfg)
	if err != nil {
		return nil, err
	}
	j.settings.Store(set)
	if j.metrics != nil {
		j.metrics.Registry.MustRegister(&jobDepthCollector{st: st, log: j.log})
	}
	return j, nil
}

// Owner returns the lease owner id of j.
func (j *Jobs) Owner() string { return j.owner }

// build derives the job settings of every upstream of cfg, or reports every
// upstream whose async settings are unusable.
func (j *Jobs) build(cfg *config.Config) (*jobSettings, error) {
	set := &jobSettings{ups: map[string]*jobUpstream{}}
	var errs []error
	for name := range cfg.Upstreams {
		uc, ok := cfg.Upstream(name)
		if !ok {
			continue
		}
		u := &jobUpstream{name: name, critical: uc.Critical, retryOn: map[int]bool{}}
		u.schedule = slices.Clone(uc.Async.Schedule)
		if len(u.schedule) == 0 {
			u.schedule = config.DefaultSchedule()
		}
		for _, s := range uc.Retry.On {
			if on, err := resilience.ParseRetryOn(s); err == nil && on.Status != 0 {
				u.retryOn[on.Status] = true
			}
		}
		if uc.Async.SigningSecret != "" {
			var err error
			if u.signer, err = webhook.NewStandardSigner(uc.Async.SigningSecret); err != nil {
				errs = append(errs, fmt.Errorf("delivery: upstream %s: async.signing_secret: %w", name, err))
				continue
			}
		}
		u.lease = j.lease
		if u.lease <= 0 {
			u.lease = max(2*uc.Timeout.Total, minLease)
		}
		set.ups[name] = u
		if u.critical {
			set.critical = append(set.critical, name)
		} else {
			set.other = append(set.other, name)
		}
	}
	sort.Strings(set.critical)
	sort.Strings(set.other)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return set, nil
}

func (j *Jobs) callbackLease() time.Duration {
	if j.lease > 0 {
		return j.lease
	}
	return max(2*CallbackTimeout, minLease)
}

func (j *Jobs) random() float64 {
	j.randMu.Lock()
	defer j.randMu.Unlock()
	return j.rand()
}

// Start launches the claim loop. Cancelling ctx stops claiming, as Stop
// does, but does not abort attempts in flight; call Stop to wait for them
// and release leases. Start after Stop, or a second Start, does nothing.
func (j *Jobs) Start(ctx context.Context) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.started || j.stopping {
		return
	}
	j.started = true
	j.runCtx, j.runCancel = context.WithCancel(ctx)
	j.sendCtx, j.sendCancel = context.WithCancel(context.WithoutCancel(ctx))
	j.loops.Add(1)
	go j.run()
}

// Notify wakes the claim loop so a just-enqueued job runs at once. It never
// blocks.
func (j *Jobs) Notify() {
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

// Reload applies cfg's upstreams from the next claim on: new upstreams are
// claimed, removed ones have their pending jobs ended dead, changed ones
// use their new schedule, criticality and signing secret. Wire it after the
// proxy's Reload, so that a job of a new upstream never reaches a proxy that
// does not know it yet. On error nothing changes.
func (j *Jobs) Reload(cfg *config.Config) error {
	set, err := j.build(cfg)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.stopping {
		return ErrStopped
	}
	old := j.settings.Load()
	for name := range old.ups {
		if set.ups[name] == nil {
			j.retired[name] = true
			delete(j.pausedUntil, name)
		}
	}
	for name := range set.ups {
		delete(j.retired, name)
	}
	j.settings.Store(set)
	j.Notify()
	return nil
}

// Stop stops claiming, waits for attempts in flight until ctx is done (then
// cancels them, recording nothing for them), and releases every lease of
// this owner so another instance takes the jobs at once. It is safe to call
// twice; later calls wait for the first and return its result.
func (j *Jobs) Stop(ctx context.Context) error {
	j.stopOnce.Do(func() {
		defer close(j.stopped)
		j.mu.Lock()
		j.stopping = true
		started := j.started
		j.mu.Unlock()
		var errs []error
		if started {
			j.runCancel()
			j.loops.Wait() // no new attempts after this
			if err := drain(ctx, &j.running, j.sendCancel); err != nil {
				errs = append(errs, fmt.Errorf("delivery: stop: jobs in flight cancelled: %w", err))
			}
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeOpTimeout)
		defer cancel()
		if err := j.st.ReleaseJobs(rctx, j.owner); err != nil {
			errs = append(errs, fmt.Errorf("delivery: release job leases: %w", err))
		}
		j.stopErr = errors.Join(errs...)
	})
	<-j.stopped
	return j.stopErr
}

// run is the claim loop.
func (j *Jobs) run() {
	defer j.loops.Done()
	timer := time.NewTimer(j.poll)
	defer timer.Stop()
	var lastScan time.Time
	for {
		if j.runCtx.Err() != nil {
			return
		}
		if time.Since(lastScan) >= unknownScanEvery {
			j.scanUnknown()
			lastScan = time.Now()
		}
		if j.round() {
			continue
		}
		timer.Reset(j.poll)
		select {
		case <-j.runCtx.Done():
			return
		case <-j.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// round claims what is due and free, and reports whether some claim filled
// every free slot (so there may be more at once).
func (j *Jobs) round() (more bool) {
	set := j.settings.Load()
	now := j.now()
	claimGroup := func(names []string) (busy bool) {
		for _, name := range names {
			u := set.ups[name]
			j.mu.Lock()
			free := j.perUp - j.inflight[name]
			paused := now.Before(j.pausedUntil[name])
			j.mu.Unlock()
			if paused {
				continue
			}
			if free <= 0 {
				busy = true
				continue
			}
			jobs := j.claim([]string{store.JobRequest}, []string{name}, free, u.lease, now)
			for i := range jobs {
				j.launch(name, false, func() { j.runRequest(u, &jobs[i]) })
			}
			busy = busy || len(jobs) > 0
			more = more || len(jobs) == free
		}
		return busy
	}
	if !claimGroup(set.critical) {
		claimGroup(set.other)
	}

	j.mu.Lock()
	retired := make([]string, 0, len(j.retired))
	for name := range j.retired {
		retired = append(retired, name)
	}
	cbFree := CallbackConcurrency - j.cbInflight
	j.mu.Unlock()
	if len(retired) > 0 {
		sort.Strings(retired)
		jobs := j.claim([]string{store.JobRequest}, retired, retiredClaim, minLease, now)
		for i := range jobs {
			j.launch("", false, func() { j.runRequest(nil, &jobs[i]) })
		}
		more = more || len(jobs) == retiredClaim
	}
	if cbFree > 0 {
		jobs := j.claim([]string{store.JobCallback}, nil, cbFree, j.callbackLease(), now)
		for i := range jobs {
			j.launch("", true, func() { j.runCallback(&jobs[i]) })
		}
		more = more || len(jobs) == cbFree
	}
	return more
}

func (j *Jobs) claim(kinds, upstreams []string, limit int, lease time.Duration, now time.Time) []store.Job {
	jobs, err := j.st.ClaimJobs(j.runCtx, kinds, upstreams, j.owner, limit, lease, now)
	if err != nil && j.runCtx.Err() == nil {
		j.log.Warn("job claim failed", "kinds", kinds, "upstreams", upstreams, "err", err)
	}
	return jobs
}

// launch runs f in its own goroutine, counted against upstream's (or the
// callbacks') concurrency.
func (j *Jobs) launch(upstream string, callback bool, f func()) {
	j.mu.Lock()
	if callback {
		j.cbInflight++
	} else if upstream != "" {
		j.inflight[upstream]++
	}
	j.mu.Unlock()
	j.running.Add(1)
	go func() {
		defer func() {
			j.mu.Lock()
			if callback {
				j.cbInflight--
			} else if upstream != "" {
				j.inflight[upstream]--
			}
			j.mu.Unlock()
			j.running.Done()
			j.Notify()
		}()
		f()
	}()
}

// scanUnknown looks at one page of pending request jobs for upstreams
// that are not configured, so their jobs are claimed and ended dead.
func (j *Jobs) scanUnknown() {
	ctx, cancel := context.WithTimeout(j.runCtx, storeOpTimeout)
	defer cancel()
	jobs, _, err := j.st.ListJobs(ctx, store.JobFilter{Kind: store.JobRequest, Status: store.JobPending, Limit: store.MaxLimit})
	if err != nil {
		if j.runCtx.Err() == nil {
			j.log.Warn("job scan failed", "err", err)
		}
		return
	}
	set := j.settings.Load()
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, jb := range jobs {
		if set.ups[jb.Upstream] == nil && !j.retired[jb.Upstream] {
			j.retired[jb.Upstream] = true
			j.log.Warn("pending jobs for an upstream that is not configured: they will be ended dead", "upstream", jb.Upstream)
		}
	}
}

// jobVerdict is what one attempt means for its job.
type jobVerdict int

const (
	jobSucceeded jobVerdict = iota
	jobFailed               // a final response that is not a success
	jobRetry                // transient: next schedule step, or dead
	jobDead                 // retrying cannot help
	jobDeferred             // breaker open or upstream paused: no attempt recorded
)

// jobResult is one attempt of a job as it happened.
type jobResult struct {
	verdict    jobVerdict
	status     int
	category   string
	err        string
	excerpt    string
	response   *store.StoredResponse
	duration   time.Duration
	retryAfter time.Duration
	hasRA      bool
	rep        resilience.Report
}

// classifyAttempt maps what Execute returned to a verdict. u is the
// upstream's settings (its retry.on statuses).
func classifyAttempt(u *jobUpstream, resp *store.StoredResponse, truncated bool, err error, now time.Time) jobResult {
	var r jobResult
	if err != nil {
		r.err = err.Error()
		var re *resilience.Error
		switch {
		case errors.Is(err, proxy.ErrUnknownUpstream):
			// The job settings know it but the proxy does not (yet): a
			// reload is half applied. Try again shortly.
			r.verdict, r.category, r.retryAfter = jobDeferred, CategoryUnknownUpstream, minDefer
		case errors.As(err, &re):
			r.category = string(re.Category)
			switch re.Category {
			case resilience.CategoryCircuitOpen:
				r.verdict, r.retryAfter = jobDeferred, max(re.RetryAfter, minDefer)
			case resilience.CategoryRateLimited:
				if re.RetryAfter > 0 {
					r.verdict, r.retryAfter = jobDeferred, max(re.RetryAfter, minDefer)
				} else {
					r.verdict = jobRetry
				}
			case resilience.CategoryThrottled, resilience.CategoryConcurrencyLimited:
				// fender's own shedding, not the upstream's answer: the job
				// waits rather than competes, and spends no attempt.
				r.verdict, r.retryAfter = jobDeferred, max(re.RetryAfter, minDefer)
			case resilience.CategoryForbiddenDestination:
				r.verdict = jobDead
			default: // timeout, connect, budget_exhausted, canceled
				r.verdict = jobRetry
				r.retryAfter, r.hasRA = re.RetryAfter, re.RetryAfter > 0
			}
		default:
			r.verdict, r.category = jobRetry, CategoryConnect
		}
		return r
	}
	r.status, r.response = resp.Status, resp
	r.excerpt = store.Excerpt(string(resp.Body))
	r.category = string(resilience.ClassifyStatus(resp.Status))
	switch code := resp.Status; {
	case code < 400:
		r.verdict, r.category = jobSucceeded, ""
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly, code == http.StatusTooManyRequests, u.retryOn[code]:
		r.verdict = jobRetry
		r.err = fmt.Sprintf("HTTP %d", code)
		r.retryAfter, r.hasRA = resilience.ParseRetryAfter(http.Header(resp.Header).Get("Retry-After"), now)
	default:
		r.verdict = jobFailed
		r.err = fmt.Sprintf("HTTP %d", code)
	}
	if truncated {
		note := fmt.Sprintf("response body cut at %d bytes", len(resp.Body))
		if r.err != "" {
			r.err += "; " + note
		} else {
			r.err = note
		}
	}
	return r
}

// runRequest makes one attempt at a request job; u nil means its upstream
// is not configured.
func (j *Jobs) runRequest(u *jobUpstream, job *store.Job) {
	n := job.Attempts + 1
	started := j.now()
	var r jobResult
	if u == nil {
		r = jobResult{verdict: jobDead, category: CategoryUnknownUpstream,
			err: fmt.Sprintf("upstream %q is no longer configured", job.Upstream)}
	} else {
		hdr := http.Header{}
		for k, v := range job.Header {
			hdr[k] = slices.Clone(v)
		}
		if job.IdempotencyKey != "" && hdr.Get(resilience.IdempotencyKeyHeader) == "" {
			// A key derived from the body reaches the provider too, and lets
			// the upstream's retries repeat a POST.
			hdr.Set(resilience.IdempotencyKeyHeader, job.IdempotencyKey)
		}
		t0 := time.Now()
		resp, rep, truncated, err := j.ex.Execute(j.sendCtx, job.Upstream, job.Method, job.Path, hdr, job.Body)
		if err != nil && j.sendCtx.Err() != nil {
			j.log.Info("job cancelled by shutdown", "kind", job.Kind, "id", job.ID, "upstream", job.Upstream, "attempt", n)
			return
		}
		r = classifyAttempt(u, resp, truncated, err, j.now())
		r.duration, r.rep = time.Since(t0), rep
	}

	now := j.now()
	res := ""
	var out store.JobOutcome
	switch r.verdict {
	case jobDeferred:
		until := now.Add(r.retryAfter)
		if u != nil && r.category != CategoryUnknownUpstream {
			j.mu.Lock()
			if until.After(j.pausedUntil[u.name]) {
				j.pausedUntil[u.name] = until
			}
			j.mu.Unlock()
		}
		err := j.deferJob(job.ID, until, "deferred: "+r.err)
		j.logAttempt(job, n, r, "deferred", until, err)
		if err == nil {
			j.count(job.Upstream, "deferred")
		}
		return
	case jobSucceeded:
		out, res = store.JobOutcome{Status: store.JobSucceeded, Response: r.response, Error: r.err}, "succeeded"
	case jobFailed:
		out, res = store.JobOutcome{Status: store.JobFailed, Response: r.response, Error: r.err}, "failed"
	case jobDead:
		out, res = store.JobOutcome{Status: store.JobDead, Error: r.err}, "dead"
	default:
		out = store.JobOutcome{Status: store.JobPending, Response: r.response, Error: r.err}
		delay, dead := nextDelay(u.schedule, n, r.retryAfter, r.hasRA, j.random())
		if dead {
			out.Status, res = store.JobDead, "dead"
		} else {
			out.NextAt, res = now.Add(delay), "retry"
		}
	}
	a := store.JobAttempt{
		JobID: job.ID, StartedAt: started, Duration: r.duration, Status: r.status,
		Category: r.category, Error: r.err, ResponseExcerpt: r.excerpt,
	}
	if out.Status != store.JobPending && job.CallbackURL != "" {
		out.Callback = j.callbackFor(job, a, n, out, now)
	}
	err := j.finish(job.ID, a, out, now)
	j.logAttempt(job, n, r, res, out.NextAt, err)
	if err == nil {
		j.count(job.Upstream, res)
	}
}

// callbackFor builds the callback job carrying job's final state, as it
// will be once FinishJob has recorded attempt a (number n) and out.
func (j *Jobs) callbackFor(job *store.Job, a store.JobAttempt, n int, out store.JobOutcome, now time.Time) *store.NewJob {
	final := *job
	final.Status, final.Attempts, final.LastError = out.Status, n, out.Error
	final.FinishedAt = &now
	if out.Response != nil {
		final.Response = out.Response
	}
	var history []store.JobAttempt
	ctx, cancel := context.WithTimeout(context.Background(), storeOpTimeout)
	if _, prev, err := j.st.GetJob(ctx, job.ID); err == nil {
		history = prev
	} else {
		j.log.Warn("job history unavailable for its callback", "id", job.ID, "err", err)
	}
	cancel()
	a.N = n
	history = append(history, a)
	body, err := json.Marshal(proxy.NewJobView(final, history))
	if err != nil { // a JobView always marshals
		body = []byte(`{"id":` + strconv.Quote(job.ID) + `,"status":` + strconv.Quote(out.Status) + `}`)
	}
	return &store.NewJob{
		Kind: store.JobCallback, Upstream: job.Upstream, Method: http.MethodPost, Path: job.CallbackURL,
		ParentID: job.ID, Body: body, Header: map[string][]string{"Content-Type": {"application/json"}},
	}
}

// runCallback makes one attempt at a callback job.
func (j *Jobs) runCallback(job *store.Job) {
	n := job.Attempts + 1
	started := j.now()
	schedule := config.DefaultSchedule()
	var signer *webhook.StandardSigner
	var r result
	if job.Upstream != "" {
		u := j.settings.Load().ups[job.Upstream]
		if u == nil {
			r = result{verdict: verdictDead, category: CategoryUnknownUpstream,
				err: fmt.Sprintf("upstream %q is no longer configured: its async.signing_secret is unknown", job.Upstream)}
		} else {
			schedule, signer = u.schedule, u.signer
		}
	}
	if r.err == "" {
		r = j.sendCallback(job, signer, n)
		if r.canceled {
			j.log.Info("callback cancelled by shutdown", "kind", job.Kind, "id", job.ID, "job_id", job.ParentID, "attempt", n)
			return
		}
	}
	now := j.now()
	out := store.JobOutcome{Error: r.err}
	res := "callback_succeeded"
	switch r.verdict {
	case verdictDelivered:
		out.Status = store.JobSucceeded
	case verdictDead:
		out.Status, res = store.JobDead, "callback_dead"
	default:
		delay, dead := nextDelay(schedule, n, r.retryAfter, r.hasRA, j.random())
		if dead {
			out.Status, res = store.JobDead, "callback_dead"
		} else {
			out.Status, out.NextAt, res = store.JobPending, now.Add(delay), "callback_retry"
		}
	}
	a := store.JobAttempt{
		JobID: job.ID, StartedAt: started, Duration: r.duration, Status: r.status,
		Category: r.category, Error: r.err, ResponseExcerpt: r.excerpt,
	}
	err := j.finish(job.ID, a, out, now)
	jr := jobResult{status: r.status, category: r.category, err: r.err, duration: r.duration}
	j.logAttempt(job, n, jr, res, out.NextAt, err)
	if err == nil {
		j.count(job.Upstream, res)
	}
}

// hdrJobID carries the request job's id on its callback.
const hdrJobID = "Fender-Job-Id"

// sendCallback POSTs a callback job to its URL as attempt n. Any status
// other than 2xx is retried.
func (j *Jobs) sendCallback(job *store.Job, signer *webhook.StandardSigner, n int) result {
	ctx, cancel := context.WithTimeout(j.sendCtx, CallbackTimeout)
	defer cancel()
	u, err := url.Parse(job.Path)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return result{verdict: verdictDead, category: CategoryConnect, err: fmt.Sprintf("callback URL %q is not an http(s) URL", job.Path)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(job.Body))
	if err != nil {
		return result{verdict: verdictDead, category: CategoryConnect, err: fmt.Sprintf("build callback: %v", err)}
	}
	for k, v := range job.Header {
		req.Header[k] = slices.Clone(v)
	}
	ts := j.now()
	h := req.Header
	h.Set("User-Agent", "fender")
	h.Set(hdrWebhookID, job.ID)
	h.Set(hdrWebhookTS, strconv.FormatInt(ts.Unix(), 10))
	if signer != nil {
		h.Set(hdrWebhookSig, signer.Sign(job.ID, ts, job.Body))
	}
	h.Set(hdrJobID, job.ParentID)
	h.Set(hdrAttempt, strconv.Itoa(n))

	start := time.Now()
	resp, err := j.client.Do(req)
	if err != nil {
		r := result{duration: time.Since(start), err: err.Error(), verdict: verdictRetry}
		switch {
		case j.sendCtx.Err() != nil:
			r.canceled = true
		case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
			r.category = CategoryTimeout
		default:
			r.category = CategoryConnect
		}
		return r
	}
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, store.MaxExcerpt))
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	resp.Body.Close()
	r := result{status: resp.StatusCode, duration: time.Since(start), excerpt: store.Excerpt(string(excerpt))}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		r.verdict = verdictDelivered
		return r
	}
	r.verdict, r.err = verdictRetry, "HTTP "+resp.Status
	_, r.category = classify(resp.StatusCode)
	r.retryAfter, r.hasRA = resilience.ParseRetryAfter(resp.Header.Get("Retry-After"), ts)
	return r
}

// finish records an attempt, retrying a failing store briefly. It does not
// retry ErrLeaseLost, ErrNotFound, ErrInvalid or ErrClosed.
func (j *Jobs) finish(id string, a store.JobAttempt, out store.JobOutcome, now time.Time) error {
	var err error
	for try := 0; try < 3; try++ {
		if try > 0 {
			time.Sleep(time.Duration(try) * 100 * time.Millisecond)
			now = j.now()
		}
		ctx, cancel := context.WithTimeout(context.Background(), storeOpTimeout)
		err = j.st.FinishJob(ctx, id, j.owner, a, out, now)
		cancel()
		if err == nil || permanentStoreError(err) {
			return err
		}
	}
	return err
}

func (j *Jobs) deferJob(id string, until time.Time, reason string) error {
	var err error
	for try := 0; try < 3; try++ {
		if try > 0 {
			time.Sleep(time.Duration(try) * 100 * time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), storeOpTimeout)
		err = j.st.DeferJob(ctx, id, j.owner, until, reason, j.now())
		cancel()
		if err == nil || permanentStoreError(err) {
			return err
		}
	}
	return err
}

func permanentStoreError(err error) bool {
	return errors.Is(err, store.ErrLeaseLost) || errors.Is(err, store.ErrNotFound) ||
		errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrClosed)
}

func (j *Jobs) count(upstream, result string) {
	if j.metrics != nil {
		j.metrics.Jobs.WithLabelValues(upstream, result).Inc()
	}
}

// logAttempt writes the "job" line of one attempt; storeErr is what
// recording it returned.
func (j *Jobs) logAttempt(job *store.Job, n int, r jobResult, res string, next time.Time, storeErr error) {
	path := job.Path
	if job.Kind == store.JobRequest {
		path, _, _ = strings.Cut(path, "?")
		path = "/" + strings.TrimPrefix(path, "/")
	} else if u, err := url.Parse(path); err == nil {
		// A callback URL: no query, no userinfo.
		path = u.Scheme + "://" + u.Host + u.Path
	}
	attrs := []slog.Attr{
		slog.String("request_id", store.NewID()),
		slog.String("kind", job.Kind),
		slog.String("id", job.ID),
		slog.String("upstream", job.Upstream),
		slog.String("method", job.Method),
		slog.String("path", path),
		slog.Int("attempt", n),
		slog.Int("status", r.status),
		slog.String("category", r.category),
		slog.Int("attempts", r.rep.Attempts),
		slog.Float64("duration_ms", ms(r.duration)),
	}
	if job.ParentID != "" {
		attrs = append(attrs, slog.String("job_id", job.ParentID))
	}
	if t := r.rep.Timing; t != (resilience.Timing{}) {
		attrs = append(attrs, slog.Float64("dns_ms", ms(t.DNS)), slog.Float64("connect_ms", ms(t.Connect)),
			slog.Float64("tls_ms", ms(t.TLS)), slog.Float64("ttfb_ms", ms(t.TTFB)))
	}
	level := slog.LevelInfo
	switch {
	case errors.Is(storeErr, store.ErrLeaseLost):
		// Another instance took the job after our lease expired; it records
		// its own attempt. Ours is dropped.
		res, level = "lease_lost", slog.LevelWarn
	case storeErr != nil:
		attrs = append(attrs, slog.String("store_error", storeErr.Error()))
		level = slog.LevelError
	case res != "succeeded" && res != "callback_succeeded":
		level = slog.LevelWarn
	}
	attrs = append(attrs, slog.String("result", res))
	if !next.IsZero() && (res == "retry" || res == "callback_retry" || res == "deferred") {
		attrs = append(attrs, slog.Time("next_at", next))
	}
	if r.err != "" {
		attrs = append(attrs, slog.String("error", r.err))
	}
	j.log.LogAttrs(context.Background(), level, "job", attrs...)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// jobKinds maps store job kinds to fender_queue_depth kind labels.
var jobKinds = map[string]string{store.JobRequest: "job", store.JobCallback: "callback"}

// jobDepthCollector reports the job queue at scrape time, as
// fender_queue_depth{kind="job"|"callback",state}. It is unchecked, like
// the webhook one, so both report the same family.
type jobDepthCollector struct {
	st  store.JobStore
	log *slog.Logger
}

func (c *jobDepthCollector) Describe(chan<- *prometheus.Desc) {}

func (c *jobDepthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), depthScrapeTimeout)
	defer cancel()
	depth, err := c.st.JobQueueDepth(ctx)
	if err != nil {
		c.log.Warn("job queue depth unavailable", "err", err)
		return
	}
	for kind, label := range jobKinds {
		for _, state := range []string{store.JobPending, store.JobSucceeded, store.JobFailed, store.JobDead} {
			ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(depth[kind][state]), label, state)
		}
	}
}
