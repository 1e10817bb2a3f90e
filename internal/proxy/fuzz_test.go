package proxy

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzRoute feeds arbitrary request targets to the router: it must never
// panic, and whatever it builds must point at the configured upstream host,
// below its base path.
func FuzzRoute(f *testing.F) {
	for _, s := range []string{"/api/v1/x", "/api/", "/api", "/", "//x", "/api/a%2Fb?q=1", "/api/../x", "/api/%2e%2e/x",
		"/api/a/./b", "http://evil/api/x", "*", "/api/%zz", "/api/\x00", "/%61pi/x", "/api//double"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://api.example.com/base")
	u := &upstream{name: "api", base: base}
	f.Fuzz(func(t *testing.T, target string) {
		r := &http.Request{Method: "GET", RequestURI: target}
		parsed, err := url.ParseRequestURI(target)
		if err != nil {
			return // net/http answers 400 before the handler
		}
		r.URL = parsed
		name, rest, ok := splitRoute(r)
		if !ok {
			return
		}
		if strings.Contains(name, "/") {
			t.Fatalf("upstream name %q contains a slash", name)
		}
		out, err := u.target(rest, parsed.RawQuery)
		if err != nil {
			return
		}
		if out.Scheme != "https" || out.Host != "api.example.com" {
			t.Fatalf("target %q escaped to %s://%s", target, out.Scheme, out.Host)
		}
		if !strings.HasPrefix(out.Path, "/base/") {
			t.Fatalf("target %q left the base path: %q", target, out.Path)
		}
		for _, seg := range strings.Split(out.Path, "/") {
			if seg == ".." {
				t.Fatalf("target %q kept a dot segment: %q", target, out.Path)
			}
		}
		// The string form must parse back to the same host.
		back, err := url.Parse(out.String())
		if err != nil || back.Host != "api.example.com" {
			t.Fatalf("target %q built %q which reparses to host %v (%v)", target, out.String(), back, err)
		}
	})
}
