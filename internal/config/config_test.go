package config

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fender-dev/fender/resilience"
	"go.yaml.in/yaml/v3"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// fullEnv sets every variable examples/full.yaml refers to.
var fullEnv = map[string]string{
	"FENDER_ADMIN_TOKEN":     "adm-tok-6b1f0c2e9a",
	"STRIPE_KEY":             "sk_live_51Hq8example9key",
	"STRIPE_WEBHOOK_SECRET":  "whsec_stripeSigningSecret42",
	"FENDER_CALLBACK_SECRET": "whsec_Y2FsbGJhY2stc2VjcmV0LWJ5dGVz",
	"FENDER_DELIVERY_SECRET": "whsec_ZGVsaXZlcnktc2VjcmV0LWJ5dGVz",
	"BILLING_SECRET":         "billing-old-7f3a",
	"BILLING_SECRET_NEXT":    "billing-new-8c2d",
}

const minimal = `
upstreams:
  api: { url: https://api.example.com }
sources:
  s:
    path: /webhooks/s
    verify: { scheme: github, secret: x }
    deliver: { url: http://127.0.0.1:3000/hooks }
    reconcile: { upstream: api, path: /v1/events }
`

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal), "minimal.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	u, s := c.Upstreams["api"], c.Sources["s"]
	sched := []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
	tests := []struct {
		key       string
		got, want any
	}{
		{"listen.proxy", c.Listen.Proxy, "127.0.0.1:8080"},
		{"listen.webhooks", c.Listen.Webhooks, "127.0.0.1:8443"},
		{"listen.admin", c.Listen.Admin, "127.0.0.1:9090"},
		{"storage.driver", c.Storage.Driver, "sqlite"},
		{"storage.dsn", c.Storage.DSN, "./fender.db"},
		{"storage.retention", c.Storage.Retention, 168 * time.Hour},
		{"admin.token", c.Admin.Token, ""},
		{"log.level", c.Log.Level, "info"},
		{"log.format", c.Log.Format, "json"},
		{"shutdown_timeout", c.ShutdownTimeout, 20 * time.Second},
		{"critical", u.Critical, true},
		{"headers", len(u.Headers), 0},
		{"timeout.attempt", u.Timeout.Attempt, 5 * time.Second},
		{"timeout.total", u.Timeout.Total, 15 * time.Second},
		{"retry.max_attempts", u.Retry.MaxAttempts, 3},
		{"retry.backoff.base", u.Retry.Backoff.Base, 100 * time.Millisecond},
		{"retry.backoff.max", u.Retry.Backoff.Max, 5 * time.Second},
		{"retry.on", u.Retry.On, []string{"connect", "timeout", "429", "502", "503", "504"}},
		{"retry.unsafe_methods", u.Retry.UnsafeMethods, "idempotent_only"},
		{"retry.retry_after_max", u.Retry.RetryAfterMax, 30 * time.Second},
		{"retry.budget", u.Retry.Budget, resilience.Percent(0.20)},
		{"breaker.failure_rate", u.Breaker.FailureRate, resilience.Percent(0.50)},
		{"breaker.min_requests", u.Breaker.MinRequests, 20},
		{"breaker.window", u.Breaker.Window, 30 * time.Second},
		{"breaker.open_for", u.Breaker.OpenFor, 10 * time.Second},
		{"breaker.half_open_probes", u.Breaker.HalfOpenProbes, 1},
		{"concurrency.max", u.Concurrency.Max, 100},
		{"rate_limit.rps", u.RateLimit.RPS, 0.0},
		{"rate_limit.burst", u.RateLimit.Burst, 0},
		{"cache.stale_if_error", u.Cache.StaleIfError, time.Duration(0)},
		{"fallback", u.Fallback, (*Fallback)(nil)},
		{"idempotency.key_from", u.Idempotency.KeyFrom, "header"},
		{"async.schedule", u.Async.Schedule, sched},
		{"async.signing_secret", u.Async.SigningSecret, ""},
		{"allow_private_network", u.AllowPrivateNetwork, false},
		{"verify.tolerance", s.Verify.Tolerance, 5 * time.Minute},
		{"event_id", s.EventID, ""},
		{"max_body", s.MaxBody, ByteSize(1 << 20)},
		{"deliver.timeout", s.Deliver.Timeout, 10 * time.Second},
		{"deliver.schedule", s.Deliver.Schedule, sched},
		{"deliver.concurrency", s.Deliver.Concurrency, 8},
		{"deliver.order", s.Deliver.Order, "none"},
		{"refetch", s.Refetch, (*Refetch)(nil)},
		{"reconcile.every", s.Reconcile.Every, 5 * time.Minute},
		{"reconcile.id", s.Reconcile.ID, "id"},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %#v, want %#v", tt.key, tt.got, tt.want)
		}
	}
	// Default() itself is valid and equal to parsing an empty file.
	if err := Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
	for _, empty := range []string{"", "# nothing\n", "---\n", "~\n", "{}\n"} {
		c, err := Parse([]byte(empty), "empty.yaml", nil)
		if err != nil {
			t.Fatalf("Parse(%q): %v", empty, err)
		}
		c.src = nil
		if !reflect.DeepEqual(c, Default()) {
			t.Errorf("Parse(%q) differs from Default()", empty)
		}
	}
	// Defaults are fresh values, not shared.
	a, b := DefaultUpstream(), DefaultUpstream()
	a.Async.Schedule[0] = time.Hour
	a.Retry.On[0] = "x"
	if b.Async.Schedule[0] != 0 || b.Retry.On[0] != "connect" {
		t.Error("DefaultUpstream shares slices between calls")
	}
}

