package config

import (
	"fmt"
	"strings"
)

// expandError is a problem found while expanding ${VAR} references.
type expandError struct {
	Line int
	Msg  string
}

func (e *expandError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Expand replaces ${VAR} and ${VAR:-default} in s with values from getenv
// (a nil getenv has no variables). "$$" is a literal "$"; a "$" followed by
// anything else is kept as is. ${VAR} of an unset or empty variable is
// empty; ${VAR:-default} is default then. An unterminated "${" or an invalid
// name is an error naming the line. Defaults cannot hold "}" or nest.
// Lines whose first non-blank character is "#" (comments) are left alone,
// so a commented-out ${VAR} is never an error.
func Expand(s string, getenv func(string) string) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	line := 1
	for i := 0; i < len(s); i++ {
		if i == 0 || s[i-1] == '\n' {
			if j := strings.IndexByte(s[i:], '\n'); strings.HasPrefix(strings.TrimLeft(s[i:], " \t"), "#") {
				if j < 0 {
					b.WriteString(s[i:])
					break
				}
				b.WriteString(s[i : i+j+1])
				i += j
				line++
				continue
			}
		}
		c := s[i]
		if c == '\n' {
			line++
		}
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '{':
		default:
			b.WriteByte(c)
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		nl := strings.IndexByte(s[i+2:], '\n')
		if end < 0 || (nl >= 0 && nl < end) {
			return "", &expandError{Line: line, Msg: "unterminated ${ (write $$ for a literal $)"}
		}
		expr := s[i+2 : i+2+end]
		name, def, hasDef := strings.Cut(expr, ":-")
		if !validEnvName(name) {
			return "", &expandError{Line: line, Msg: fmt.Sprintf("${%s}: invalid variable name %q (use ${NAME} or ${NAME:-default})", expr, name)}
		}
		var v string
		if getenv != nil {
			v = getenv(name)
		}
		if v == "" && hasDef {
			v = def
		}
		b.WriteString(v)
		i += 2 + end
	}
	return b.String(), nil
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
