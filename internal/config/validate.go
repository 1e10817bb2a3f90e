package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fender-dev/fender/resilience"
)

// Problem is one thing wrong with a configuration.
type Problem struct {
	Key  string // dotted key, e.g. "upstreams.stripe.retry.max_attempts"; empty for syntax errors
	Line int    // line in the file, 0 when unknown
	Msg  string
}

// ValidationError lists every problem of a configuration.
type ValidationError struct {
	File     string // the file name given to Parse or Load; may be empty
	Problems []Problem
}

// Error prints one problem per line as "file:line: key: message", leaving
// out the parts that are unknown.
func (e *ValidationError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		switch {
		case e.File != "" && p.Line > 0:
			fmt.Fprintf(&b, "%s:%d: ", e.File, p.Line)
		case e.File != "":
			b.WriteString(e.File + ": ")
		case p.Line > 0:
			fmt.Fprintf(&b, "line %d: ", p.Line)
		}
		if p.Key != "" {
			b.WriteString(p.Key + ": ")
		}
		b.WriteString(p.Msg)
	}
	return b.String()
}

// nameRE is the syntax of upstream and source names: they appear in URL
// paths ({proxy}/{upstream}/…) and metric labels.
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// validator collects problems.
type validator struct {
	c        *Config
	problems []Problem
}

func (v *validator) bad(key, format string, args ...any) {
	v.problems = append(v.problems, Problem{Key: key, Line: v.c.lineOf(key), Msg: fmt.Sprintf(format, args...)})
}

// lineOf returns the line of key, or of its nearest ancestor written in the
// file, or 0.
func (c *Config) lineOf(key string) int {
	if c.src == nil {
		return 0
	}
	for key != "" {
		if l, ok := c.src.lines[key]; ok {
			return l
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			return 0
		}
		key = key[:i]
	}
	return 0
}

// Validate checks the whole configuration and returns a *ValidationError
// listing every problem, or nil.
func (c *Config) Validate() error {
	v := &validator{c: c}
	v.listen()
	v.storage()
	v.log()
	v.limits()
	if c.ShutdownTimeout <= 0 {
		v.bad("shutdown_timeout", "must be greater than 0")
	}
	for _, name := range sortedKeys(c.Upstreams) {
		v.upstream(name, c.Upstreams[name])
	}
	paths := make(map[string]string)
	for _, name := range sortedKeys(c.Sources) {
		v.source(name, c.Sources[name], paths)
	}
	if len(v.problems) == 0 {
		return nil
	}
	sortProblems(v.problems)
	file := ""
	if c.src != nil {
		file = c.src.file
	}
	return &ValidationError{File: file, Problems: v.problems}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// sortProblems orders problems by line, those without a line last, keeping
// the order of equal lines.
func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		li, lj := ps[i].Line, ps[j].Line
		if li == 0 || lj == 0 {
			return li != 0 && lj == 0
		}
		return li < lj
	})
}

func (v *validator) listen() {
	type addr struct{ key, host, port string }
	var addrs []addr
	for _, l := range []struct{ key, val string }{
		{"listen.proxy", v.c.Listen.Proxy},
		{"listen.webhooks", v.c.Listen.Webhooks},
		{"listen.admin", v.c.Listen.Admin},
	} {
		if l.val == "" {
			continue // not opened
		}
		host, port, err := net.SplitHostPort(l.val)
		if err != nil {
			v.bad(l.key, "%q is not host:port (write 127.0.0.1:8080 or :8080, or empty to not open it)", l.val)
			continue
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			v.bad(l.key, "%q: port %q is not a number from 0 to 65535", l.val, port)
			continue
		}
		for _, a := range addrs {
			if a.port == port && port != "0" && (a.host == host || wildcardHost(a.host) || wildcardHost(host)) {
				v.bad(l.key, "%q overlaps %s %q: each listener needs its own address", l.val, a.key, joinHostPort(a.host, a.port))
			}
		}
		addrs = append(addrs, addr{l.key, host, port})
	}
	if v.c.Listen.Admin != "" && !v.c.Listen.AdminOnLoopback() && v.c.Admin.Token == "" {
		line := v.c.lineOf("admin.token")
		if line == 0 {
			line = v.c.lineOf("listen.admin")
		}
		v.problems = append(v.problems, Problem{Key: "admin.token", Line: line,
			Msg: fmt.Sprintf("required when listen.admin (%q) is not a loopback address", v.c.Listen.Admin)})
	}
}

