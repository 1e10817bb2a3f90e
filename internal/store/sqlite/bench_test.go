package sqlite_test

import (
	"context"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fender-dev/fender/internal/store"
	"github.com/fender-dev/fender/internal/store/sqlite"
)

// body is a typical small webhook payload.
var body = []byte(`{"id":"evt_1NZ","object":"event","type":"charge.succeeded","data":{"object":{"id":"ch_3NZ","amount":2000,"currency":"usd","status":"succeeded"}}}`)

// benchIngest measures acknowledged (committed, fsynced) ingests per second
// from 32×GOMAXPROCS concurrent callers.
func benchIngest(b *testing.B, maxBatch int) {
	s, err := sqlite.OpenConfig(context.Background(), sqlite.Config{
		Path: filepath.Join(b.TempDir(), "bench.db"), MaxBatch: maxBatch,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var n atomic.Int64
	now := time.Now()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, err := s.Ingest(context.Background(), store.NewEvent{
				Source: "stripe", EventID: "evt_" + strconv.FormatInt(n.Add(1), 10),
				ContentType: "application/json", Body: body, ReceivedAt: now,
				Headers: map[string]string{"User-Agent": "Stripe/1.0"},
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ingests/s")
}

// BenchmarkIngestParallel: group commit, everything queued goes in one
// transaction and one fsync.
func BenchmarkIngestParallel(b *testing.B) { benchIngest(b, 0) }

// BenchmarkIngestNaive: the same callers, one transaction (one fsync) per
// ingest: the baseline group commit is measured against.
func BenchmarkIngestNaive(b *testing.B) { benchIngest(b, 1) }

// benchEnqueueJob measures acknowledged (committed, fsynced) EnqueueJob
// calls per second from 64 concurrent callers.
func benchEnqueueJob(b *testing.B, maxBatch int) {
	s, err := sqlite.OpenConfig(context.Background(), sqlite.Config{
		Path: filepath.Join(b.TempDir(), "bench.db"), MaxBatch: maxBatch,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, err := s.EnqueueJob(context.Background(), store.NewJob{
				Kind: store.JobRequest, Upstream: "stripe", Method: "POST", Path: "/v1/charges",
				Header: map[string][]string{"Content-Type": {"application/json"}}, Body: body,
				CallbackURL: "https://app.example/cb", CreatedAt: now,
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

// BenchmarkEnqueueJobParallel: group commit, as for ingests.
func BenchmarkEnqueueJobParallel(b *testing.B) { benchEnqueueJob(b, 0) }

// BenchmarkEnqueueJobNaive: one transaction (one fsync) per job.
func BenchmarkEnqueueJobNaive(b *testing.B) { benchEnqueueJob(b, 1) }
