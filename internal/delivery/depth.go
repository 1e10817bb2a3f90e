package delivery

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fender-dev/fender/internal/store"
)

// queueDepthDesc is fender_queue_depth; kind is "webhook" here.
var queueDepthDesc = prometheus.NewDesc("fender_queue_depth",
	"Queued work by kind and state.", []string{"kind", "state"}, nil)

// depthScrapeTimeout bounds the store query behind one scrape.
const depthScrapeTimeout = 2 * time.Second

// depthCollector reports the event queue, summed over sources, at scrape
// time. It is unchecked (Describe sends nothing) so other kinds may report
// the same family.
type depthCollector struct {
	st  store.Store
	log *slog.Logger
}

func (c *depthCollector) Describe(chan<- *prometheus.Desc) {}

func (c *depthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), depthScrapeTimeout)
	defer cancel()
	depth, err := c.st.QueueDepth(ctx)
	if err != nil {
		c.log.Warn("queue depth unavailable", "err", err)
		return
	}
	sums := map[string]int{store.StatusPending: 0, store.StatusDelivered: 0, store.StatusDead: 0, store.StatusSuperseded: 0}
	for _, byState := range depth {
		for state, n := range byState {
			sums[state] += n
		}
	}
	for state, n := range sums {
		ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(n), "webhook", state)
	}
}