func TestPresentButEmptyTurnsOff(t *testing.T) {
	c, err := Parse([]byte("listen:\n  webhooks: ''\n  admin:\n"), "x.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen.Proxy != "127.0.0.1:8080" || c.Listen.Webhooks != "" || c.Listen.Admin != "" {
		t.Errorf("listen = %+v, want proxy default, webhooks and admin off", c.Listen)
	}
	// An empty section keeps its defaults.
	c, err = Parse([]byte("listen:\nstorage:\n"), "x.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != Default().Listen || c.Storage != Default().Storage {
		t.Errorf("empty sections lost their defaults: %+v %+v", c.Listen, c.Storage)
	}
	// An upstream written with nothing under it gets the defaults, then
	// fails for its missing url.
	_, err = Parse([]byte("upstreams:\n  api:\n"), "x.yaml", nil)
	wantProblem(t, err, Problem{Key: "upstreams.api.url", Line: 2, Msg: "required"})
}

func TestOverrides(t *testing.T) {
	c, err := Parse([]byte(`
upstreams:
  api:
    url: https://api.example.com/v2
    critical: false
    timeout: { attempt: 250ms }
    retry: { budget: 12.5%, on: [connect, 503] }
    async: { schedule: [1s, 1m] }
    fallback: { status: 503 }
sources:
  s:
    path: /webhooks/s
    max_body: 512KiB
    verify: { scheme: hmac, secret: x, header: X-Sig }
    deliver: { url: http://127.0.0.1:3000/hooks, concurrency: 2 }
`), "x.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	u := c.Upstreams["api"]
	if u.Critical || u.Timeout.Attempt != 250*time.Millisecond || u.Timeout.Total != 15*time.Second {
		t.Errorf("upstream = %+v", u)
	}
	if u.Retry.Budget != 0.125 || !reflect.DeepEqual(u.Retry.On, []string{"connect", "503"}) || u.Retry.MaxAttempts != 3 {
		t.Errorf("retry = %+v", u.Retry)
	}
	if !reflect.DeepEqual(u.Async.Schedule, []time.Duration{time.Second, time.Minute}) {
		t.Errorf("async.schedule = %v", u.Async.Schedule)
	}
	s := c.Sources["s"]
	if s.MaxBody != 512<<10 || s.Deliver.Concurrency != 2 || s.Deliver.Timeout != 10*time.Second {
		t.Errorf("source = %+v", s)
	}
	if s.Verify.Encoding != "hex" || s.Verify.Algorithm != "sha256" {
		t.Errorf("hmac defaults = %q %q", s.Verify.Encoding, s.Verify.Algorithm)
	}
	if got, ok := c.Upstream("api"); !ok || got != u {
		t.Errorf("Upstream(api) = %v, %v", got, ok)
	}
	if _, ok := c.Upstream("nope"); ok {
		t.Error("Upstream(nope) found")
	}
}

func TestExpand(t *testing.T) {
	e := env(map[string]string{"A": "alpha", "EMPTY": "", "N_1": "one"})
	tests := []struct {
		in, want, err string
	}{
		{"x: ${A}", "x: alpha", ""},
		{"x: ${A:-d}", "x: alpha", ""},
		{"x: ${UNSET}", "x: ", ""},
		{"x: ${UNSET:-d e f}", "x: d e f", ""},
		{"x: ${EMPTY:-d}", "x: d", ""},
		{"x: ${UNSET:-}", "x: ", ""},
		{"x: ${N_1}${A}", "x: onealpha", ""},
		{"x: $$", "x: $", ""},
		{"x: $${A}", "x: ${A}", ""},
		{"x: $$$${A}", "x: $${A}", ""},
		{"x: $A $ {A} a$", "x: $A $ {A} a$", ""},
		{"x: p@$s", "x: p@$s", ""},
		{"a: 1\nx: ${A", "", "line 2: unterminated ${"},
		{"x: ${A\n}", "", "line 1: unterminated ${"},
		{"x: ${}", "", "invalid variable name"},
		{"x: ${1A}", "", "invalid variable name"},
		{"x: ${A-d}", "", "invalid variable name"},
	}
	for _, tt := range tests {
		got, err := Expand(tt.in, e)
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Expand(%q) error = %v, want %q", tt.in, err, tt.err)
			}
		case err != nil:
			t.Errorf("Expand(%q): %v", tt.in, err)
		case got != tt.want:
			t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// Through Parse: expanded values land in the config.
	c, err := Parse([]byte("admin: { token: \"${TOK:-fallback}\" }\nlog: { level: \"${LVL}\" }\n"), "x.yaml",
		env(map[string]string{"LVL": "debug"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Admin.Token != "fallback" || c.Log.Level != "debug" {
		t.Errorf("expanded = %q %q", c.Admin.Token, c.Log.Level)
	}
}

// TestYAMLDurations pins what yaml.v3 does with durations, which the checker
// relies on and guards.
func TestYAMLDurations(t *testing.T) {
	var v struct{ D time.Duration }
	if err := yaml.Unmarshal([]byte("d: 5s"), &v); err != nil || v.D != 5*time.Second {
		t.Errorf("yaml.v3 decodes 5s as %v, %v", v.D, err)
	}
	if err := yaml.Unmarshal([]byte("d: 5"), &v); err == nil {
		t.Errorf("yaml.v3 decodes a bare 5 into a duration as %v; the checker must refuse it", v.D)
	}
	_, err := Parse([]byte("shutdown_timeout: 5\n"), "x.yaml", nil)
	wantProblem(t, err, Problem{Key: "shutdown_timeout", Line: 1, Msg: "has no unit"})
	_, err = Parse([]byte("shutdown_timeout: \"5\"\n"), "x.yaml", nil)
	wantProblem(t, err, Problem{Key: "shutdown_timeout", Line: 1, Msg: "not a duration"})
}

// wantProblem fails unless err is a *ValidationError with a problem for
// want.Key on want.Line whose message contains want.Msg.
func wantProblem(t *testing.T, err error, want Problem) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error = %v (%T), want a *ValidationError", err, err)
	}
	for _, p := range ve.Problems {
		if p.Key == want.Key && p.Line == want.Line && strings.Contains(p.Msg, want.Msg) {
			return
		}
	}
	t.Errorf("no problem %q at line %d containing %q in:\n%v", want.Key, want.Line, want.Msg, err)
}

func TestBrokenFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/broken/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 15 {
		t.Fatalf("only %d broken fixtures", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var wants []Problem
			for _, line := range strings.Split(string(data), "\n") {
				rest, ok := strings.CutPrefix(line, "# want: ")
				if !ok {
					continue
				}
				ln, rest, _ := strings.Cut(rest, ": ")
				key, msg, _ := strings.Cut(rest, ": ")
				n, err := strconv.Atoi(ln)
				if err != nil {
					t.Fatalf("bad want line %q", line)
				}
				wants = append(wants, Problem{Key: key, Line: n, Msg: msg})
			}
			if len(wants) == 0 {
				t.Fatal("fixture has no # want: line")
			}
			_, err = Parse(data, f, env(map[string]string{"FENDER_ADMIN_TOKEN": "t"}))
			if err == nil {
				t.Fatal("Parse succeeded on a broken config")
			}
			for _, w := range wants {
				wantProblem(t, err, w)
				// The printed form carries file:line: key.
				prefix := f + ":" + strconv.Itoa(w.Line) + ": "
				if w.Key != "" {
					prefix += w.Key + ": "
				}
				if !strings.Contains(err.Error(), prefix) {
					t.Errorf("Error() lacks %q:\n%s", prefix, err)
				}
			}
			if len(wants) > 1 {
				var ve *ValidationError
				errors.As(err, &ve)
				if len(ve.Problems) < len(wants) {
					t.Errorf("%d problems reported, want at least %d", len(ve.Problems), len(wants))
				}
			}
		})
	}
}

