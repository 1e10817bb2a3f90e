package proxy

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fender-dev/fender/internal/store"
	"github.com/fender-dev/fender/resilience"
)

// Cache answers.
const (
	HeaderCache = "Fender-Cache"
	cacheHit    = "hit"
	cacheStale  = "stale"
)

// cacheSettings is an upstream's stale-if-error cache; nil when off.
type cacheSettings struct {
	staleIfError time.Duration
	maxBytes     int64
}

// cacheMethod reports whether the request may be answered from the cache.
func (x *exchange) cacheMethod() bool {
	return x.u.cache != nil && x.p.opts.Cache != nil &&
		(x.r.Method == http.MethodGet || x.r.Method == http.MethodHead)
}

// primaryKey is the cache key of a GET (HEAD shares it).
func (x *exchange) primaryKey() string {
	return x.u.name + "\x00GET\x00" + x.rest + "?" + x.r.URL.RawQuery
}

// variantOf is the request's values of the headers a response varies on.
func variantOf(h http.Header, vary []string) string {
	if len(vary) == 0 {
		return ""
	}
	var b strings.Builder
	for _, name := range vary {
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(strings.Join(h.Values(name), ","))
		b.WriteByte('\n')
	}
	return b.String()
}

// varyNames parses a response's Vary into sorted canonical names; ok is
// false for "Vary: *" (never cached).
func varyNames(h http.Header) (names []string, ok bool) {
	for _, v := range h.Values("Vary") {
		for f := range strings.SplitSeq(v, ",") {
			f = strings.TrimSpace(f)
			if f == "*" {
				return nil, false
			}
			if f != "" {
				names = append(names, http.CanonicalHeaderKey(f))
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names), true
}

// cacheControl returns the directives of a Cache-Control header, lower
// case, with their values.
func cacheControl(h http.Header) map[string]string {
	d := map[string]string{}
	for _, v := range h.Values("Cache-Control") {
		for f := range strings.SplitSeq(v, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(f), "=")
			if name != "" {
				d[strings.ToLower(name)] = strings.Trim(val, `"`)
			}
		}
	}
	return d
}

// lookup returns the stored variant matching the request, if any.
func (x *exchange) lookup() (store.CacheEntry, bool) {
	ctx, cancel := context.WithTimeout(x.ctx, time.Second)
	defer cancel()
	entries, err := x.p.opts.Cache.CacheGet(ctx, x.primaryKey(), x.p.now())
	if err != nil {
		x.p.opts.Logger.Warn("cache read failed", "upstream", x.u.name, "err", err.Error())
		return store.CacheEntry{}, false
	}
	for _, e := range entries {
		if e.Variant == variantOf(x.r.Header, e.Vary) {
			return e, true
		}
	}
	return store.CacheEntry{}, false
}

// serveFresh answers from the cache when the upstream's own max-age still
// covers the stored response. It returns true when it answered.
func (x *exchange) serveFresh() bool {
	if !x.cacheMethod() || cacheControl(x.r.Header)["no-cache"] != "" || hasDirective(x.r.Header, "no-cache") {
		return false
	}
	e, ok := x.lookup()
	if !ok {
		return false
	}
	cc := cacheControl(e.Response.Header)
	maxAge := cc["s-maxage"]
	if maxAge == "" {
		maxAge = cc["max-age"]
	}
	secs, err := strconv.Atoi(maxAge)
	if err != nil || secs <= 0 || hasDirective(e.Response.Header, "no-cache") {
		return false
	}
	age := x.p.now().Sub(e.StoredAt)
	if age >= time.Duration(secs)*time.Second {
		return false
	}
	x.writeCached(e, cacheHit, age, "")
	return true
}

func hasDirective(h http.Header, d string) bool {
	_, ok := cacheControl(h)[d]
	return ok
}

// staleFor reports whether a failure of category c may be answered with a
// stale response.
func staleFor(c resilience.Category) bool {
	switch c {
	case resilience.CategoryTimeout, resilience.CategoryConnect, resilience.CategoryCircuitOpen,
		resilience.CategoryRateLimited, resilience.CategoryBudgetExhausted, resilience.CategoryThrottled,
		resilience.CategoryConcurrencyLimited, resilience.CategoryServerError:
		return true
	}
	return false
}

// serveStale answers a failed request with the last good response when it
// is within stale_if_error. It returns true when it answered.
func (x *exchange) serveStale(c resilience.Category) bool {
	if !x.cacheMethod() || !staleFor(c) {
		return false
	}
	e, ok := x.lookup()
	if !ok {
		return false
	}
	age := x.p.now().Sub(e.StoredAt)
	if age > x.u.cache.staleIfError {
		return false
	}
	x.writeCached(e, cacheStale, age, c)
	return true
}

// serveStaleInstead replaces an upstream 5xx with a stale response when
// one is available; it closes resp when it does.
func (x *exchange) serveStaleInstead(resp *http.Response) bool {
	if !x.cacheMethod() {
		return false
	}
	e, ok := x.lookup()
	if !ok {
		return false
	}
	age := x.p.now().Sub(e.StoredAt)
	if age > x.u.cache.staleIfError {
		return false
	}
	resp.Body.Close()
	x.writeCached(e, cacheStale, age, resilience.CategoryServerError)
	return true
}

// writeCached answers with a stored response: Fender-Cache, Age (RFC 9111,
// whole seconds) and, when stale, Last-Modified set to when it was fetched
// and Fender-Error naming what failed.
func (x *exchange) writeCached(e store.CacheEntry, kind string, age time.Duration, failed resilience.Category) {
	h := x.w.Header()
	for k, v := range e.Response.Header {
		h[k] = v
	}
	h[HeaderUpstream] = x.u.nameHdr
	h[HeaderRequestID] = x.r.Header[HeaderRequestID]
	h.Set(HeaderCache, kind)
	h.Set("Age", strconv.FormatInt(int64(age/time.Second), 10))
	h.Set("Content-Length", strconv.Itoa(len(e.Response.Body)))
	if kind == cacheStale {
		h.Set("Last-Modified", e.StoredAt.UTC().Format(http.TimeFormat))
		h.Set(HeaderError, string(failed))
		x.u.degraded[degradedStale].Inc()
		x.rec.stale = true
		x.rec.category = failed
	} else {
		x.rec.category = resilience.CategoryOK
	}
	if x.rec.attempts > 0 {
		h[HeaderAttempts] = attemptsHeader(x.rec.attempts)
	}
	x.w.WriteHeader(e.Response.Status)
	if x.r.Method != http.MethodHead {
		x.w.Write(e.Response.Body)
	}
	x.rec.status = e.Response.Status
	x.rec.cache = kind
	x.p.finish(x.rec, x.u)
}

// cacheable reports whether the response to a GET may be kept: a success
// the upstream did not mark no-store or private, not varying on everything,
// and not the answer to a caller's own credentials.
func (x *exchange) cacheable(resp *http.Response) bool {
	if !x.cacheMethod() || x.r.Method != http.MethodGet {
		return false
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusNonAuthoritativeInfo, http.StatusNoContent:
	default:
		return false
	}
	cc := cacheControl(resp.Header)
	if _, ok := cc["no-store"]; ok {
		return false
	}
	if _, ok := cc["private"]; ok {
		return false
	}
	if _, ok := cacheControl(x.r.Header)["no-store"]; ok {
		return false
	}
	if x.callerAuth {
		if _, ok := cc["public"]; !ok {
			return false
		}
	}
	_, ok := varyNames(resp.Header)
	return ok && resp.ContentLength <= MaxStoredBody
}

// cachePut stores a captured response in the background; a busy cache
// drops it rather than slow the proxy down.
func (x *exchange) cachePut(resp *http.Response, body []byte) {
	vary, _ := varyNames(resp.Header)
	e := store.CacheEntry{
		Primary:  x.primaryKey(),
		Variant:  variantOf(x.r.Header, vary),
		Upstream: x.u.name,
		Vary:     vary,
		Response: *storedResponse(resp, body),
		StoredAt: x.p.now(),
	}
	e.Response.Body = append([]byte(nil), body...)
	select {
	case x.p.cacheSlots <- struct{}{}:
	default:
		return
	}
	go func() {
		defer func() { <-x.p.cacheSlots }()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := x.p.opts.Cache.CachePut(ctx, e, x.u.cache.maxBytes); err != nil {
			x.p.opts.Logger.Warn("cache write failed", "upstream", x.u.name, "err", err.Error())
		}
	}()
}
