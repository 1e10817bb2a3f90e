package config

import (
	"fmt"
	"io"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maskToken stands in for Mask inside URLs until they are printed.
const maskToken = "FENDERMASKEDSECRET"

// Mask is what a secret is replaced with when a config is printed.
const Mask = "****"

// Clone returns a deep copy of c.
func (c *Config) Clone() *Config {
	out := *c
	if c.Upstreams != nil {
		out.Upstreams = make(map[string]*Upstream, len(c.Upstreams))
		for name, u := range c.Upstreams {
			if u == nil {
				out.Upstreams[name] = nil
				continue
			}
			cu := *u
			if u.Headers != nil {
				cu.Headers = make(map[string]string, len(u.Headers))
				for k, v := range u.Headers {
					cu.Headers[k] = v
				}
			}
			cu.Retry.On = slices.Clone(u.Retry.On)
			if u.Fallback != nil {
				f := *u.Fallback
				cu.Fallback = &f
			}
			cu.Async.Schedule = slices.Clone(u.Async.Schedule)
			out.Upstreams[name] = &cu
		}
	}
	if c.Sources != nil {
		out.Sources = make(map[string]*Source, len(c.Sources))
		for name, s := range c.Sources {
			if s == nil {
				out.Sources[name] = nil
				continue
			}
			cs := *s
			cs.Verify.Secrets = slices.Clone(s.Verify.Secrets)
			cs.Deliver.Schedule = slices.Clone(s.Deliver.Schedule)
			if s.Refetch != nil {
				r := *s.Refetch
				cs.Refetch = &r
			}
			if s.Reconcile != nil {
				r := *s.Reconcile
				cs.Reconcile = &r
			}
			out.Sources[name] = &cs
		}
	}
	return &out
}

// Masked returns a deep copy of c with every secret replaced by Mask:
// upstream header values, admin.token, verify secrets, signing secrets and
// passwords in URLs and in the storage DSN. A whsec_/whpk_ prefix is kept
// as a hint; an empty secret stays empty so "not set" remains visible.
func (c *Config) Masked() *Config {
	m := c.Clone()
	m.Admin.Token = maskSecret(m.Admin.Token)
	m.Storage.DSN = maskDSN(m.Storage.DSN)
	for _, u := range m.Upstreams {
		if u == nil {
			continue
		}
		u.URL = maskURL(u.URL)
		for k, v := range u.Headers {
			u.Headers[k] = maskSecret(v)
		}
		u.Async.SigningSecret = maskSecret(u.Async.SigningSecret)
	}
	for _, s := range m.Sources {
		if s == nil {
			continue
		}
		s.Verify.Secret = maskSecret(s.Verify.Secret)
		for i, v := range s.Verify.Secrets {
			s.Verify.Secrets[i] = maskSecret(v)
		}
		s.Deliver.URL = maskURL(s.Deliver.URL)
		s.Deliver.SigningSecret = maskSecret(s.Deliver.SigningSecret)
	}
	return m
}

func maskSecret(s string) string {
	switch {
	case s == "":
		return ""
	case strings.HasPrefix(s, "whsec_"):
		return "whsec_" + Mask
	case strings.HasPrefix(s, "whpk_"):
		return "whpk_" + Mask
	}
	return Mask
}

// maskURL hides the password of a URL's user info and a "password" query
// parameter.
func maskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if strings.ContainsAny(raw, "@=") {
			return Mask // unparseable and may hold credentials: hide it all
		}
		return raw
	}
	changed := false
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), maskToken)
			changed = true
		}
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", maskToken)
		u.RawQuery = q.Encode()
		changed = true
	}
	if !changed {
		return raw
	}
	// url.URL escapes '*'; write the mask as is.
	return strings.ReplaceAll(u.String(), maskToken, Mask)
}

var dsnPasswordRE = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s]*)`)

// maskDSN hides the password of a PostgreSQL URL or key=value DSN.
func maskDSN(dsn string) string {
	if strings.Contains(dsn, "://") {
		return maskURL(dsn)
	}
	return dsnPasswordRE.ReplaceAllString(dsn, "${1}"+Mask)
}

// WriteEffective writes c as YAML, defaults included and secrets masked
// (see Masked): what `fender check` prints.
func (c *Config) WriteEffective(w io.Writer) error {
	return writeYAML(w, c.Masked())
}

func writeYAML(w io.Writer, c *Config) error {
	var n yaml.Node
	if err := n.Encode(c); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	shortenDurations(&n, reflect.TypeFor[Config]())
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return enc.Close()
}

// shortenDurations rewrites the durations of the encoded node n of type t
// as people write them: "168h" rather than "168h0m0s".
func shortenDurations(n *yaml.Node, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == durationType:
		if n.Kind == yaml.ScalarNode {
			n.Value = formatDuration(n.Value)
		}
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			if ft, ok := fields[n.Content[i].Value]; ok {
				shortenDurations(n.Content[i+1], ft)
			}
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			shortenDurations(n.Content[i], t.Elem())
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for _, e := range n.Content {
			shortenDurations(e, t.Elem())
		}
	}
}

// formatDuration drops the zero minutes and seconds time.Duration.String
// writes: "2h0m0s" → "2h", "5m0s" → "5m".
func formatDuration(s string) string {
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