func TestManyProblemsAtOnce(t *testing.T) {
	// One problem of each stage: a type error the checker catches, an
	// unknown key and semantic problems from Validate.
	data := []byte(`listen: { admin: "0.0.0.0:9090" }
upstreams:
  api:
    url: nope
    timeout: { attempt: 5 }
    retry: { max_attempts: 0, budget: x% }
    colour: blue
sources:
  s:
    path: /s
    verify: { scheme: none }
    deliver: { url: http://127.0.0.1:3000 }
`)
	_, err := Parse(data, "many.yaml", nil)
	for _, w := range []Problem{
		{Key: "admin.token", Line: 1, Msg: "required"},
		{Key: "upstreams.api.url", Line: 4, Msg: "http"},
		{Key: "upstreams.api.timeout.attempt", Line: 5, Msg: "no unit"},
		{Key: "upstreams.api.retry.max_attempts", Line: 6, Msg: "at least 1"},
		{Key: "upstreams.api.retry.budget", Line: 6, Msg: "percentage"},
		{Key: "upstreams.api.colour", Line: 7, Msg: "unknown key"},
		{Key: "sources.s.verify.unsafe_unverified", Line: 11, Msg: "unsafe_unverified: true"},
	} {
		wantProblem(t, err, w)
	}
	// One problem per line, in line order.
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 7 {
		t.Errorf("%d lines, want 7:\n%s", len(lines), err)
	}
}

