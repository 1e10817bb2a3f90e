package telemetry

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds every fender_ metric of PRODUCT.md §8 in its own registry.
// Safe for concurrent use.
type Metrics struct {
	Registry *prometheus.Registry

	UpstreamRequests *prometheus.CounterVec   // upstream, category
	UpstreamAttempts *prometheus.CounterVec   // upstream, outcome
	UpstreamDuration *prometheus.HistogramVec // upstream
	WebhooksReceived *prometheus.CounterVec   // source, result
	Deliveries       *prometheus.CounterVec   // source, result
	DeliveryDuration *prometheus.HistogramVec // source
	Jobs             *prometheus.CounterVec   // upstream, result
	Degraded         *prometheus.CounterVec   // upstream, kind
}

// NewMetrics registers fender's metrics and the Go and process collectors
// in a new registry.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	buckets := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	m := &Metrics{
		Registry: reg,
		UpstreamRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fender_upstream_requests_total", Help: "Proxied requests by upstream and final category.",
		}, []string{"upstream", "category"}),
		UpstreamAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fender_upstream_attempts_total", Help: "Attempts sent upstream by outcome category.",
		}, []string{"upstream", "outcome"}),
		UpstreamDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "fender_upstream_request_duration_seconds", Help: "Proxied request duration, retries included, until response headers.",
			Buckets: buckets,
		}, []string{"upstream"}),
		WebhooksReceived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fender_webhooks_received_total", Help: "Webhooks received by source and result.",
		}, []string{"source", "result"}),
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fender_deliveries_total", Help: "Delivery attempts by source and result.",
		}, []string{"source", "result"}),
		DeliveryDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "fender_delivery_duration_seconds", Help: "Delivery attempt duration.", Buckets: buckets,
		}, []string{"source"}),
		Jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fender_jobs_total", Help: "Async jobs finished by upstream and result.",
		}, []string{"upstream", "result"}),
		Degraded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fender_degraded_total", Help: "Degraded answers (stale, fallback, shed) by upstream and kind.",
		}, []string{"upstream", "kind"}),
	}
	reg.MustRegister(m.UpstreamRequests, m.UpstreamAttempts, m.UpstreamDuration, m.WebhooksReceived,
		m.Deliveries, m.DeliveryDuration, m.Jobs, m.Degraded)
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}
