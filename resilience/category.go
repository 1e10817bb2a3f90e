package resilience

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/fender-dev/fender/internal/netguard"
)

// Category names why a call ended the way it did. The first group is used
// when the chain answers itself (Error.Category); the second classifies
// upstream responses that are passed through.
type Category string

// Categories of failures the chain answers itself.
const (
	CategoryTimeout              Category = "timeout"
	CategoryConnect              Category = "connect"
	CategoryCircuitOpen          Category = "circuit_open"
	CategoryBudgetExhausted      Category = "budget_exhausted"
	CategoryConcurrencyLimited   Category = "concurrency_limited"
	CategoryRateLimited          Category = "rate_limited"
	CategoryForbiddenDestination Category = "forbidden_destination"
	CategoryCanceled             Category = "canceled"
	// CategoryThrottled: rejected locally by the adaptive throttle because
	// the upstream has been failing.
	CategoryThrottled Category = "throttled"
)

// Categories of upstream responses.
const (
	CategoryOK          Category = "ok"
	CategoryServerError Category = "server_error"
	CategoryClientError Category = "client_error"
	CategoryAuth        Category = "auth"
	// CategoryRateLimited (429) is shared with the group above.
)

// ClassifyStatus returns the category of an upstream response status.
func ClassifyStatus(code int) Category {
	switch {
	case code == http.StatusTooManyRequests:
		return CategoryRateLimited
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return CategoryAuth
	case code >= 500:
		return CategoryServerError
	case code >= 400:
		return CategoryClientError
	default:
		return CategoryOK
	}
}

// Error is returned by Transport when there is no upstream response to
// pass on. Use errors.As to get it; Unwrap gives the cause.
type Error struct {
	Category Category
	Upstream string
	Attempts int
	// RetryAfter, when positive, is how long the caller should wait
	// (circuit_open, rate_limited).
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s after %d attempt(s): %v", e.Upstream, e.Category, e.Attempts, e.Err)
	}
	return fmt.Sprintf("%s: %s after %d attempt(s)", e.Upstream, e.Category, e.Attempts)
}

func (e *Error) Unwrap() error { return e.Err }

// Sentinel causes wrapped in Error.
var (
	ErrAttemptTimeout     = errors.New("attempt timeout")
	ErrTotalTimeout       = errors.New("total deadline passed")
	ErrCircuitOpen        = errors.New("circuit breaker open")
	ErrConcurrencyLimited = errors.New("concurrency limit reached")
	ErrRateLimited        = errors.New("local rate limit reached")
	ErrUpstreamPaused     = errors.New("upstream paused after 429 with Retry-After")
	ErrBudgetExhausted    = errors.New("retry budget exhausted")
	ErrThrottled          = errors.New("adaptive throttle: the upstream has been failing")
)

// errClass is what the chain learns from a transport error.
type errClass struct {
	category  Category
	transient bool // a retry may help (subject to Retry.On)
	// beforeSend: provably nothing was sent (dial, DNS), so retrying is safe
	// for every method.
	beforeSend bool
}

// classifyError classifies the error of one attempt. wrote reports whether
// any request header was written to a connection.
func classifyError(err error, wrote bool) errClass {
	var denied *netguard.DeniedError
	if errors.As(err, &denied) {
		return errClass{category: CategoryForbiddenDestination}
	}
	if errors.Is(err, ErrAttemptTimeout) {
		return errClass{category: CategoryTimeout, transient: true}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return errClass{category: CategoryTimeout}
	}
	if errors.Is(err, context.Canceled) {
		return errClass{category: CategoryCanceled}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return errClass{category: CategoryConnect, transient: true, beforeSend: true}
	}
	// TLS failures are connect failures, but retrying does not fix a
	// certificate.
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recErr tls.RecordHeaderError
	if errors.As(err, &certErr) || errors.As(err, &unknownAuth) || errors.As(err, &hostErr) || errors.As(err, &recErr) {
		return errClass{category: CategoryConnect}
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return errClass{category: CategoryConnect, transient: true, beforeSend: true}
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return errClass{category: CategoryConnect, transient: true, beforeSend: true}
	}
	// Reset, EOF or any other failure before a response.
	return errClass{category: CategoryConnect, transient: true, beforeSend: !wrote}
}

// idempotentMethod reports whether HTTP defines method as idempotent.
func idempotentMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}