func TestValidateWithoutFile(t *testing.T) {
	c := Default()
	c.Log.Level = "loud"
	c.Upstreams = map[string]*Upstream{"api": DefaultUpstream()}
	err := c.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 2 {
		t.Fatalf("Validate() = %v", err)
	}
	if got := err.Error(); got != "log.level: \"loud\" is not debug, info, warn or error\nupstreams.api.url: required" {
		t.Errorf("Error() = %q", got)
	}
}

func TestExamples(t *testing.T) {
	for _, f := range []string{"../../examples/quickstart.yaml", "../../examples/full.yaml"} {
		c, err := Load(f, env(fullEnv))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(c.Upstreams) == 0 {
			t.Errorf("%s: no upstreams", f)
		}
	}
	c, err := Load("../../examples/full.yaml", env(fullEnv))
	if err != nil {
		t.Fatal(err)
	}
	if c.Upstreams["stripe"].Headers["Authorization"] != "Bearer "+fullEnv["STRIPE_KEY"] {
		t.Errorf("header = %q", c.Upstreams["stripe"].Headers["Authorization"])
	}
	if got := c.Sources["billing"].Verify.AllSecrets(); !reflect.DeepEqual(got, []string{"billing-old-7f3a", "billing-new-8c2d"}) {
		t.Errorf("billing secrets = %q", got)
	}
	// Without the environment the secrets are missing, and Load says so.
	_, err = Load("../../examples/full.yaml", nil)
	wantProblem(t, err, Problem{Key: "sources.stripe.verify.secret", Line: lineOf(t, "../../examples/full.yaml", "secret: \"${STRIPE_WEBHOOK_SECRET}\""), Msg: "required"})

	_, err = Load("testdata/does-not-exist.yaml", nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want ErrNotExist", err)
	}
}

