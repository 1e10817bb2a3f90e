// Command inboxprof serves fender's webhook inbox the way `fender serve`
// does (same config loader, buffered JSON logger, metrics, store opened by
// driver name, inbox.New, same http.Server settings, GOGC 400 unless set)
// and writes a CPU profile, so ingest can be profiled under bench/cmd/hookgen
// without adding pprof to the product binary. Delivery is not started. It
// stops on SIGINT or SIGTERM, or after -for, and writes the profile then.
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"syscall"
	"time"

	"github.com/fender-dev/fender/internal/config"
	"github.com/fender-dev/fender/internal/inbox"
	storeopen "github.com/fender-dev/fender/internal/store/open"
	"github.com/fender-dev/fender/internal/telemetry"
)

func main() {
	cfgPath := flag.String("c", "", "fender config (listen.webhooks, storage and sources are used)")
	logPath := flag.String("log", "/dev/null", "where the JSON log goes")
	cpu := flag.String("cpuprofile", "", "write a CPU profile here")
	tr := flag.String("trace", "", "write an execution trace of the first second of the profiled window here")
	wait := flag.Duration("delay", 0, "start profiling after this long (skip warm-up)")
	forDur := flag.Duration("for", time.Minute, "stop after this long")
	flag.Parse()

	cfg, err := config.Load(*cfgPath, os.Getenv)
	if err != nil {
		log.Fatal(err)
	}
	lf, err := os.OpenFile(*logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	logw := telemetry.NewBufferedWriter(lf, 100*time.Millisecond)
	defer logw.Close()
	lg, err := telemetry.NewLogger(logw, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		log.Fatal(err)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	st, err := storeopen.Open(ctx, cfg.Storage.Driver, cfg.Storage.DSN)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	in, err := inbox.New(cfg, st, inbox.Options{Logger: lg, Metrics: telemetry.NewMetrics()})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", cfg.Listen.Webhooks)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: in, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		MaxHeaderBytes: 1 << 20, ErrorLog: slog.NewLogLogger(lg.Handler(), slog.LevelWarn)}
	go srv.Serve(ln)

	timer := time.NewTimer(*forDur)
	select {
	case <-time.After(*wait):
	case <-ctx.Done():
	case <-timer.C:
	}
	if *cpu != "" {
		f, err := os.Create(*cpu)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer f.Close()
	}
	if *tr != "" {
		f, err := os.Create(*tr)
		if err != nil {
			log.Fatal(err)
		}
		trace.Start(f)
		time.AfterFunc(time.Second, func() { trace.Stop(); f.Close() })
	}
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
	if *cpu != "" {
		pprof.StopCPUProfile()
	}
	srv.Close()
}