func joinHostPort(h, p string) string { return net.JoinHostPort(h, p) }

func wildcardHost(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }

// AdminOnLoopback reports whether the admin listener is bound to a loopback
// address (localhost, 127.0.0.0/8, ::1). It is false when the listener is
// off or its address does not parse.
func (l Listen) AdminOnLoopback() bool {
	return onLoopback(l.Admin)
}

func onLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (v *validator) storage() {
	s := v.c.Storage
	switch s.Driver {
	case DriverSQLite:
	case DriverPostgres:
		if s.DSN != "" && !strings.HasPrefix(s.DSN, "postgres://") && !strings.HasPrefix(s.DSN, "postgresql://") && !strings.Contains(s.DSN, "=") {
			v.bad("storage.dsn", "is not a PostgreSQL URL (postgres://user@host/db) or key=value string")
		}
	default:
		v.bad("storage.driver", "%q is not sqlite or postgres", s.Driver)
	}
	if s.DSN == "" {
		v.bad("storage.dsn", "must not be empty")
	}
	if s.Retention <= 0 {
		v.bad("storage.retention", "must be greater than 0")
	}
}

func (v *validator) limits() {
	if v.c.Limits.MaxInFlight < 0 {
		v.bad("limits.max_in_flight", "must not be negative (0 means no limit)")
	}
}

func (v *validator) log() {
	switch v.c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.bad("log.level", "%q is not debug, info, warn or error", v.c.Log.Level)
	}
	switch v.c.Log.Format {
	case "json", "text":
	default:
		v.bad("log.format", "%q is not json or text", v.c.Log.Format)
	}
}

func (v *validator) upstream(name string, u *Upstream) {
	p := "upstreams." + name
	if !nameRE.MatchString(name) {
		v.bad(p, "name %q must be lowercase letters, digits, '-' and '_', starting with a letter or digit (it is a URL path segment)", name)
	}
	if u == nil {
		v.bad(p, "is empty: an upstream needs at least a url")
		return
	}
	v.httpURL(p+".url", u.URL, false)
	for h, val := range u.Headers {
		if !validHeaderName(h) {
			v.bad(p+".headers", "%q is not a valid header name", h)
		}
		if strings.ContainsAny(val, "\r\n\x00") {
			v.bad(p+".headers."+h, "value must not contain a line break or NUL")
		}
	}
	for _, err := range u.Policy.Validate() {
		var fe *resilience.FieldError
		if errors.As(err, &fe) {
			v.bad(p+"."+fe.Key, "%s", fe.Msg)
		} else {
			v.bad(p, "%v", err)
		}
	}
	if u.Cache.MaxBytes < 0 {
		v.bad(p+".cache.max_bytes", "must not be negative")
	}
	if u.Cache.StaleIfError < 0 {
		v.bad(p+".cache.stale_if_error", "must not be negative (0 turns the cache off)")
	}
	if f := u.Fallback; f != nil {
		if u.Critical {
			v.bad(p+".fallback", "only allowed on an upstream with critical: false")
		}
		if f.Status < 100 || f.Status > 599 {
			v.bad(p+".fallback.status", "%d is not an HTTP status from 100 to 599", f.Status)
		}
		if strings.ContainsAny(f.ContentType, "\r\n\x00") {
			v.bad(p+".fallback.content_type", "must not contain a line break or NUL")
		}
	}
	if ref, err := ParseKeyFrom(u.Idempotency.KeyFrom); err != nil {
		v.bad(p+".idempotency.key_from", "%v", err)
	} else if ref.IsZero() && u.Idempotency.Required {
		v.bad(p+".idempotency.required", "needs a key_from other than none")
	}
	v.schedule(p+".async.schedule", u.Async.Schedule)
	v.signingSecret(p+".async.signing_secret", u.Async.SigningSecret)
}

