package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/fender-dev/fender/internal/admin"
	"github.com/fender-dev/fender/internal/config"
	"github.com/fender-dev/fender/internal/delivery"
	"github.com/fender-dev/fender/internal/inbox"
	"github.com/fender-dev/fender/internal/proxy"
	storeopen "github.com/fender-dev/fender/internal/store/open"
	"github.com/fender-dev/fender/internal/telemetry"
)

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, path, err := loadConfig("serve", args, getenv, stderr)
	if err != nil {
		var ve *config.ValidationError
		if errors.As(err, &ve) {
			fmt.Fprintln(stderr, ve.Error())
			return &reportedError{err: err, code: exitUsage}
		}
		return err
	}
	// One log line per request: batch them into few writes (flushed every
	// 100ms and on exit).
	logw := telemetry.NewBufferedWriter(stderr, 100*time.Millisecond)
	defer logw.Close()
	log, err := telemetry.NewLogger(logw, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return &usageError{err.Error()}
	}
	if getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < 4 {
		// modernc.org/sqlite makes its fsync and pwrite calls as raw
		// system calls, which hold their scheduler slot for the whole call.
		// With one slot (a 1-CPU container) nothing else runs during a
		// commit, and group commit degrades to one webhook per fsync
		// (measured: 1.1 per batch, 1.8k acks/s; with 4 slots on the same
		// CPU, 30-40 per batch and 3-4x the rate, bench/ingest.sh).
		runtime.GOMAXPROCS(4)
	}
	if getenv("GOGC") == "" {
		// A proxy's live heap is small and its garbage is per request:
		// collecting less often buys throughput for little memory.
		debug.SetGCPercent(400)
	}
	if path == "" {
		log.Info("no config file (no -c and no ./fender.yaml): starting with defaults",
			"storage", cfg.Storage.Driver+" "+cfg.Storage.DSN, "upstreams", 0, "sources", 0, "version", version)
	} else {
		log.Info("starting", "config", path, "upstreams", len(cfg.Upstreams), "sources", len(cfg.Sources), "version", version)
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	metrics := telemetry.NewMetrics()
	tracing, err := telemetry.NewTracing(ctx, getenv, version)
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	defer tracing.Shutdown(context.Background())

	st, err := storeopen.Open(ctx, cfg.Storage.Driver, cfg.Storage.DSN)
	if err != nil {
		return fmt.Errorf("open %s store: %w", cfg.Storage.Driver, err)
	}
	defer st.Close()

	// The job worker needs the proxy (it runs jobs through the upstreams'
	// policies) and the proxy wakes the worker: wired through a variable set
	// before any listener opens.
	var notifyJobs func()
	px, err := proxy.New(cfg, proxy.Options{
		Logger: log, Metrics: metrics, Tracing: tracing,
		Idempotency: st, Jobs: st, Cache: st, Retention: cfg.Storage.Retention,
		OnEnqueue: func() { notifyJobs() },
	})
	if err != nil {
		return err
	}
	deliveries, err := delivery.New(cfg, st, delivery.Options{Logger: log, Metrics: metrics})
	if err != nil {
		return err
	}
	in, err := inbox.New(cfg, st, inbox.Options{Logger: log, Metrics: metrics, OnIngest: deliveries.Notify})
	if err != nil {
		return err
	}
	jobs, err := delivery.NewJobs(cfg, st, px, delivery.JobOptions{Logger: log, Metrics: metrics})
	if err != nil {
		return err
	}
	notifyJobs = jobs.Notify
	adm := admin.New(admin.Options{Token: cfg.Admin.Token, Metrics: metrics.Handler(), Logger: log, Ready: st.Ping})
	admin.RegisterEvents(adm, st, time.Now)
	admin.RegisterJobs(adm, st, time.Now)

	var servers []*http.Server
	listen := func(name, addr string, h http.Handler) error {
		if addr == "" {
			return nil
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen %s on %s: %w", name, addr, err)
		}
		srv := &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    1 << 20,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		servers = append(servers, srv)
		log.Info("listening", "listener", name, "addr", ln.Addr().String())
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("listener failed", "listener", name, "err", err)
				stop()
			}
		}()
		return nil
	}
	closeAll := func() {
		for _, s := range servers {
			s.Close()
		}
	}
	if err := listen("proxy", cfg.Listen.Proxy, px); err != nil {
		closeAll()
		return err
	}
	if err := listen("webhooks", cfg.Listen.Webhooks, in); err != nil {
		closeAll()
		return err
	}
	if err := listen("admin", cfg.Listen.Admin, adm); err != nil {
		closeAll()
		return err
	}

	deliveries.Start(context.WithoutCancel(ctx))
	jobs.Start(context.WithoutCancel(ctx))

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			reload(path, getenv, px, in, deliveries, jobs, log)
			continue
		case <-ctx.Done():
		}
		break
	}

	log.Info("shutting down: draining in-flight requests", "timeout", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Shutdown(sctx); err != nil {
				log.Warn("drain cut short", "err", err)
				s.Close()
			}
		}()
	}
	wg.Wait()
	// Deliveries in flight finish within what is left of the timeout;
	// leases are released so another instance takes the rest at once.
	if err := deliveries.Stop(sctx); err != nil {
		log.Warn("deliveries cut short at shutdown", "err", err)
	}
	if err := jobs.Stop(sctx); err != nil {
		log.Warn("jobs cut short at shutdown", "err", err)
	}
	log.Info("stopped")
	return nil
}

// reload re-reads the config file and applies upstream and source policies.
// A config that fails validation is refused and the running one stays.
func reload(path string, getenv func(string) string, px *proxy.Proxy, in *inbox.Inbox, deliveries *delivery.Service, jobs *delivery.Jobs, log *slog.Logger) {
	if path == "" {
		log.Warn("SIGHUP: running without a config file, nothing to reload")
		return
	}
	cfg, err := config.Load(path, getenv)
	if err != nil {
		log.Error("SIGHUP: config refused, keeping the running one", "config", path, "err", err.Error())
		return
	}
	// Sources first: their reload can still be refused without leaving
	// the upstreams half-applied.
	if err := in.Reload(cfg); err != nil {
		log.Error("SIGHUP: sources refused, keeping the running config", "err", err.Error())
		return
	}
	if err := deliveries.Reload(cfg); err != nil {
		log.Error("SIGHUP: delivery settings refused", "err", err.Error())
		return
	}
	if err := px.Reload(cfg); err != nil {
		log.Error("SIGHUP: upstreams refused, keeping the running ones", "err", err.Error())
		return
	}
	// After the proxy: a new upstream's job must never reach a proxy that
	// does not know it yet.
	if err := jobs.Reload(cfg); err != nil {
		log.Error("SIGHUP: job settings refused", "err", err.Error())
		return
	}
	log.Info("SIGHUP: config reloaded", "config", path, "upstreams", len(cfg.Upstreams), "sources", len(cfg.Sources))
}
