package proxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/fender-dev/fender/internal/config"
	"github.com/fender-dev/fender/internal/store"
	"github.com/fender-dev/fender/resilience"
)

// Idempotency limits and headers.
const (
	// MaxKeyLength is the longest idempotency key accepted.
	MaxKeyLength = 255
	// MaxStoredBody is the largest response body kept for replay (and the
	// largest request body of a keyed or async request).
	MaxStoredBody = 1 << 20
	// HeaderReplayed marks a response replayed from an idempotency record.
	HeaderReplayed = "Idempotent-Replayed"
)

// Categories of idempotency answers.
const (
	CategoryIdempotencyMismatch    resilience.Category = "idempotency_mismatch"
	CategoryIdempotencyInFlight    resilience.Category = "idempotency_in_flight"
	CategoryIdempotencyUnavailable resilience.Category = "idempotency_unavailable"
	CategoryPayloadTooLarge        resilience.Category = "payload_too_large"
	CategoryStoreUnavailable       resilience.Category = "store_unavailable"
)

// readBody buffers the request body (at most MaxStoredBody) so it can be
// hashed, parsed, stored and replayed. It answers 413 and returns false when
// the body is larger.
func (x *exchange) readBody() bool {
	if x.bodyRead {
		return true
	}
	x.bodyRead = true
	if x.r.ContentLength > MaxStoredBody {
		x.p.answer(x.w, x.rec, x.u, CategoryPayloadTooLarge, 0,
			fmt.Sprintf("idempotent and async requests carry at most %d bytes of body", MaxStoredBody))
		return false
	}
	b, err := io.ReadAll(io.LimitReader(x.r.Body, MaxStoredBody+1))
	x.r.Body.Close()
	if err != nil {
		x.p.answer(x.w, x.rec, x.u, resilience.CategoryCanceled, 0, "reading the request body: "+err.Error())
		return false
	}
	if len(b) > MaxStoredBody {
		x.p.answer(x.w, x.rec, x.u, CategoryPayloadTooLarge, 0,
			fmt.Sprintf("idempotent and async requests carry at most %d bytes of body", MaxStoredBody))
		return false
	}
	x.body = b
	x.r.Body = io.NopCloser(bytes.NewReader(b))
	x.r.ContentLength = int64(len(b))
	x.r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return true
}

// prepareIdempotency finds the request's idempotency key, if the upstream
// uses keys and the request has one. It answers and returns false on a bad
// key or body.
func (x *exchange) prepareIdempotency() bool {
	ref := x.u.keyFrom
	if ref.IsZero() || x.p.opts.Idempotency == nil {
		return true
	}
	var key string
	switch ref.Kind {
	case config.FieldHeader:
		key = x.r.Header.Get(ref.Name)
	case config.FieldBody:
		if !x.readBody() {
			return false
		}
		key = jsonField(x.body, ref.Path)
	}
	if key == "" {
		if x.u.cfg.Idempotency.Required && (x.r.Method == http.MethodPost || x.r.Method == http.MethodPatch) {
			x.p.answer(x.w, x.rec, x.u, CategoryBadRequest, 0,
				fmt.Sprintf("this upstream requires an idempotency key (%s) on %s requests", ref, x.r.Method))
			return false
		}
		return true
	}
	if len(key) > MaxKeyLength {
		x.p.answer(x.w, x.rec, x.u, CategoryBadRequest, 0,
			fmt.Sprintf("the idempotency key is %d characters long; at most %d are allowed", len(key), MaxKeyLength))
		return false
	}
	if !x.readBody() {
		return false
	}
	x.idemKey = key
	x.fingerprint = fingerprint(x.r.Method, x.rest, x.r.URL.RawQuery, x.body)
	return true
}

// fingerprint identifies a request for idempotency: method, path, query
// and the SHA-256 of the body.
func fingerprint(method, path, query string, body []byte) string {
	bh := sha256.Sum256(body)
	h := sha256.New()
	io.WriteString(h, method+"\n/"+path+"?"+query+"\n")
	h.Write(bh[:])
	return hex.EncodeToString(h.Sum(nil))
}

// jsonField returns the value at path in a JSON body as text: strings
// unquoted, numbers as written; "" when absent or not a scalar.
func jsonField(body []byte, path []string) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return ""
	}
	for _, k := range path {
		switch t := v.(type) {
		case map[string]any:
			v = t[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(t) {
				return ""
			}
			v = t[i]
		default:
			return ""
		}
	}
	switch t := v.(type) {
	case string:
		return t
	case json.Number:
		return t.String()
	case bool:
		return strconv.FormatBool(t)
	}
	return ""
}

// idemCtx bounds a store call that must finish even if the caller left.
func (x *exchange) idemCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(x.ctx), 5*time.Second)
}

// beginIdempotency takes the key's lock, or answers for a repeat: the
// stored response, 409 while the first is in flight, 422 when the same key
// comes with a different request. It returns false when it answered.
func (x *exchange) beginIdempotency() bool {
	if x.idemKey == "" {
		return true
	}
	ctx, cancel := x.idemCtx()
	defer cancel()
	lock := x.u.cfg.Timeout.Total + 5*time.Second
	rec, acquired, err := x.p.opts.Idempotency.BeginIdempotent(ctx, x.u.name, x.idemKey, x.fingerprint, lock, x.p.now())
	if err != nil {
		x.p.opts.Logger.Error("idempotency store unavailable", "upstream", x.u.name, "err", err.Error())
		x.p.answer(x.w, x.rec, x.u, CategoryStoreUnavailable, 5*time.Second,
			"the idempotency record could not be read or written; the request was not sent")
		return false
	}
	if acquired {
		x.idemHeld = true
		return true
	}
	return x.answerRepeat(rec)
}