// httpURL checks an absolute http(s) URL. withQuery allows a query.
func (v *validator) httpURL(key, raw string, withQuery bool) {
	if raw == "" {
		v.bad(key, "required")
		return
	}
	u, err := url.Parse(raw)
	if err != nil {
		v.bad(key, "%q is not a URL", raw)
		return
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		v.bad(key, "%q must start with http:// or https://", raw)
		return
	}
	if u.Host == "" || u.Hostname() == "" {
		v.bad(key, "%q has no host", raw)
		return
	}
	if u.Fragment != "" || (!withQuery && (u.RawQuery != "" || u.ForceQuery)) {
		v.bad(key, "%q must not have a query or fragment", raw)
	}
}

func (v *validator) schedule(key string, s []time.Duration) {
	if len(s) == 0 {
		v.bad(key, "must list at least one wait (e.g. [0s, 5s, 5m])")
	}
	for i, d := range s {
		if d < 0 {
			v.bad(fmt.Sprintf("%s[%d]", key, i), "%s is negative", d)
		}
	}
}

// signingSecret checks an optional whsec_ secret fender signs with.
func (v *validator) signingSecret(key, s string) {
	if s == "" {
		return
	}
	if err := checkWhsec(s); err != nil {
		v.bad(key, "%v", err)
	}
}

func checkWhsec(s string) error {
	rest, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		return errors.New("must start with whsec_ followed by base64 (a Standard Webhooks secret)")
	}
	b, err := decodeBase64(rest)
	if err != nil || len(b) == 0 {
		return errors.New("the part after whsec_ is not base64")
	}
	return nil
}

func checkWhpk(s string) error {
	b, err := decodeBase64(strings.TrimPrefix(s, "whpk_"))
	if err != nil || len(b) != 32 {
		return errors.New("the part after whpk_ is not a base64 ed25519 public key (32 bytes)")
	}
	return nil
}

