package resilience

import (
	"testing"
	"time"
)

// FuzzParseRetryAfter: any header value parses or is refused, never
// panics, and never yields a negative wait.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", "-1", "1.5", "", " 7 ", "Wed, 21 Oct 2015 07:28:00 GMT", "99999999999999999999",
		"Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "\x00", "１２"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := ParseRetryAfter(s, now)
		if d < 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v, negative", s, d)
		}
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q) refused but returned %v", s, d)
		}
	})
}

// FuzzPercent: a percentage either parses to a number that prints back
// to itself, or is refused; never a panic.
func FuzzPercent(f *testing.F) {
	for _, s := range []string{"20%", "0.2", "12.5%", "%", "", "1e309%", "-5%", "NaN%", " 7 % "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var p Percent
		if err := p.UnmarshalText([]byte(s)); err != nil {
			return
		}
		if p != p || p > 1e300 || p < -1e300 {
			t.Fatalf("%q parsed to %v: NaN and infinities must be refused", s, p)
		}
		b, err := p.MarshalText()
		if err != nil {
			t.Fatalf("%q parsed to %v but does not print: %v", s, p, err)
		}
		var q Percent
		if err := q.UnmarshalText(b); err != nil {
			t.Fatalf("%q printed as %q, which does not parse back: %v", s, b, err)
		}
	})
}