func TestMasked(t *testing.T) {
	secrets := map[string]string{
		"ADMIN":    "adm-9d8c7b6a5f4e",
		"HDR":      "sk_live_0123456789abcdef",
		"HDR2":     "x-api-key-fedcba9876",
		"VERIFY":   "whsec_dmVyaWZ5LXNlY3JldC0x",
		"VERIFY2":  "whsec_dmVyaWZ5LXNlY3JldC0y",
		"DELIVER":  "whsec_ZGVsaXZlci1zZWNyZXQ=",
		"CALLBACK": "whsec_Y2FsbGJhY2stc2VjcmV0",
		"PGPASS":   "pg-p4ssw0rd-xyz",
		"URLPASS":  "url-pass-7777",
		"PK":       "whpk_" + "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
	}
	data := []byte(`
storage: { driver: postgres, dsn: "postgres://fender:${PGPASS}@db.internal:5432/fender?sslmode=require" }
admin: { token: "${ADMIN}" }
upstreams:
  api:
    url: "https://user:${URLPASS}@api.example.com"
    headers: { Authorization: "Bearer ${HDR}", X-Api-Key: "${HDR2}" }
    async: { signing_secret: "${CALLBACK}" }
sources:
  s:
    path: /webhooks/s
    verify: { scheme: standard, secret: "${VERIFY}", secrets: ["${VERIFY2}", "${PK}"] }
    deliver: { url: http://127.0.0.1:3000/hooks, signing_secret: "${DELIVER}" }
`)
	c, err := Parse(data, "secrets.yaml", env(secrets))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := c.WriteEffective(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for name, s := range secrets {
		secretPart := strings.TrimPrefix(strings.TrimPrefix(s, "whsec_"), "whpk_")
		if strings.Contains(out, secretPart) {
			t.Errorf("secret %s (%q) appears in the effective config:\n%s", name, s, out)
		}
	}
	for _, want := range []string{"whsec_****", "whpk_****", "fender:****@db.internal", "user:****@api.example.com", "Authorization: '****'"} {
		if !strings.Contains(out, want) {
			t.Errorf("effective config lacks %q:\n%s", want, out)
		}
	}
	// Masking copies: the original keeps its secrets.
	if c.Admin.Token != secrets["ADMIN"] || c.Upstreams["api"].Headers["Authorization"] != "Bearer "+secrets["HDR"] {
		t.Error("Masked changed the original config")
	}
	// Also the key=value DSN form.
	for dsn, want := range map[string]string{
		"host=db user=fender password=" + secrets["PGPASS"] + " dbname=f": "host=db user=fender password=**** dbname=f",
		"host=db password='" + secrets["PGPASS"] + " x' dbname=f":         "host=db password=**** dbname=f",
		"postgres://db/f?password=" + secrets["PGPASS"]:                   "postgres://db/f?password=****",
	} {
		if got := maskDSN(dsn); got != want {
			t.Errorf("maskDSN(%q) = %q, want %q", dsn, got, want)
		}
	}
}

func TestEffectiveRoundTrip(t *testing.T) {
	c, err := Load("../../examples/full.yaml", env(fullEnv))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeYAML(&buf, c); err != nil {
		t.Fatal(err)
	}
	c2, err := Parse(buf.Bytes(), "effective.yaml", nil)
	if err != nil {
		t.Fatalf("effective config does not load: %v\n%s", err, buf.String())
	}
	c.src, c2.src = nil, nil
	if !reflect.DeepEqual(c, c2) {
		t.Errorf("round trip changed the config:\n%s", buf.String())
	}
	// The masked form loads too, apart from the masked secrets.
	buf.Reset()
	if err := c.WriteEffective(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "retention: 168h\n") || !strings.Contains(buf.String(), "- 5m\n") || !strings.Contains(buf.String(), "tolerance: 5m\n") {
		t.Errorf("durations not readable:\n%s", buf.String())
	}
}

func TestFieldRef(t *testing.T) {
	tests := []struct {
		in   string
		want FieldRef
		err  bool
	}{
		{"header:X-Event-Id", FieldRef{Kind: FieldHeader, Name: "X-Event-Id"}, false},
		{"header:x-github-delivery", FieldRef{Kind: FieldHeader, Name: "X-Github-Delivery"}, false},
		{"body:id", FieldRef{Kind: FieldBody, Path: []string{"id"}}, false},
		{"body.data.object.id", FieldRef{Kind: FieldBody, Path: []string{"data", "object", "id"}}, false},
		{"body:items.0.id", FieldRef{Kind: FieldBody, Path: []string{"items", "0", "id"}}, false},
		{"header:", FieldRef{}, true},
		{"header:Bad Name", FieldRef{}, true},
		{"body:", FieldRef{}, true},
		{"body.", FieldRef{}, true},
		{"body:a..b", FieldRef{}, true},
		{"id", FieldRef{}, true},
		{"", FieldRef{}, true},
	}
	for _, tt := range tests {
		got, err := ParseFieldRef(tt.in)
		if (err != nil) != tt.err || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseFieldRef(%q) = %+v, %v", tt.in, got, err)
		}
		if err == nil {
			again, err := ParseFieldRef(got.String())
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("ParseFieldRef(%q.String()) = %+v, %v", tt.in, again, err)
			}
		}
	}
	for in, want := range map[string]FieldRef{
		"header":          {Kind: FieldHeader, Name: "Idempotency-Key"},
		"none":            {},
		"body:order_id":   {Kind: FieldBody, Path: []string{"order_id"}},
		"header:X-Req-Id": {Kind: FieldHeader, Name: "X-Req-Id"},
	} {
		got, err := ParseKeyFrom(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseKeyFrom(%q) = %+v, %v", in, got, err)
		}
	}
	if _, err := ParseKeyFrom("cookie"); err == nil {
		t.Error("ParseKeyFrom(cookie) succeeded")
	}
}

func TestByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
		err  bool
	}{
		{"1MiB", 1 << 20, false},
		{"512KiB", 512 << 10, false},
		{"10MB", 10_000_000, false},
		{"1kb", 1000, false},
		{"2 GiB", 2 << 30, false},
		{"4k", 4096, false},
		{"100", 100, false},
		{"100B", 100, false},
		{"0", 0, false},
		{"", 0, true},
		{"MiB", 0, true},
		{"-1", 0, true},
		{"1.5MiB", 0, true},
		{"1 lots", 0, true},
		{"99999999999999GiB", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseByteSize(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseByteSize(%q) = %d, %v", tt.in, got, err)
		}
		if err == nil {
			again, err := ParseByteSize(got.String())
			if err != nil || again != got {
				t.Errorf("ParseByteSize(%q) = %d, %v", got.String(), again, err)
			}
		}
	}
}

func TestAdminOnLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:9090": true,
		"127.0.0.2:9090": true,
		"[::1]:9090":     true,
		"localhost:9090": true,
		":9090":          false,
		"0.0.0.0:9090":   false,
		"10.0.0.5:9090":  false,
		"admin.lan:9090": false,
		"":               false,
		"garbage":        false,
	} {
		if got := (Listen{Admin: addr}).AdminOnLoopback(); got != want {
			t.Errorf("AdminOnLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestExpandSkipsComments(t *testing.T) {
	in := "# token: ${UNTERMINATED\n  # ${A}\nx: ${A} # ${A}\n#last ${"
	want := "# token: ${UNTERMINATED\n  # ${A}\nx: v # v\n#last ${"
	got, err := Expand(in, env(map[string]string{"A": "v"}))
	if err != nil || got != want {
		t.Errorf("Expand = %q, %v; want %q", got, err, want)
	}
	_, err = Expand("# ok ${\n\nx: ${B\n", nil)
	if err == nil || !strings.Contains(err.Error(), "line 3:") {
		t.Errorf("error = %v, want it on line 3", err)
	}
}

func TestMergeKeys(t *testing.T) {
	c, err := Parse([]byte(`
upstreams:
  a: &base
    url: https://a.example.com
    timeout: { attempt: 1s, total: 3s }
  b:
    <<: *base
    url: https://b.example.com
`), "merge.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	b := c.Upstreams["b"]
	if b.URL != "https://b.example.com" || b.Timeout.Attempt != time.Second || b.Retry.MaxAttempts != 3 {
		t.Errorf("merged upstream = %+v", b)
	}
	_, err = Parse([]byte("upstreams:\n  a: &base\n    url: https://a.example.com\n    bogus: 1\n  b:\n    <<: *base\n"), "merge.yaml", nil)
	wantProblem(t, err, Problem{Key: "upstreams.a.bogus", Line: 4, Msg: "unknown key"})
}

func TestParseConcurrently(t *testing.T) {
	data, err := os.ReadFile("../../examples/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	for range 8 {
		go func() {
			c, err := Parse(data, "full.yaml", env(fullEnv))
			if err == nil {
				err = c.WriteEffective(io.Discard)
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// lineOf returns the 1-based line of the first line of file containing s.
func lineOf(t *testing.T, file, s string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%s has no line containing %q", file, s)
	return 0
}