func decodeBase64(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

func (v *validator) source(name string, s *Source, paths map[string]string) {
	p := "sources." + name
	if !nameRE.MatchString(name) {
		v.bad(p, "name %q must be lowercase letters, digits, '-' and '_', starting with a letter or digit", name)
	}
	if s == nil {
		v.bad(p, "is empty: a source needs path, verify and deliver")
		return
	}
	switch {
	case s.Path == "":
		v.bad(p+".path", "required (e.g. /webhooks/%s)", name)
	case !strings.HasPrefix(s.Path, "/"):
		v.bad(p+".path", "%q must start with /", s.Path)
	case strings.ContainsAny(s.Path, "?# \t\r\n%") || path.Clean(s.Path) != s.Path:
		v.bad(p+".path", "%q must be a clean path without query, fragment, spaces or escapes", s.Path)
	default:
		if other, dup := paths[s.Path]; dup {
			v.bad(p+".path", "%q is already the path of source %s", s.Path, other)
		} else {
			paths[s.Path] = name
		}
	}
	v.verify(p+".verify", s.Verify)
	if s.EventID != "" {
		if _, err := ParseFieldRef(s.EventID); err != nil {
			v.bad(p+".event_id", "%v", err)
		}
	}
	if s.ResourceKey != "" {
		if _, err := ParseFieldRef(s.ResourceKey); err != nil {
			v.bad(p+".resource_key", "%v", err)
		}
	}
	if s.MaxBody <= 0 {
		v.bad(p+".max_body", "must be greater than 0")
	}

	d := s.Deliver
	v.httpURL(p+".deliver.url", d.URL, true)
	v.signingSecret(p+".deliver.signing_secret", d.SigningSecret)
	if d.Timeout <= 0 {
		v.bad(p+".deliver.timeout", "must be greater than 0")
	}
	v.schedule(p+".deliver.schedule", d.Schedule)
	if d.Concurrency < 1 {
		v.bad(p+".deliver.concurrency", "must be at least 1")
	}
	switch d.Order {
	case OrderNone:
	case OrderPerKey:
		if s.ResourceKey == "" {
			v.bad(p+".deliver.order", "per_key needs resource_key")
		}
	default:
		v.bad(p+".deliver.order", "%q is not none or per_key", d.Order)
	}

	if r := s.Refetch; r != nil {
		v.upstreamRef(p+".refetch.upstream", r.Upstream)
		v.requestPath(p+".refetch.path", r.Path)
		if phs, err := placeholders(r.Path); err != nil {
			v.bad(p+".refetch.path", "%q: %v", r.Path, err)
		} else {
			for _, ph := range phs {
				if _, err := ParseFieldRef(ph); err != nil {
					v.bad(p+".refetch.path", "placeholder {%s}: %v", ph, err)
				}
			}
		}
	}
	if r := s.Reconcile; r != nil {
		v.upstreamRef(p+".reconcile.upstream", r.Upstream)
		v.requestPath(p+".reconcile.path", r.Path)
		if r.Every <= 0 {
			v.bad(p+".reconcile.every", "must be greater than 0")
		}
		if r.Items != "" {
			if _, err := parseJSONPath(r.Items); err != nil {
				v.bad(p+".reconcile.items", "%v", err)
			}
		}
		if _, err := parseJSONPath(r.ID); err != nil {
			v.bad(p+".reconcile.id", "%v", err)
		}
		if strings.ContainsAny(r.CursorParam, "&=?# \t\r\n") {
			v.bad(p+".reconcile.cursor_param", "%q is not a plain query parameter name", r.CursorParam)
		}
	}
}

func (v *validator) upstreamRef(key, name string) {
	if name == "" {
		v.bad(key, "required: the upstream to call")
		return
	}
	if _, ok := v.c.Upstream(name); !ok {
		v.bad(key, "%q is not an upstream defined under upstreams", name)
	}
}

func (v *validator) requestPath(key, p string) {
	if !strings.HasPrefix(p, "/") {
		v.bad(key, "%q must start with /", p)
	} else if strings.ContainsAny(p, " \t\r\n#") {
		v.bad(key, "%q must not contain spaces or a fragment", p)
	}
}

func (v *validator) verify(p string, vf Verify) {
	if !slices.Contains(Schemes(), vf.Scheme) {
		if vf.Scheme == "" {
			v.bad(p+".scheme", "required: one of %s", strings.Join(Schemes(), ", "))
		} else {
			v.bad(p+".scheme", "%q is not one of %s", vf.Scheme, strings.Join(Schemes(), ", "))
		}
		return
	}
	secrets := vf.AllSecrets()
	if vf.Scheme == SchemeNone {
		if !vf.UnsafeUnverified {
			v.bad(p+".unsafe_unverified", "scheme none accepts unsigned webhooks from anyone: set unsafe_unverified: true to mean it")
		}
		if len(secrets) > 0 {
			v.bad(p+".secret", "scheme none takes no secret")
		}
	} else {
		if vf.UnsafeUnverified {
			v.bad(p+".unsafe_unverified", "only applies to scheme none")
		}
		if len(secrets) == 0 {
			v.bad(p+".secret", "required for scheme %s", vf.Scheme)
		}
	}
	if vf.Scheme == SchemeStandard {
		check := func(key, s string) {
			var err error
			if strings.HasPrefix(s, "whpk_") {
				err = checkWhpk(s)
			} else if err = checkWhsec(s); err != nil {
				err = errors.New("must be whsec_<base64> (or whpk_<base64> for an ed25519 public key)")
			}
			if err != nil {
				v.bad(key, "%v", err)
			}
		}
		if vf.Secret != "" {
			check(p+".secret", vf.Secret)
		}
		for i, s := range vf.Secrets {
			check(fmt.Sprintf("%s.secrets[%d]", p, i), s)
		}
	}
	for i, s := range vf.Secrets {
		if s == "" {
			v.bad(fmt.Sprintf("%s.secrets[%d]", p, i), "is empty")
		}
	}
	if vf.Tolerance <= 0 {
		v.bad(p+".tolerance", "must be greater than 0")
	}
	if vf.Scheme == SchemeHMAC {
		if !validHeaderName(vf.Header) {
			v.bad(p+".header", "scheme hmac needs the name of the signature header, e.g. X-Signature")
		}
		if vf.Encoding != "hex" && vf.Encoding != "base64" {
			v.bad(p+".encoding", "%q is not hex or base64", vf.Encoding)
		}
		if vf.Algorithm != "sha256" && vf.Algorithm != "sha512" {
			v.bad(p+".algorithm", "%q is not sha256 or sha512", vf.Algorithm)
		}
	} else {
		for _, f := range []struct{ key, val string }{
			{"header", vf.Header}, {"prefix", vf.Prefix}, {"encoding", vf.Encoding}, {"algorithm", vf.Algorithm},
		} {
			if f.val != "" {
				v.bad(p+"."+f.key, "only applies to scheme hmac")
			}
		}
	}
}
