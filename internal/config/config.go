package config

import (
	"time"

	"github.com/fender-dev/fender/resilience"
	"go.yaml.in/yaml/v3"
)

// Config is the whole of fender.yaml (PRODUCT.md §3). Build one with Default,
// Load or Parse; treat it as read-only afterwards.
type Config struct {
	Listen  Listen  `yaml:"listen"`
	Storage Storage `yaml:"storage"`
	Admin   Admin   `yaml:"admin"`
	Log     Log     `yaml:"log"`
	// ShutdownTimeout bounds the graceful drain on SIGTERM/SIGINT.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	Limits          Limits        `yaml:"limits"`

	Upstreams map[string]*Upstream `yaml:"upstreams,omitempty"`
	Sources   map[string]*Source   `yaml:"sources,omitempty"`

	// src remembers where the config came from, for line numbers in
	// Validate. It is nil for a Config built in Go.
	src *origin
}

// Listen holds the three listener addresses (host:port). An empty address
// means the listener is not opened; a key absent from the file keeps its
// default.
type Listen struct {
	Proxy    string `yaml:"proxy"`
	Webhooks string `yaml:"webhooks"`
	Admin    string `yaml:"admin"`
}

// Storage selects the store.
type Storage struct {
	Driver string `yaml:"driver"` // DriverSQLite or DriverPostgres
	DSN    string `yaml:"dsn"`
	// Retention is how long events, jobs, idempotency records and attempts
	// are kept.
	Retention time.Duration `yaml:"retention"`
}

// Storage drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Limits protects fender itself from overload.
type Limits struct {
	// MaxInFlight bounds proxied calls in flight across every upstream.
	// Calls to non-critical upstreams are shed once three quarters of it
	// is in use, so critical ones keep the rest; 0 means no limit.
	MaxInFlight int `yaml:"max_in_flight"`
}

// Admin configures the admin listener.
type Admin struct {
	// Token is the bearer token of the admin API. Required when the admin
	// listener is not on a loopback address.
	Token string `yaml:"token"`
}

// Log configures the process logger.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // json | text
}

// Upstream is one third-party API reached through the egress proxy at
// {proxy}/{name}/...
type Upstream struct {
	URL string `yaml:"url"`
	// Critical upstreams are protected; non-critical ones are shed first,
	// fail fast and may have a Fallback.
	Critical bool `yaml:"critical"`
	// Headers are set on every request to the upstream. Their values are
	// secrets: never logged, masked when printed.
	Headers map[string]string `yaml:"headers,omitempty"`

	resilience.Policy `yaml:",inline"`

	Cache       Cache       `yaml:"cache"`
	Fallback    *Fallback   `yaml:"fallback,omitempty"`
	Idempotency Idempotency `yaml:"idempotency"`
	Async       Async       `yaml:"async"`
	// AllowPrivateNetwork lets the proxy dial loopback, private and
	// link-local addresses for this upstream.
	AllowPrivateNetwork bool `yaml:"allow_private_network"`
}

// Cache configures stale-if-error caching of GET/HEAD responses.
type Cache struct {
	// StaleIfError > 0 keeps successful responses that long and serves them
	// when the upstream fails. 0 turns the cache off.
	StaleIfError time.Duration `yaml:"stale_if_error"`
	// MaxBytes bounds the stored bodies of the upstream; the least
	// recently used responses are evicted beyond it.
	MaxBytes ByteSize `yaml:"max_bytes"`
}

// Fallback is the response a non-critical upstream gives when it fails.
type Fallback struct {
	Status      int    `yaml:"status"`
	Body        string `yaml:"body"`
	ContentType string `yaml:"content_type"`
}

// Idempotency says where the idempotency key of a request comes from.
type Idempotency struct {
	// KeyFrom is "header" (the Idempotency-Key header), "header:<Name>",
	// "body:<json.path>" or "none". See ParseKeyFrom.
	KeyFrom string `yaml:"key_from"`
	// Required refuses POST and PATCH requests that carry no key (400),
	// for upstreams where an accidental double call is never acceptable.
	Required bool `yaml:"required"`
}

// Async configures Prefer: respond-async jobs of an upstream.
type Async struct {
	// Schedule lists the waits before each attempt.
	Schedule []time.Duration `yaml:"schedule"`
	// SigningSecret (whsec_…) signs Fender-Callback posts.
	SigningSecret string `yaml:"signing_secret"`
}

// Source is one webhook provider posting to {webhooks}{path}.
type Source struct {
	Path   string `yaml:"path"`
	Verify Verify `yaml:"verify"`
	// EventID is "header:<Name>" or "body:<json.path>" (also written
	// "body.<json.path>"); empty means the SHA-256 of the body.
	EventID string `yaml:"event_id"`
	// ResourceKey has the EventID syntax and names the resource an event is
	// about, for ordering and stale suppression.
	ResourceKey string     `yaml:"resource_key"`
	MaxBody     ByteSize   `yaml:"max_body"`
	Deliver     Deliver    `yaml:"deliver"`
	Refetch     *Refetch   `yaml:"refetch,omitempty"`
	Reconcile   *Reconcile `yaml:"reconcile,omitempty"`
}

// Verify configures signature verification of a source.
type Verify struct {
	Scheme string `yaml:"scheme"` // one of Schemes()
	Secret string `yaml:"secret"`
	// Secrets lists more secrets accepted during a rotation.
	Secrets []string `yaml:"secrets,omitempty"`
	// Tolerance bounds the age of timestamped messages.
	Tolerance time.Duration `yaml:"tolerance"`
	// Header, Prefix, Encoding (hex|base64) and Algorithm (sha256|sha512)
	// configure scheme hmac; they are empty for the other schemes.
	Header    string `yaml:"header,omitempty"`
	Prefix    string `yaml:"prefix,omitempty"`
	Encoding  string `yaml:"encoding,omitempty"`
	Algorithm string `yaml:"algorithm,omitempty"`
	// UnsafeUnverified must be true for scheme none.
	UnsafeUnverified bool `yaml:"unsafe_unverified,omitempty"`
}

