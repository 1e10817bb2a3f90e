package delivery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/failsafe-go/failsafe-go/circuitbreaker"

	"github.com/fender-dev/fender/internal/config"
	"github.com/fender-dev/fender/internal/store"
	"github.com/fender-dev/fender/internal/telemetry"
	"github.com/fender-dev/fender/resilience"
	"github.com/fender-dev/fender/webhook"
)

// Options configure a Service. The zero value works: every field has a
// default.
type Options struct {
	// Logger receives one line per delivery attempt; nil discards.
	Logger *slog.Logger
	// Metrics, when set, gets fender_deliveries_total,
	// fender_delivery_duration_seconds and a fender_queue_depth collector.
	Metrics *telemetry.Metrics
	// Owner is the lease owner id, unique per process; empty means
	// hostname-pid-random.
	Owner string
	// Now is the clock for timestamps, schedules and leases; nil means
	// time.Now.
	Now func() time.Time
	// Client sends deliveries; nil means a client without environment proxy
	// or redirects. Deliveries go to the operator's own app URL (usually
	// loopback), so no private-address guard applies.
	Client *http.Client
	// PollInterval is how often an idle source looks for due work it was
	// not notified of (scheduled retries, other instances' events); 0 means
	// 250ms.
	PollInterval time.Duration
	// Lease is how long a claimed event stays reserved; 0 means
	// max(2×deliver.timeout, 30s) per source.
	Lease time.Duration
	// Rand returns numbers in [0, 1) for jitter; nil means math/rand/v2. It
	// is called under a lock, so it need not be safe for concurrent use.
	Rand func() float64
	// Breaker is the circuit breaker of each source's destination; the
	// zero value means DefaultBreaker.
	Breaker resilience.Breaker
}

// DefaultBreaker is the breaker a destination gets when Options.Breaker is
// zero: open at 50% failures over 30s once 5 attempts were seen, stay open
// 5s, then let one probe through.
func DefaultBreaker() resilience.Breaker {
	return resilience.Breaker{FailureRate: 0.5, MinRequests: 5, Window: 30 * time.Second, OpenFor: 5 * time.Second, HalfOpenProbes: 1}
}

// Defaults of Options.
const (
	DefaultPollInterval = 250 * time.Millisecond
	minLease            = 30 * time.Second
	purgeEvery          = time.Hour
	storeOpTimeout      = 10 * time.Second
)

// ErrStopped is returned by Reload after Stop.
var ErrStopped = errors.New("delivery: stopped")

// Service delivers accepted webhook events to the application: one claim
// loop per source, each delivery in its own goroutine, and a retention purge
// loop. Build it with New; its methods are safe for concurrent use.
type Service struct {
	st      store.Store
	log     *slog.Logger
	metrics *telemetry.Metrics
	owner   string
	now     func() time.Time
	client  *http.Client
	poll    time.Duration
	lease   time.Duration
	breaker resilience.Breaker

	randMu sync.Mutex
	rand   func() float64

	retention atomic.Int64 // time.Duration

	mu       sync.RWMutex
	workers  map[string]*worker
	started  bool
	stopping bool

	// runCtx stops claim loops (Stop, or the Start context ending).
	runCtx    context.Context
	runCancel context.CancelFunc
	// sendCtx aborts in-flight deliveries once Stop runs out of time.
	sendCtx    context.Context
	sendCancel context.CancelFunc
	inflight   sync.WaitGroup // delivery goroutines
	loops      sync.WaitGroup // claim and purge loops

	stopOnce sync.Once
	stopped  chan struct{}
	stopErr  error
}

