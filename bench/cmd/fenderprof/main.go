// Command fenderprof serves fender's egress proxy the way `fender serve`
// does (same config loader, JSON logger, metrics and tracing wiring) and
// writes CPU and allocation profiles, so the proxy can be profiled under
// wrk without adding pprof to the product binary. It stops on SIGINT or
// SIGTERM, or after -for, and writes the profiles then.
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
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/fender-dev/fender/internal/config"
	"github.com/fender-dev/fender/internal/proxy"
	"github.com/fender-dev/fender/internal/telemetry"
)

func main() {
	cfgPath := flag.String("c", "", "fender config (listen.proxy is used)")
	logPath := flag.String("log", "/dev/null", "where the JSON log goes")
	cpu := flag.String("cpuprofile", "", "write a CPU profile here")
	mem := flag.String("memprofile", "", "write an allocation profile here")
	wait := flag.Duration("delay", 0, "start the CPU profile after this long (skip warm-up)")
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
	lg, err := telemetry.NewLogger(lf, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	tracing, err := telemetry.NewTracing(ctx, os.Getenv, "bench")
	if err != nil {
		log.Fatal(err)
	}
	px, err := proxy.New(cfg, proxy.Options{Logger: lg, Metrics: telemetry.NewMetrics(), Tracing: tracing})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", cfg.Listen.Proxy)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: px, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		MaxHeaderBytes: 1 << 20, ErrorLog: slog.NewLogLogger(lg.Handler(), slog.LevelWarn)}
	go srv.Serve(ln)

	if *mem != "" {
		runtime.MemProfileRate = 64 << 10 // sample more often than the default 512 KiB
	}
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
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
	if *cpu != "" {
		pprof.StopCPUProfile()
	}
	if *mem != "" {
		f, err := os.Create(*mem)
		if err != nil {
			log.Fatal(err)
		}
		pprof.Lookup("allocs").WriteTo(f, 0)
		f.Close()
	}
	srv.Close()
}
