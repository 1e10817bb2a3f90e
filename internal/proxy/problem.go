package proxy

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/fender-dev/fender/resilience"
)

// Categories fender answers without an upstream; the others come from
// resilience.
const (
	CategoryUnknownUpstream resilience.Category = "unknown_upstream"
	CategoryBadRequest      resilience.Category = "bad_request"
	CategoryNotFound        resilience.Category = "not_found"
)

// StatusCanceled is logged when the caller went away (nginx's 499).
const StatusCanceled = 499

// Status maps a category fender answers itself to its HTTP status. This is
// the one place the mapping lives.
func Status(c resilience.Category) int {
	switch c {
	case resilience.CategoryTimeout:
		return http.StatusGatewayTimeout
	case resilience.CategoryConnect:
		return http.StatusBadGateway
	case resilience.CategoryCircuitOpen, resilience.CategoryBudgetExhausted, resilience.CategoryConcurrencyLimited,
		resilience.CategoryThrottled:
		return http.StatusServiceUnavailable
	case resilience.CategoryRateLimited:
		return http.StatusTooManyRequests
	case CategoryUnknownUpstream:
		return http.StatusNotFound
	case resilience.CategoryForbiddenDestination:
		return http.StatusForbidden
	case resilience.CategoryCanceled:
		return StatusCanceled
	case CategoryBadRequest:
		return http.StatusBadRequest
	case CategoryNotFound:
		return http.StatusNotFound
	case CategoryIdempotencyMismatch:
		return http.StatusUnprocessableEntity
	case CategoryIdempotencyInFlight, CategoryIdempotencyUnavailable:
		return http.StatusConflict
	case CategoryPayloadTooLarge:
		return http.StatusRequestEntityTooLarge
	case CategoryStoreUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadGateway
}

var titles = map[resilience.Category]string{
	resilience.CategoryTimeout:              "Upstream timed out",
	resilience.CategoryConnect:              "Upstream unreachable",
	resilience.CategoryCircuitOpen:          "Circuit breaker open",
	resilience.CategoryBudgetExhausted:      "Retry budget exhausted",
	resilience.CategoryConcurrencyLimited:   "Concurrency limit reached",
	resilience.CategoryRateLimited:          "Rate limited",
	resilience.CategoryForbiddenDestination: "Forbidden destination",
	resilience.CategoryCanceled:             "Client closed request",
	resilience.CategoryThrottled:            "Throttled",
	CategoryUnknownUpstream:                 "Unknown upstream",
	CategoryBadRequest:                      "Bad request",
	CategoryNotFound:                        "Not found",
	CategoryIdempotencyMismatch:             "Idempotency key reused with a different request",
	CategoryIdempotencyInFlight:             "Request with this idempotency key in flight",
	CategoryIdempotencyUnavailable:          "Stored response unavailable",
	CategoryPayloadTooLarge:                 "Payload too large",
	CategoryStoreUnavailable:                "Store unavailable",
}

// Problem is an RFC 9457 problem detail with fender's extension members.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Category  string `json:"category"`
	Upstream  string `json:"upstream,omitempty"`
	Attempts  int    `json:"attempts"`
	RequestID string `json:"request_id,omitempty"`
}

// ProblemType is the type URI of a category's problem.
func ProblemType(c resilience.Category) string { return "urn:fender:problem:" + string(c) }

// WriteProblem answers with a problem+json body and Fender-Error. A
// positive retryAfter sets Retry-After in whole seconds.
func WriteProblem(w http.ResponseWriter, p Problem, retryAfter time.Duration) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Fender-Error", p.Category)
	h.Set("Cache-Control", "no-store")
	if retryAfter > 0 {
		h.Set("Retry-After", resilience.RetryAfterHeader(retryAfter))
	}
	body, _ := json.Marshal(p)
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(p.Status)
	w.Write(append(body, '\n'))
}

func newProblem(c resilience.Category, upstream string, attempts int, requestID, detail string) Problem {
	return Problem{
		Type:      ProblemType(c),
		Title:     titles[c],
		Status:    Status(c),
		Detail:    detail,
		Category:  string(c),
		Upstream:  upstream,
		Attempts:  attempts,
		RequestID: requestID,
	}
}
