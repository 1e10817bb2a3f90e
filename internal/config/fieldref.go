package config

import (
	"fmt"
	"net/http"
	"strings"
)

// FieldRef points at a value in an HTTP request: a header or a field of a
// JSON body. The zero value refers to nothing.
type FieldRef struct {
	Kind string   // FieldHeader or FieldBody
	Name string   // canonical header name, for FieldHeader
	Path []string // JSON object keys (or array indexes), for FieldBody
}

// Kinds of FieldRef.
const (
	FieldHeader = "header"
	FieldBody   = "body"
)

// IsZero reports whether r refers to nothing.
func (r FieldRef) IsZero() bool { return r.Kind == "" }

// String returns r in the syntax ParseFieldRef reads.
func (r FieldRef) String() string {
	switch r.Kind {
	case FieldHeader:
		return "header:" + r.Name
	case FieldBody:
		return "body:" + strings.Join(r.Path, ".")
	}
	return ""
}

// ParseFieldRef parses "header:<Name>", "body:<json.path>" or
// "body.<json.path>" (the form used in PRODUCT.md, "body.data.object.id").
func ParseFieldRef(s string) (FieldRef, error) {
	switch {
	case strings.HasPrefix(s, "header:"):
		name := s[len("header:"):]
		if !validHeaderName(name) {
			return FieldRef{}, fmt.Errorf("%q: %q is not a valid header name", s, name)
		}
		return FieldRef{Kind: FieldHeader, Name: http.CanonicalHeaderKey(name)}, nil
	case strings.HasPrefix(s, "body:"), strings.HasPrefix(s, "body."):
		path, err := parseJSONPath(s[len("body:"):])
		if err != nil {
			return FieldRef{}, fmt.Errorf("%q: %v", s, err)
		}
		return FieldRef{Kind: FieldBody, Path: path}, nil
	}
	return FieldRef{}, fmt.Errorf("%q is not header:<Name> or body:<json.path>", s)
}

// ParseKeyFrom parses idempotency.key_from: "header" (the Idempotency-Key
// header), "header:<Name>", "body:<json.path>" or "none". It returns the
// zero FieldRef for "none".
func ParseKeyFrom(s string) (FieldRef, error) {
	switch s {
	case "none":
		return FieldRef{}, nil
	case "header":
		return FieldRef{Kind: FieldHeader, Name: "Idempotency-Key"}, nil
	}
	r, err := ParseFieldRef(s)
	if err != nil {
		return FieldRef{}, fmt.Errorf("%q is not header, header:<Name>, body:<json.path> or none", s)
	}
	return r, nil
}

// parseJSONPath splits "data.object.id" into its keys.
func parseJSONPath(s string) ([]string, error) {
	if s == "" {
		return nil, fmt.Errorf("empty JSON path")
	}
	parts := strings.Split(s, ".")
	for _, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("JSON path %q has an empty segment", s)
		}
		if strings.ContainsAny(p, " \t\r\n{}[]\"'") {
			return nil, fmt.Errorf("JSON path segment %q has a space, brace, bracket or quote", p)
		}
	}
	return parts, nil
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// placeholders returns the {…} placeholders of a refetch path template.
func placeholders(tmpl string) ([]string, error) {
	var out []string
	for {
		i := strings.IndexAny(tmpl, "{}")
		if i < 0 {
			return out, nil
		}
		if tmpl[i] == '}' {
			return nil, fmt.Errorf("unmatched '}'")
		}
		j := strings.IndexAny(tmpl[i+1:], "{}")
		if j < 0 || tmpl[i+1+j] == '{' {
			return nil, fmt.Errorf("unterminated '{'")
		}
		out = append(out, tmpl[i+1:i+1+j])
		tmpl = tmpl[i+1+j+1:]
	}
}
