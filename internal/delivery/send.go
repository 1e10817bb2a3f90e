package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/fender-dev/fender/internal/store"
	"github.com/fender-dev/fender/resilience"
)

// Error categories recorded on attempts (store.Attempt.Category).
const (
	CategoryTimeout     = "timeout"
	CategoryConnect     = "connect"
	CategoryServerError = "server_error"
	CategoryClientError = "client_error"
	CategoryRateLimited = "rate_limited"
)

// verdict is what one response (or failure) means for the event.
type verdict int

const (
	verdictDelivered verdict = iota // 2xx
	verdictRetry                    // 408, 409, 425, 429, 5xx, timeout, connection error
	verdictDead                     // any other status: the app rejected it
)

// result is one delivery attempt as it happened on the wire.
type result struct {
	status     int
	category   string
	err        string // empty on 2xx
	excerpt    string
	duration   time.Duration
	retryAfter time.Duration
	hasRA      bool
	verdict    verdict
	canceled   bool // stopped by Stop: nothing to record
}

// classify maps an HTTP status to its verdict and error category.
func classify(code int) (verdict, string) {
	switch {
	case code >= 200 && code < 300:
		return verdictDelivered, ""
	case code == http.StatusTooManyRequests:
		return verdictRetry, CategoryRateLimited
	case code == http.StatusRequestTimeout, code == http.StatusConflict, code == http.StatusTooEarly:
		return verdictRetry, CategoryClientError
	case code >= 500:
		return verdictRetry, CategoryServerError
	default: // other 4xx, and 1xx/3xx, which a webhook endpoint should never answer
		return verdictDead, CategoryClientError
	}
}

// breakerFailure reports whether r says the destination is unhealthy: only
// those outcomes open the breaker. A 4xx that is the app's judgement of one
// event (409, 425, 400, …) proves the app is up.
func (r *result) breakerFailure() bool {
	switch r.category {
	case CategoryTimeout, CategoryConnect, CategoryServerError, CategoryRateLimited:
		return true
	}
	return r.status == http.StatusRequestTimeout
}

// headers of a delivery request.
const (
	hdrWebhookID   = "Webhook-Id"
	hdrWebhookTS   = "Webhook-Timestamp"
	hdrWebhookSig  = "Webhook-Signature"
	hdrSource      = "Fender-Source"
	hdrEventID     = "Fender-Event-Id"
	hdrAttempt     = "Fender-Attempt"
	hdrResourceKey = "Fender-Resource-Key"
)

// maxDrain is how much of a response body beyond the excerpt is read so the
// connection can be reused.
const maxDrain = 64 << 10

// send POSTs ev to d's URL as attempt n. base is cancelled only when Stop
// gives up waiting; the attempt has its own deadline of d.timeout.
func (s *Service) send(base context.Context, d *dest, ev *store.Event, n int) result {
	ctx, cancel := context.WithTimeout(base, d.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(ev.Body))
	if err != nil {
		// Validated configs cannot get here; retry rather than kill events
		// over a configuration mistake.
		return result{verdict: verdictRetry, category: CategoryConnect, err: fmt.Sprintf("build request: %v", err)}
	}
	ts := s.now()
	h := req.Header
	if ev.ContentType != "" {
		h.Set("Content-Type", ev.ContentType)
	}
	h.Set("User-Agent", "fender")
	h.Set(hdrWebhookID, ev.ID)
	h.Set(hdrWebhookTS, strconv.FormatInt(ts.Unix(), 10))
	if d.signer != nil {
		h.Set(hdrWebhookSig, d.signer.Sign(ev.ID, ts, ev.Body))
	}
	h.Set(hdrSource, ev.Source)
	h.Set(hdrEventID, ev.EventID)
	h.Set(hdrAttempt, strconv.Itoa(n))
	if ev.ResourceKey != "" {
		h.Set(hdrResourceKey, ev.ResourceKey)
	}

	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		r := result{duration: time.Since(start), err: err.Error(), verdict: verdictRetry}
		switch {
		case base.Err() != nil:
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
	r.verdict, r.category = classify(resp.StatusCode)
	if r.verdict != verdictDelivered {
		r.err = "HTTP " + resp.Status
		r.retryAfter, r.hasRA = resilience.ParseRetryAfter(resp.Header.Get("Retry-After"), ts)
	}
	return r
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// newClient returns the default delivery client: no environment proxy (the
// app is usually on loopback), no redirects, generous keep-alive pools.
func newClient() *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{
		Transport: &http.Transport{
			DialContext:           dialer.DialContext,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   5 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