// AllSecrets returns Secret followed by Secrets, empty strings left out.
func (v Verify) AllSecrets() []string {
	var out []string
	if v.Secret != "" {
		out = append(out, v.Secret)
	}
	for _, s := range v.Secrets {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Signature schemes of Verify.Scheme.
const (
	SchemeStandard = "standard"
	SchemeStripe   = "stripe"
	SchemeGitHub   = "github"
	SchemeShopify  = "shopify"
	SchemeSlack    = "slack"
	SchemeHMAC     = "hmac"
	SchemeNone     = "none"
)

// Schemes returns the known signature schemes.
func Schemes() []string {
	return []string{SchemeStandard, SchemeStripe, SchemeGitHub, SchemeShopify, SchemeSlack, SchemeHMAC, SchemeNone}
}

// Deliver configures delivery of accepted events to the application.
type Deliver struct {
	URL string `yaml:"url"`
	// SigningSecret (whsec_…) signs deliveries (Standard Webhooks v1).
	SigningSecret string        `yaml:"signing_secret"`
	Timeout       time.Duration `yaml:"timeout"`
	// Schedule lists the delays before each attempt (±20% jitter); after
	// the last one the event is dead.
	Schedule    []time.Duration `yaml:"schedule"`
	Concurrency int             `yaml:"concurrency"`
	Order       string          `yaml:"order"` // OrderNone or OrderPerKey
}

// Values of Deliver.Order.
const (
	OrderNone   = "none"
	OrderPerKey = "per_key"
)

// Refetch fetches the current state of the resource through an upstream
// before delivery. Path may hold placeholders such as {body.id}.
type Refetch struct {
	Upstream string `yaml:"upstream"`
	Path     string `yaml:"path"`
}

// Reconcile periodically lists the provider's events through an upstream
// and feeds the ones the inbox never received.
type Reconcile struct {
	Upstream string        `yaml:"upstream"`
	Path     string        `yaml:"path"`
	Every    time.Duration `yaml:"every"`
	// Items is the JSON path of the event array in the list response;
	// empty means the response is the array.
	Items string `yaml:"items"`
	// ID is the JSON path of the event id inside one item.
	ID string `yaml:"id"`
	// CursorParam is the query parameter carrying the newest id seen;
	// empty means no cursor.
	CursorParam string `yaml:"cursor_param"`
}

// DefaultSchedule is the default of Deliver.Schedule and Async.Schedule.
func DefaultSchedule() []time.Duration {
	return []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute,
		2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
}

// Default returns the configuration fender runs with when no file is given:
// the defaults of PRODUCT.md §3, no upstreams and no sources.
func Default() *Config {
	return &Config{
		Listen: Listen{
			Proxy:    "127.0.0.1:8080",
			Webhooks: "127.0.0.1:8443",
			Admin:    "127.0.0.1:9090",
		},
		Storage:         Storage{Driver: DriverSQLite, DSN: "./fender.db", Retention: 168 * time.Hour},
		Log:             Log{Level: "info", Format: "json"},
		ShutdownTimeout: 20 * time.Second,
		Limits:          Limits{MaxInFlight: 4096},
	}
}

// DefaultUpstream returns an upstream with every default of §3 and no URL.
func DefaultUpstream() *Upstream {
	return &Upstream{
		Critical:    true,
		Policy:      resilience.DefaultPolicy(),
		Idempotency: Idempotency{KeyFrom: "header"},
		Async:       Async{Schedule: DefaultSchedule()},
		Cache:       Cache{MaxBytes: 64 << 20},
	}
}

// DefaultSource returns a source with every default of §3 and no path,
// scheme or delivery URL.
func DefaultSource() *Source {
	return &Source{
		Verify:  Verify{Tolerance: 5 * time.Minute},
		MaxBody: 1 << 20,
		Deliver: Deliver{
			Timeout:     10 * time.Second,
			Schedule:    DefaultSchedule(),
			Concurrency: 8,
			Order:       OrderNone,
		},
	}
}

// DefaultReconcile returns the defaults of a reconcile section.
func DefaultReconcile() *Reconcile {
	return &Reconcile{Every: 5 * time.Minute, ID: "id"}
}

// Upstream returns the upstream called name.
func (c *Config) Upstream(name string) (*Upstream, bool) {
	u, ok := c.Upstreams[name]
	return u, ok && u != nil
}

// Source returns the source called name.
func (c *Config) Source(name string) (*Source, bool) {
	s, ok := c.Sources[name]
	return s, ok && s != nil
}

// UnmarshalYAML decodes an upstream on top of DefaultUpstream, so absent
// keys keep their defaults.
func (u *Upstream) UnmarshalYAML(n *yaml.Node) error {
	type plain Upstream
	*u = *DefaultUpstream()
	return n.Decode((*plain)(u))
}

// UnmarshalYAML decodes a source on top of DefaultSource.
func (s *Source) UnmarshalYAML(n *yaml.Node) error {
	type plain Source
	*s = *DefaultSource()
	return n.Decode((*plain)(s))
}

// UnmarshalYAML decodes a reconcile section on top of DefaultReconcile.
func (r *Reconcile) UnmarshalYAML(n *yaml.Node) error {
	type plain Reconcile
	*r = *DefaultReconcile()
	return n.Decode((*plain)(r))
}