// answerRepeat answers a request whose key is already taken by rec.
func (x *exchange) answerRepeat(rec store.IdemRecord) bool {
	switch {
	case rec.Fingerprint != x.fingerprint:
		x.p.answer(x.w, x.rec, x.u, CategoryIdempotencyMismatch, 0,
			"this idempotency key was used with a different request (method, path or body)")
	case rec.State == store.IdemInFlight:
		x.p.answer(x.w, x.rec, x.u, CategoryIdempotencyInFlight, time.Second,
			"a request with this idempotency key is still in flight")
	case rec.Response == nil:
		x.p.answer(x.w, x.rec, x.u, CategoryIdempotencyUnavailable, 0,
			fmt.Sprintf("the first response to this key was larger than %d bytes and was not stored, so it cannot be replayed", MaxStoredBody))
	default:
		x.replay(rec.Response)
	}
	return false
}

// replay answers with a stored response and Idempotent-Replayed: true.
func (x *exchange) replay(sr *store.StoredResponse) {
	h := x.w.Header()
	for k, v := range sr.Header {
		h[k] = v
	}
	h[HeaderUpstream] = x.u.nameHdr
	h[HeaderRequestID] = x.r.Header[HeaderRequestID]
	h.Set(HeaderReplayed, "true")
	h.Del(HeaderAttempts)
	h.Set("Content-Length", strconv.Itoa(len(sr.Body)))
	x.w.WriteHeader(sr.Status)
	if x.r.Method != http.MethodHead {
		x.w.Write(sr.Body)
	}
	x.rec.status = sr.Status
	x.rec.category = resilience.ClassifyStatus(sr.Status)
	x.rec.replayed = true
	x.p.finish(x.rec, x.u)
}

// releaseIdempotency gives the key back when the request ended without an
// upstream answer, so a repeat may run again.
func (x *exchange) releaseIdempotency() {
	if !x.idemHeld {
		return
	}
	x.idemHeld = false
	ctx, cancel := x.idemCtx()
	defer cancel()
	if err := x.p.opts.Idempotency.ReleaseIdempotent(ctx, x.u.name, x.idemKey); err != nil {
		// The lock expires on its own after the total deadline.
		x.p.opts.Logger.Warn("idempotency release failed", "upstream", x.u.name, "err", err.Error())
	}
}

// completeIdempotency stores the final response (nil: too large or cut)
// for replay until the retention ends.
func (x *exchange) completeIdempotency(resp *http.Response, body []byte, complete bool) {
	if !x.idemHeld {
		return
	}
	x.idemHeld = false
	var sr *store.StoredResponse
	if complete {
		sr = storedResponse(resp, body)
	}
	ctx, cancel := x.idemCtx()
	defer cancel()
	expires := x.p.now().Add(x.p.opts.Retention)
	if err := x.p.opts.Idempotency.CompleteIdempotent(ctx, x.u.name, x.idemKey, sr, "", expires); err != nil {
		// Left in flight, the record expires after the total deadline and
		// a repeat runs again: at least once, never silently lost.
		x.p.opts.Logger.Error("idempotency record not saved", "upstream", x.u.name, "err", err.Error())
	}
}

// storedResponse keeps what a replay needs: status, end-to-end headers
// (fender's own per-request headers left out) and body.
func storedResponse(resp *http.Response, body []byte) *store.StoredResponse {
	h := make(map[string][]string, len(resp.Header))
	for k, v := range resp.Header {
		switch k {
		case HeaderRequestID, HeaderAttempts, HeaderUpstream, "Date":
			continue
		}
		h[k] = v
	}
	if body == nil {
		body = []byte{}
	}
	return &store.StoredResponse{Status: resp.StatusCode, Header: h, Body: body}
}

// capture tees a response body to the client and a bounded buffer, for
// the idempotency record and the cache.
type capture struct {
	buf       bytes.Buffer
	overflow  bool
	clientErr error
	dst       io.Writer
	idem      bool
	cache     bool
}

// captureFor returns a capture when the response must be kept, or nil.
func (x *exchange) captureFor(resp *http.Response) *capture {
	idem, cache := x.idemHeld, x.cacheable(resp)
	if !idem && !cache {
		return nil
	}
	return &capture{idem: idem, cache: cache}
}

func (c *capture) writer(w io.Writer) io.Writer {
	c.dst = w
	return c
}

// Write keeps bytes up to MaxStoredBody and passes them on. When the
// client is gone, an idempotent exchange keeps reading the upstream body so
// the response can still be stored.
func (c *capture) Write(p []byte) (int, error) {
	if !c.overflow {
		if c.buf.Len()+len(p) > MaxStoredBody {
			c.overflow = true
			c.buf = bytes.Buffer{}
		} else {
			c.buf.Write(p)
		}
	}
	if c.clientErr == nil {
		if _, err := c.dst.Write(p); err != nil {
			c.clientErr = err
		}
	}
	if c.clientErr != nil && (!c.idem || c.overflow) {
		return 0, c.clientErr
	}
	return len(p), nil
}

// done hands the captured response to the idempotency record and cache.
// copyErr is the error that ended the copy, if any.
func (c *capture) done(x *exchange, resp *http.Response, copyErr error) {
	complete := copyErr == nil
	var body []byte
	if complete && !c.overflow {
		body = c.buf.Bytes()
	}
	if c.idem {
		x.completeIdempotency(resp, body, complete && !c.overflow)
	}
	if c.cache && copyErr == nil && !c.overflow {
		x.cachePut(resp, body)
	}
}
