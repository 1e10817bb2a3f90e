package inbox

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/fender-dev/fender/internal/config"
)

// maxKeyLen is the longest event id or resource key taken from a request.
// A longer value is ignored: the event id falls back to the body's SHA-256,
// the resource key to empty.
const maxKeyLen = 1024

// extract returns the value ref points at in h or body, or "" when ref is
// zero, the value is absent, is not a JSON string or number, is empty,
// longer than maxKeyLen, not valid UTF-8 or holds a control character.
func extract(ref config.FieldRef, h http.Header, body []byte) string {
	var v string
	switch ref.Kind {
	case config.FieldHeader:
		if vs := h[ref.Name]; len(vs) > 0 {
			v = vs[0]
		}
	case config.FieldBody:
		v, _ = lookup(body, ref.Path)
	}
	if !validKey(v) {
		return ""
	}
	return v
}

// validKey reports whether s can be stored as an event id or resource key:
// non-empty, at most maxKeyLen bytes, valid UTF-8 and free of control
// characters (PostgreSQL text refuses NUL and invalid UTF-8).
func validKey(s string) bool {
	if s == "" || len(s) > maxKeyLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			return false
		}
		if c >= utf8.RuneSelf {
			return utf8.ValidString(s[i:])
		}
	}
	return true
}

// bodyHash is the hex SHA-256 of body, the event id of last resort.
func bodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// lookup walks path (object keys, or decimal indexes into arrays) from the
// top of the JSON document body and returns the string or number found
// there: a string unescaped, a number as its literal text (never
// reformatted). It reports false for anything else: a missing key, an
// object, array, boolean or null, or malformed JSON on the way.
//
// lookup is a single forward scan that allocates only for the result (and
// for escaped keys and strings); it does not validate the parts of the
// document it skips or that follow the value. When an object repeats a key
// the first occurrence wins.
func lookup(body []byte, path []string) (string, bool) {
	s := scanner{b: body}
	for _, seg := range path {
		s.ws()
		if s.i >= len(s.b) {
			return "", false
		}
		var ok bool
		switch s.b[s.i] {
		case '{':
			ok = s.findKey(seg)
		case '[':
			ok = s.findIndex(seg)
		}
		if !ok {
			return "", false
		}
	}
	s.ws()
	return s.scalar()
}

// scanner is a position in a JSON document.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// str scans the string starting at s.i (a '"') and returns the bounds of
// its raw content and whether it holds an escape. It leaves s.i after the
// closing quote; ok is false when the string is unterminated or holds a raw
// control character.
func (s *scanner) str() (start, end int, esc, ok bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return 0, 0, false, false
	}
	s.i++
	start = s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			end = s.i
			s.i++
			return start, end, esc, true
		case c == '\\':
			esc = true
			s.i += 2
		case c < 0x20:
			return 0, 0, false, false
		default:
			s.i++
		}
	}
	return 0, 0, false, false
}

// unescape returns the content of the JSON string b[start-1:end+1].
func (s *scanner) text(start, end int, esc bool) (string, bool) {
	if !esc {
		return string(s.b[start:end]), true
	}
	var v string
	if err := json.Unmarshal(s.b[start-1:end+1], &v); err != nil {
		return "", false
	}
	return v, true
}

// findKey moves s from an object's '{' to the value of its first member
// named key.
func (s *scanner) findKey(key string) bool {
	s.i++ // '{'
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		return false
	}
	for {
		s.ws()
		start, end, esc, ok := s.str()
		if !ok {
			return false
		}
		match := false
		if esc {
			k, ok := s.text(start, end, esc)
			match = ok && k == key
		} else {
			match = string(s.b[start:end]) == key
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		s.ws()
		if match {
			return true
		}
		if !s.skip() {
			return false
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ',' {
			return false // '}' (not found) or malformed
		}
		s.i++
	}
}

// findIndex moves s from an array's '[' to its element number seg.
func (s *scanner) findIndex(seg string) bool {
	n, err := strconv.Atoi(seg)
	if err != nil || n < 0 || (len(seg) > 1 && seg[0] == '0') || seg[0] == '+' || seg[0] == '-' {
		return false
	}
	s.i++ // '['
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		return false
	}
	for k := 0; ; k++ {
		s.ws()
		if k == n {
			return s.i < len(s.b)
		}
		if !s.skip() {
			return false
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ',' {
			return false
		}
		s.i++
	}
}

// skip moves s past the value at s.i, checking only that brackets balance
// and strings terminate.
func (s *scanner) skip() bool {
	if s.i >= len(s.b) {
		return false
	}
	switch s.b[s.i] {
	case '"':
		_, _, _, ok := s.str()
		return ok
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				if _, _, _, ok := s.str(); !ok {
					return false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return true
				}
			}
			s.i++
		}
		return false
	}
	start := s.i
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return s.i > start
		}
		s.i++
	}
	return s.i > start
}

// scalar returns the string or number at s.i.
func (s *scanner) scalar() (string, bool) {
	if s.i >= len(s.b) {
		return "", false
	}
	if s.b[s.i] == '"' {
		start, end, esc, ok := s.str()
		if !ok {
			return "", false
		}
		return s.text(start, end, esc)
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if (c < '0' || c > '9') && c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E' {
			break
		}
		s.i++
	}
	if !validNumber(s.b[start:s.i]) {
		return "", false
	}
	return string(s.b[start:s.i]), true
}

// validNumber reports whether b is a JSON number (RFC 8259 §6).
func validNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i >= len(b):
		return false
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		digits()
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(b)
}