// New checks every source's delivery settings in cfg and returns a Service
// that does nothing until Start.
func New(cfg *config.Config, st store.Store, opts Options) (*Service, error) {
	if st == nil {
		return nil, errors.New("delivery: nil store")
	}
	s := &Service{
		st:      st,
		log:     opts.Logger,
		metrics: opts.Metrics,
		owner:   opts.Owner,
		now:     opts.Now,
		client:  opts.Client,
		poll:    opts.PollInterval,
		lease:   opts.Lease,
		rand:    opts.Rand,
		breaker: opts.Breaker,
		workers: map[string]*worker{},
		stopped: make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.owner == "" {
		s.owner = newOwner()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.client == nil {
		s.client = newClient()
	}
	if s.poll <= 0 {
		s.poll = DefaultPollInterval
	}
	if s.rand == nil {
		s.rand = mathrand.Float64
	}
	if s.breaker == (resilience.Breaker{}) {
		s.breaker = DefaultBreaker()
	}
	dests, err := s.dests(cfg)
	if err != nil {
		return nil, err
	}
	s.retention.Store(int64(cfg.Storage.Retention))
	for name, d := range dests {
		s.workers[name] = newWorker(s, name, d)
	}
	if s.metrics != nil {
		// Unchecked collector: other kinds (async jobs) may report the same
		// family with their own kind label.
		s.metrics.Registry.MustRegister(&depthCollector{st: st, log: s.log})
	}
	return s, nil
}

// Owner returns the lease owner id of s.
func (s *Service) Owner() string { return s.owner }

func newOwner() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "fender"
	}
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// dests builds the destination of every source of cfg, or reports every
// source whose delivery settings are unusable.
func (s *Service) dests(cfg *config.Config) (map[string]*dest, error) {
	out := map[string]*dest{}
	var errs []error
	names := make([]string, 0, len(cfg.Sources))
	for name := range cfg.Sources {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		src, ok := cfg.Source(name)
		if !ok {
			continue
		}
		d, err := s.newDest(src.Deliver)
		if err != nil {
			errs = append(errs, fmt.Errorf("delivery: source %s: %w", name, err))
			continue
		}
		out[name] = d
	}
	return out, errors.Join(errs...)
}

// dest is one source's delivery settings and the breaker guarding its URL.
// It is immutable; Reload swaps in a new one.
type dest struct {
	url         string
	signer      *webhook.StandardSigner // nil: no Webhook-Signature
	timeout     time.Duration
	schedule    []time.Duration
	concurrency int
	lease       time.Duration
	breaker     circuitbreaker.CircuitBreaker[any]
}

func (s *Service) newDest(dc config.Deliver) (*dest, error) {
	def := config.DefaultSource().Deliver
	u, err := url.Parse(dc.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("deliver.url %q is not an http(s) URL", dc.URL)
	}
	d := &dest{url: dc.URL, timeout: dc.Timeout, schedule: dc.Schedule, concurrency: dc.Concurrency}
	if dc.SigningSecret != "" {
		if d.signer, err = webhook.NewStandardSigner(dc.SigningSecret); err != nil {
			return nil, fmt.Errorf("deliver.signing_secret: %w", err)
		}
	}
	if d.timeout <= 0 {
		d.timeout = def.Timeout
	}
	if len(d.schedule) == 0 {
		d.schedule = def.Schedule
	}
	d.schedule = append([]time.Duration(nil), d.schedule...)
	if d.concurrency < 1 {
		d.concurrency = def.Concurrency
	}
	d.lease = s.lease
	if d.lease <= 0 {
		d.lease = max(2*d.timeout, minLease)
	}
	b := s.breaker
	d.breaker = circuitbreaker.NewBuilder[any]().
		WithFailureRateThreshold(float64(b.FailureRate), uint(max(b.MinRequests, 1)), b.Window).
		WithDelay(b.OpenFor).
		WithJitterFactor(0.1).
		WithSuccessThreshold(uint(max(b.HalfOpenProbes, 1))).
		Build()
	return d, nil
}

// sameDestination reports whether a and b send to the same place, so the
// breaker's knowledge carries over a reload.
func sameDestination(a, b *dest) bool { return a.url == b.url }

func (s *Service) random() float64 {
	s.randMu.Lock()
	defer s.randMu.Unlock()
	return s.rand()
}

// Start launches a claim loop per source and the retention purge loop (once
// now, then hourly). Cancelling ctx stops claiming, as Stop does, but does
// not abort deliveries in flight; call Stop to wait for them and release
// leases. Start after Stop, or a second Start, does nothing.
func (s *Service) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.stopping {
		return
	}
	s.started = true
	s.runCtx, s.runCancel = context.WithCancel(ctx)
	s.sendCtx, s.sendCancel = context.WithCancel(context.WithoutCancel(ctx))
	for _, w := range s.workers {
		w.start()
	}
	s.loops.Add(1)
	go s.purgeLoop()
}

