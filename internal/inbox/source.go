package inbox

import (
	"errors"
	"fmt"
	"net/http"
	"sort"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fender-dev/fender/internal/config"
	"github.com/fender-dev/fender/internal/telemetry"
	"github.com/fender-dev/fender/webhook"
)

// defaultMaxBody applies to a source whose MaxBody is zero (one built in Go
// rather than loaded, which gets config.DefaultSource's 1 MiB).
const defaultMaxBody = 1 << 20

// source is one configured source, compiled for the hot path.
type source struct {
	name        string
	path        string
	verifier    webhook.Verifier
	eventID     config.FieldRef
	resourceKey config.FieldRef
	maxBody     int64
	keep        []string // canonical names of the headers kept on the event
	counters    counters
}

// counters are the source's fender_webhooks_received_total children,
// resolved once. Every field is nil without metrics.
type counters struct {
	vec                                                                  *prometheus.CounterVec
	accepted, duplicate, tooLarge, methodNotAllowed, storeError, badBody prometheus.Counter
}

// count increments c unless it is nil.
func count(c prometheus.Counter) {
	if c != nil {
		c.Inc()
	}
}

// rejected counts a verification failure under result "rejected_<reason>".
func (c *counters) rejected(name, reason string) {
	if c.vec != nil {
		c.vec.WithLabelValues(name, "rejected_"+reason).Inc()
	}
}

// table is the routing table of one configuration: sources by exact path.
type table struct {
	byPath map[string]*source
}

// compile builds the table for cfg, reporting every bad source at once.
func compile(cfg *config.Config, m *telemetry.Metrics) (*table, error) {
	t := &table{byPath: make(map[string]*source)}
	if cfg == nil {
		return t, nil
	}
	names := make([]string, 0, len(cfg.Sources))
	for name := range cfg.Sources {
		names = append(names, name)
	}
	sort.Strings(names)
	var errs []error
	for _, name := range names {
		s, err := compileSource(name, cfg.Sources[name], m)
		if err != nil {
			errs = append(errs, fmt.Errorf("source %s: %w", name, err))
			continue
		}
		if other, dup := t.byPath[s.path]; dup {
			errs = append(errs, fmt.Errorf("source %s: path %q is already the path of source %s", name, s.path, other.name))
			continue
		}
		t.byPath[s.path] = s
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("inbox: %w", errors.Join(errs...))
	}
	return t, nil
}

func compileSource(name string, sc *config.Source, m *telemetry.Metrics) (*source, error) {
	if sc == nil {
		return nil, errors.New("empty")
	}
	if sc.Path == "" || sc.Path[0] != '/' {
		return nil, fmt.Errorf("path %q must start with /", sc.Path)
	}
	v := sc.Verify
	ver, err := webhook.NewVerifier(webhook.Config{
		Scheme:           v.Scheme,
		Secrets:          v.AllSecrets(),
		Tolerance:        v.Tolerance,
		Header:           v.Header,
		Prefix:           v.Prefix,
		Encoding:         v.Encoding,
		Algorithm:        v.Algorithm,
		UnsafeUnverified: v.UnsafeUnverified,
	})
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	s := &source{name: name, path: sc.Path, verifier: ver, maxBody: int64(sc.MaxBody)}
	if s.maxBody <= 0 {
		s.maxBody = defaultMaxBody
	}
	if sc.EventID != "" {
		if s.eventID, err = config.ParseFieldRef(sc.EventID); err != nil {
			return nil, fmt.Errorf("event_id: %w", err)
		}
	}
	if sc.ResourceKey != "" {
		if s.resourceKey, err = config.ParseFieldRef(sc.ResourceKey); err != nil {
			return nil, fmt.Errorf("resource_key: %w", err)
		}
	}
	s.keep = keptHeaders(v, s.eventID, s.resourceKey)
	if m != nil {
		vec := m.WebhooksReceived
		s.counters = counters{
			vec:              vec,
			accepted:         vec.WithLabelValues(name, ResultAccepted),
			duplicate:        vec.WithLabelValues(name, ResultDuplicate),
			tooLarge:         vec.WithLabelValues(name, ResultTooLarge),
			methodNotAllowed: vec.WithLabelValues(name, ResultMethodNotAllowed),
			storeError:       vec.WithLabelValues(name, ResultStoreError),
			badBody:          vec.WithLabelValues(name, ResultBadRequest),
		}
	}
	return s, nil
}

// schemeHeaders are the provider headers worth keeping per scheme: message
// ids, timestamps, topics. Signatures are not kept: they are useless once
// verified and could be replayed within the tolerance.
var schemeHeaders = map[string][]string{
	webhook.SchemeStandard: {webhook.HeaderWebhookID, webhook.HeaderWebhookTimestamp},
	webhook.SchemeGitHub:   {"X-Github-Event", "X-Github-Delivery", "X-Github-Hook-Id"},
	webhook.SchemeShopify: {"X-Shopify-Topic", "X-Shopify-Webhook-Id", "X-Shopify-Event-Id",
		"X-Shopify-Shop-Domain", "X-Shopify-Triggered-At"},
	webhook.SchemeSlack: {webhook.HeaderSlackTimestamp, "X-Slack-Retry-Num", "X-Slack-Retry-Reason"},
}

// neverKept are headers that are never stored, whatever the configuration
// names: credentials and signatures.
var neverKept = map[string]bool{
	"Authorization":                true,
	"Proxy-Authorization":          true,
	"Cookie":                       true,
	"Set-Cookie":                   true,
	"Content-Type":                 true, // stored as NewEvent.ContentType
	webhook.HeaderWebhookSignature: true,
	webhook.HeaderStripeSignature:  true,
	webhook.HeaderGitHubSignature:  true,
	webhook.HeaderShopifySignature: true,
	webhook.HeaderSlackSignature:   true,
}

func keptHeaders(v config.Verify, refs ...config.FieldRef) []string {
	keep := []string{"User-Agent"}
	keep = append(keep, schemeHeaders[v.Scheme]...)
	for _, r := range refs {
		if r.Kind == config.FieldHeader {
			keep = append(keep, r.Name)
		}
	}
	out := keep[:0]
	seen := make(map[string]bool, len(keep))
	for _, k := range keep {
		k = http.CanonicalHeaderKey(k)
		if seen[k] || neverKept[k] || (v.Header != "" && k == http.CanonicalHeaderKey(v.Header)) {
			continue
		}
		seen[k] = true
		out = append(out, k)
	}
	return out
}

// headers returns the kept headers present in h, or nil.
func (s *source) headers(h http.Header) map[string]string {
	var out map[string]string
	for _, k := range s.keep {
		vs := h[k]
		if len(vs) == 0 || vs[0] == "" || !validKey(vs[0]) {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(s.keep))
		}
		out[k] = vs[0]
	}
	return out
}