// Notify wakes the claim loop of source so a just-ingested event is
// delivered at once. It never blocks; an unknown source is ignored.
func (s *Service) Notify(source string) {
	s.mu.RLock()
	w := s.workers[source]
	s.mu.RUnlock()
	if w != nil {
		w.poke()
	}
}

// Reload applies cfg: new sources start, removed ones stop claiming (their
// deliveries in flight finish), changed ones use the new settings from
// their next delivery on. A destination whose URL is unchanged keeps its
// breaker. On error nothing changes.
func (s *Service) Reload(cfg *config.Config) error {
	dests, err := s.dests(cfg)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return ErrStopped
	}
	s.retention.Store(int64(cfg.Storage.Retention))
	for name, w := range s.workers {
		if _, ok := dests[name]; !ok {
			w.stop()
			delete(s.workers, name)
		}
	}
	for name, d := range dests {
		if w, ok := s.workers[name]; ok {
			if sameDestination(w.dest.Load(), d) {
				d.breaker = w.dest.Load().breaker
			}
			w.dest.Store(d)
			w.poke()
			continue
		}
		w := newWorker(s, name, d)
		s.workers[name] = w
		if s.started {
			w.start()
		}
	}
	return nil
}

// Stop stops claiming, waits for deliveries in flight until ctx is done
// (then cancels them, recording nothing for them), and releases every lease
// of this owner so another instance can take the events at once. It is safe
// to call twice; later calls wait for the first and return its result.
func (s *Service) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		defer close(s.stopped)
		s.mu.Lock()
		s.stopping = true
		started := s.started
		workers := make([]*worker, 0, len(s.workers))
		for _, w := range s.workers {
			workers = append(workers, w)
		}
		s.mu.Unlock()
		var errs []error
		if started {
			s.runCancel()
			for _, w := range workers {
				w.stop()
			}
			s.loops.Wait() // no new deliveries after this
			if err := drain(ctx, &s.inflight, s.sendCancel); err != nil {
				errs = append(errs, fmt.Errorf("delivery: stop: deliveries in flight cancelled: %w", err))
			}
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeOpTimeout)
		defer cancel()
		if err := s.st.Release(rctx, s.owner); err != nil {
			errs = append(errs, fmt.Errorf("delivery: release leases: %w", err))
		}
		s.stopErr = errors.Join(errs...)
	})
	<-s.stopped
	return s.stopErr
}

// purgeLoop deletes finished events older than the retention, at start and
// then every hour.
func (s *Service) purgeLoop() {
	defer s.loops.Done()
	t := time.NewTicker(purgeEvery)
	defer t.Stop()
	for {
		s.purge()
		select {
		case <-s.runCtx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Service) purge() {
	ret := time.Duration(s.retention.Load())
	if ret <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(s.runCtx, time.Minute)
	defer cancel()
	n, err := s.st.Purge(ctx, s.now().Add(-ret))
	switch {
	case err != nil && s.runCtx.Err() == nil:
		s.log.Warn("retention purge failed", "err", err)
	case n > 0:
		s.log.Info("retention purge", "deleted", n, "retention", ret.String())
	}
}

// drain waits for the work counted by inflight to finish; when ctx ends
// first it calls cancel and still waits for the work to return, and reports
// ctx's error. cancel is called in either case, to free what the work held.
func drain(ctx context.Context, inflight *sync.WaitGroup, cancel func()) error {
	defer cancel()
	done := make(chan struct{})
	go func() { inflight.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		cancel()
		<-done
		return ctx.Err()
	}
}
